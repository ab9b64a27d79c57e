"""The Naver Cafe connector against the sandbox running as a real process."""
from __future__ import annotations

import logging

import pytest

from services.collector.connectors.community import CommunityAuthError
from services.collector.connectors.naver import NaverCafeClient, html_to_text
from tests.support.community import days_before, kst_start, ms_time

PUBLIC_CAFE, MEMBERS_CAFE = 10001, 20002
COOKIES = "NID_AUT=sandbox-aut; NID_SES=sandbox-ses"


def client(sandbox, http, **kwargs) -> NaverCafeClient:
    return NaverCafeClient(sandbox.url, sandbox.url, http, **kwargs)


def expected_articles(sandbox, cafe_id: int, days: int, menu_id: int | None = None):
    anchor, articles = sandbox.dataset("naver", str(cafe_id))
    target = days_before(anchor, days)
    return target, [a for a in articles if ms_time(a["writeDateTimestamp"]) >= kst_start(target)
                    and (menu_id is None or a["menuId"] == menu_id)]


def test_articles_are_paged_back_to_the_target_date_with_bodies_and_comments(sandbox, http, pauses):
    target, expected = expected_articles(sandbox, PUBLIC_CAFE, 2)
    connector = client(sandbox, http, cookies=COOKIES, pause=pauses, per_page=10)

    items = list(connector.collect(PUBLIC_CAFE, target))

    posts = [i for i in items if i.kind == "post"]
    assert len(expected) > 10, "the window must span several pages"
    assert [p.external_id for p in posts] == [f"{PUBLIC_CAFE}:{a['articleId']}" for a in expected]
    assert all(p.text.startswith(a["subject"] + "\n") and "<" not in p.text
               for p, a in zip(posts, expected, strict=True))
    comments = [i for i in items if i.kind == "comment"]
    assert len(comments) == sum(a["commentCount"] for a in expected)
    assert all(c.external_id.startswith(f"{PUBLIC_CAFE}:") for c in comments)
    assert pauses.count == connector.stats.requests - 1


def test_menu_filter_and_limit(sandbox, http):
    target, expected = expected_articles(sandbox, PUBLIC_CAFE, 5, menu_id=289)
    items = list(client(sandbox, http, cookies=COOKIES, with_details=False).collect(
        PUBLIC_CAFE, target, menu_ids=[289], limit=4))
    assert [i.external_id for i in items] == [f"{PUBLIC_CAFE}:{a['articleId']}" for a in expected[:4]]
    assert all(i.raw["menuId"] == 289 and i.category == "menu 289" for i in items)


def test_member_only_article_without_cookies_is_kept_without_its_body(sandbox, http, caplog):
    target, expected = expected_articles(sandbox, PUBLIC_CAFE, 1)
    members_only = [a for a in expected if a["membersOnly"]]
    assert members_only, "the window must hold a member-only article"
    warnings = []
    items = list(client(sandbox, http, warn=warnings.append).collect(PUBLIC_CAFE, target))

    by_id = {i.external_id: i for i in items if i.kind == "post"}
    for article in members_only:
        item = by_id[f"{PUBLIC_CAFE}:{article['articleId']}"]
        assert item.text == article["subject"]
    assert len(warnings) == len(members_only) and all("member-only" in w for w in warnings)


def test_members_only_cafe_without_or_with_wrong_cookies_is_401(sandbox, http, caplog):
    target, _ = expected_articles(sandbox, MEMBERS_CAFE, 1)
    wrong = "NID_AUT=stolen-looking-value; NID_SES=another-secret-value"
    for cookies in ("", wrong):
        with pytest.raises(CommunityAuthError) as refused:
            list(client(sandbox, http, cookies=cookies).collect(MEMBERS_CAFE, target))
        assert refused.value.status == 401 and "0004" in str(refused.value)
    assert "stolen-looking-value" not in caplog.text and "another-secret-value" not in caplog.text
    assert list(client(sandbox, http, cookies=COOKIES, with_details=False).collect(MEMBERS_CAFE, target))


def test_empty_board_yields_nothing(sandbox, http):
    sandbox.faults("naver", empty=True)
    connector = client(sandbox, http)
    assert list(connector.collect(PUBLIC_CAFE, days_before(sandbox.dataset("naver", "10001")[0], 2))) == []
    assert connector.stats.requests == 1


def test_429_is_retried_after_the_retry_after_delay(sandbox, http):
    target, expected = expected_articles(sandbox, PUBLIC_CAFE, 1)
    sandbox.faults("naver", rate_limit=2, retry_after=1)
    items = list(client(sandbox, http, cookies=COOKIES).collect(PUBLIC_CAFE, target))
    assert [i.external_id for i in items if i.kind == "post"] == [f"{PUBLIC_CAFE}:{a['articleId']}" for a in expected]
    served = sandbox.served("naver")
    assert served["served"]["rate_limited"] == 2 and min(served["waits_after_429"]) >= 1.0


def test_malformed_article_is_skipped_and_reported(sandbox, http, caplog):
    target, expected = expected_articles(sandbox, PUBLIC_CAFE, 1)
    sandbox.faults("naver", malformed=True)
    connector = client(sandbox, http, cookies=COOKIES, with_details=False)
    with caplog.at_level(logging.WARNING, logger="services.collector.connectors.community"):
        items = list(connector.collect(PUBLIC_CAFE, target))
    bad = expected[1]["articleId"]
    assert [i.raw["articleId"] for i in items] == [a["articleId"] for a in expected if a["articleId"] != bad]
    assert connector.stats.skipped == 1 and str(bad) in caplog.text


def test_menus_drop_profile_link_and_folder_entries(sandbox, http):
    menus = client(sandbox, http).menus(PUBLIC_CAFE)
    assert [m["id"] for m in menus] == [289, 288, 290]
    assert menus[0]["name"] == "수술 & 시술 후기"


def test_html_to_text_keeps_paragraphs():
    assert html_to_text('<div><p><span>첫 줄</span></p><p>둘째 &amp; 줄</p><img src="x"/></div>') == "첫 줄\n둘째 & 줄"
