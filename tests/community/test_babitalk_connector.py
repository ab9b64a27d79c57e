"""The Babitalk connector against the sandbox running as a real process."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from services.collector.connectors.babitalk import BabitalkClient, parse_relative
from services.collector.connectors.community import CommunityAuthError
from tests.support.community import days_before, kst_start, kst_text_time


def client(sandbox, http, pauses=None, **kwargs) -> BabitalkClient:
    return BabitalkClient(sandbox.url, http, pause=pauses, **kwargs)


def expected_reviews(sandbox, days: int) -> tuple:
    anchor, reviews = sandbox.dataset("babitalk", "reviews")
    target = days_before(anchor, days)
    return target, [str(r["id"]) for r in reviews if kst_text_time(r["created_at"]) >= kst_start(target)]


def test_reviews_are_paged_back_to_the_target_date(sandbox, http, pauses):
    target, expected = expected_reviews(sandbox, 3)
    connector = client(sandbox, http, pauses)

    items = list(connector.collect(target, ["reviews"]))

    assert len(expected) > 24, "the window must span several pages of 24"
    assert [i.external_id for i in items] == expected
    assert {i.kind for i in items} == {"review"} and all(i.category == "reviews" for i in items)
    assert all(i.created_at.tzinfo is not None and i.created_at >= kst_start(target) for i in items)
    first = items[0]
    assert first.source == "babitalk" and first.text and first.author and first.url.endswith(first.external_id)
    assert first.raw["id"] == int(first.external_id) and "rating" in first.metrics
    # One more page than the kept items fill: the page holding the first older review.
    assert connector.stats.requests == len(expected) // 24 + 1
    assert pauses.count == connector.stats.requests - 1


def test_limit_caps_each_category(sandbox, http):
    anchor, _ = sandbox.dataset("babitalk", "reviews")
    items = list(client(sandbox, http).collect(days_before(anchor, 5), ["reviews", "talks"], limit=5))

    reviews = [i for i in items if i.kind == "review"]
    talks = [i for i in items if i.kind == "post"]
    assert len(reviews) == 5 and len(talks) == 5
    comments = [i for i in items if i.kind == "comment"]
    assert {c.raw["talk_id"] for c in comments} <= {int(t.external_id) for t in talks}
    assert len(comments) == sum(t.metrics["comments"] for t in talks) - 1   # one comment is deleted (is_del)


def test_talk_comments_span_two_pages(sandbox, http):
    anchor, talks = sandbox.dataset("babitalk", "talks")
    long_thread = next(t for t in talks if t["total_comment"] > 50)
    items = list(client(sandbox, http).collect(days_before(anchor, 1), ["talks"]))

    thread = [i for i in items if i.kind == "comment" and i.raw["talk_id"] == long_thread["id"]]
    assert len(thread) == long_thread["total_comment"] - 1      # the deleted one is left out
    assert len({c.external_id for c in thread}) == len(thread)


def test_memo_relative_times_are_resolved(sandbox, http):
    anchor, memos = sandbox.dataset("babitalk", "event_ask_memos")
    items = list(client(sandbox, http).collect(days_before(anchor, 30), ["event_ask_memos"]))

    assert sorted(i.external_id for i in items) == sorted(str(m["id"]) for m in memos)
    true_times = {str(m["id"]): kst_text_time(m["created_at"]) for m in memos}
    for item in items:
        # "3일전" means 3 to 4 days ago: the resolved time is never earlier, and less than a day later.
        assert timedelta(0) <= item.created_at - true_times[item.external_id] < timedelta(days=1, minutes=1)


def test_parse_relative_units():
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert parse_relative("20분전", now) == now - timedelta(minutes=20)
    assert parse_relative("17시간전", now) == now - timedelta(hours=17)
    assert parse_relative("3일 전", now) == now - timedelta(days=3)
    assert parse_relative("방금전", now) == now


def test_empty_listing_yields_nothing(sandbox, http):
    sandbox.faults("babitalk", empty=True)
    connector = client(sandbox, http)
    assert list(connector.collect(days_before(datetime.now(UTC), 3))) == []
    assert connector.stats.requests == 1 + 1 + 7            # one per listing: reviews, talks, 7 memo categories


@pytest.mark.parametrize("status", [401, 403])
def test_refusal_ends_the_pull_with_an_auth_error(sandbox, http, status):
    sandbox.faults("babitalk", fail_status=status, fail_times=1)
    with pytest.raises(CommunityAuthError) as refused:
        list(client(sandbox, http).collect(days_before(datetime.now(UTC), 3), ["reviews"]))
    assert refused.value.status == status


def test_429_is_retried_after_the_retry_after_delay(sandbox, http):
    target, expected = expected_reviews(sandbox, 1)
    sandbox.faults("babitalk", rate_limit=2, retry_after=1)

    items = list(client(sandbox, http).collect(target, ["reviews"]))

    assert [i.external_id for i in items] == expected
    served = sandbox.served("babitalk")
    assert served["served"]["rate_limited"] == 2
    assert len(served["waits_after_429"]) == 2 and min(served["waits_after_429"]) >= 1.0


def test_malformed_record_is_skipped_and_reported(sandbox, http, caplog):
    target, expected = expected_reviews(sandbox, 2)
    sandbox.faults("babitalk", malformed=True)
    warnings = []
    connector = client(sandbox, http, warn=warnings.append)

    with caplog.at_level(logging.WARNING, logger="services.collector.connectors.community"):
        items = list(connector.collect(target, ["reviews"]))

    bad_id = expected[1]
    assert [i.external_id for i in items] == [e for e in expected if e != bad_id]
    assert connector.stats.skipped == 1
    assert len(warnings) == 1 and bad_id in warnings[0]
    assert any(bad_id in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_comments_of_a_vanished_talk_are_skipped_not_fatal(sandbox, http):
    anchor, _ = sandbox.dataset("babitalk", "talks")
    target = days_before(anchor, 2)
    sandbox.faults("babitalk", fail_status=404, fail_times=1, fail_path="/comments")
    warnings = []
    items = list(client(sandbox, http, warn=warnings.append).collect(target, ["talks"]))

    posts = [i for i in items if i.kind == "post"]
    commented = [p for p in posts if p.metrics["comments"] > 0]
    first_with_comments = commented[0].external_id
    assert len(warnings) == 1 and first_with_comments in warnings[0] and "404" in warnings[0]
    threads = {c.raw["talk_id"] for c in items if c.kind == "comment"}
    assert threads == {int(p.external_id) for p in commented[1:]}
    assert sandbox.served("babitalk")["served"]["failed"] == 1
