"""The Gangnamunni connector against the sandbox running as a real process."""
from __future__ import annotations

import logging

import pytest

from services.collector.connectors.community import CommunityAuthError
from services.collector.connectors.gangnamunni import CATEGORY_IDS, GangnamunniClient
from tests.support.community import days_before, kst_start, ms_time

TOKEN = "sandbox-token"


def client(sandbox, http, token=TOKEN, **kwargs) -> GangnamunniClient:
    return GangnamunniClient(sandbox.url, http, token=token, **kwargs)


def expected_posts(sandbox, category: str, days: int):
    anchor, posts = sandbox.dataset("gangnamunni", "posts")
    target = days_before(anchor, days)
    chosen = [p for p in posts if p["categoryId"] == CATEGORY_IDS[category]
              and ms_time(p["createTime"]) >= kst_start(target)]
    chosen.sort(key=lambda p: p["createTime"], reverse=True)
    return target, chosen


def test_posts_are_offset_paged_back_to_the_target_date(sandbox, http, pauses):
    target, expected = expected_posts(sandbox, "free_chat", 6)
    connector = client(sandbox, http, pause=pauses, with_comments=False)

    items = list(connector.collect(target, ["free_chat"]))

    assert len(expected) > 20, "the window must span several pages of 20"
    assert [i.external_id for i in items] == [str(p["id"]) for p in expected]
    assert all(i.kind == "post" and i.category == "free_chat" for i in items)
    assert items[0].author == expected[0]["writerNickName"] and items[0].text == expected[0]["contents"]
    assert items[0].created_at == ms_time(expected[0]["createTime"])
    assert connector.stats.requests == len(expected) // 20 + 1
    assert pauses.count == connector.stats.requests - 1


def test_comments_and_nested_replies_come_from_the_post_page(sandbox, http):
    target, expected = expected_posts(sandbox, "hospital_question", 2)
    items = list(client(sandbox, http).collect(target, ["hospital_question"]))

    posts = [i for i in items if i.kind == "post"]
    comments = [i for i in items if i.kind == "comment"]
    assert [p.external_id for p in posts] == [str(p["id"]) for p in expected]
    commented = [p for p in expected if p["commentCount"] > 0]
    assert commented, "the window must hold commented posts"
    # Each commented post has its comments plus one nested reply under the first one.
    assert len(comments) == sum(p["commentCount"] + 1 for p in commented)
    assert {c.raw["post_id"] for c in comments} == {p["id"] for p in commented}


def test_limit_and_save_as_reviews(sandbox, http):
    target, _ = expected_posts(sandbox, "review", 5)
    items = list(client(sandbox, http, with_comments=False).collect(
        target, ["review", "ask_doctor"], limit=3, save_as_reviews=True))

    assert [i.kind for i in items] == ["review"] * 3 + ["post"] * 3
    assert [i.category for i in items] == ["review"] * 3 + ["ask_doctor"] * 3


def test_empty_search_yields_nothing(sandbox, http):
    sandbox.faults("gangnamunni", empty=True)
    connector = client(sandbox, http)
    assert list(connector.collect(days_before(sandbox.dataset("gangnamunni", "posts")[0], 3))) == []
    assert connector.stats.requests == len(CATEGORY_IDS)


@pytest.mark.parametrize("token", ["wrong-token", "token-from-another-account"])
def test_bad_token_is_401_and_never_echoed(sandbox, http, token, caplog):
    with pytest.raises(CommunityAuthError) as refused:
        list(client(sandbox, http, token=token).collect(days_before(sandbox.dataset("gangnamunni", "posts")[0], 1)))
    assert refused.value.status == 401
    assert token not in str(refused.value) and token not in caplog.text


def test_forbidden_is_an_auth_error(sandbox, http):
    sandbox.faults("gangnamunni", fail_status=403, fail_times=1)
    with pytest.raises(CommunityAuthError) as refused:
        list(client(sandbox, http).collect(days_before(sandbox.dataset("gangnamunni", "posts")[0], 1)))
    assert refused.value.status == 403


def test_missing_token_is_refused_before_any_request():
    from services.collector.connectors.community import CommunityError
    with pytest.raises(CommunityError, match="no token"):
        GangnamunniClient("http://127.0.0.1:9", session=None, token="")


def test_429_is_retried_after_the_retry_after_delay(sandbox, http):
    target, expected = expected_posts(sandbox, "surgery_question", 1)
    sandbox.faults("gangnamunni", rate_limit=1, retry_after=1)

    items = list(client(sandbox, http, with_comments=False).collect(target, ["surgery_question"]))

    assert [i.external_id for i in items] == [str(p["id"]) for p in expected]
    served = sandbox.served("gangnamunni")
    assert served["served"]["rate_limited"] == 1 and served["waits_after_429"][0] >= 1.0


def test_malformed_post_is_skipped_and_reported(sandbox, http, caplog):
    target, expected = expected_posts(sandbox, "free_chat", 2)
    sandbox.faults("gangnamunni", malformed=True)
    connector = client(sandbox, http, with_comments=False)

    with caplog.at_level(logging.WARNING, logger="services.collector.connectors.community"):
        items = list(connector.collect(target, ["free_chat"]))

    bad_id = str(expected[1]["id"])
    assert [i.external_id for i in items] == [str(p["id"]) for p in expected if str(p["id"]) != bad_id]
    assert connector.stats.skipped == 1
    assert any(bad_id in r.getMessage() and "createTime" in r.getMessage() for r in caplog.records)
