"""The async collection guide's start bodies as written: `"limit": 0` is no limit, the start
answer names the task id, and progress counts records with a total that says what it is."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.collector.connectors.community import CollectedItem
from services.collector.sources.community import STORE_EVERY, RecordProgress
from tests.support.collector import API, wait_status
from tests.support.community import GANGNAMUNNI_TOKEN, SECRET_SANDBOX_ENV


@pytest.fixture
def sandbox_env() -> dict:
    return SECRET_SANDBOX_ENV


def week_ago() -> str:
    return (date.today() - timedelta(days=7)).isoformat()


def test_the_guides_gangnamunni_body_collects_without_a_limit(community_app, client, worker):
    worker()
    body = {"target_date": week_ago(), "categories": ["hospital_question", "surgery_question", "free_chat",
                                                       "review", "ask_doctor"],
            "save_as_reviews": False, "limit": 0, "token": GANGNAMUNNI_TOKEN}
    started = client.post(f"{API}/gangnamunni/start", json=body)
    assert started.status_code == 202, started.json
    task_id = started.json["task_id"]
    assert started.json["message"] == f"gangnamunni data collection started. Task ID: {task_id}"
    task = wait_status(client, task_id, "completed")
    summary = task["result_summary"]
    # 50 posts per category, 5 h apart: a week back is ~34 of each, more than any limit of 1..33.
    assert all(summary[f"category_{name}_count"] >= 30 for name in body["categories"])
    assert task["progress"] == task["total"] == summary["total_posts"] > len(body["categories"])
    assert task["current_step"] == "done"


def item(kind="post"):
    return CollectedItem(source="babitalk", kind=kind, external_id="x", author=None, text="", created_at=None)


def test_progress_moves_inside_a_category_and_says_the_total_is_estimated():
    progress = RecordProgress(["reviews", "talks", "event_ask_memos"], limit=None)
    progress.start("reviews")
    seen = []
    for _ in range(3):
        for _ in range(STORE_EVERY):
            progress.add(item())
        progress.add(item("comment"))                       # comments ride along, uncounted
        seen.append((progress.done, progress.total))
    assert [done for done, _ in seen] == [20, 40, 60]
    assert all(done < total for done, total in seen)
    assert progress.step() == f"reviews: collecting (60/{seen[-1][1]} records, total estimated)"
    progress.start("talks")                                 # reviews ended at 60: 60 per category expected
    assert (progress.done, progress.total) == (60, 180)


def test_with_a_limit_the_total_is_an_upper_bound_that_tightens():
    progress = RecordProgress(["reviews", "talks"], limit=24)
    progress.start("reviews")
    assert progress.total == 48
    for _ in range(10):
        progress.add(item())
    progress.start("talks")                                 # reviews ended short, at 10
    assert (progress.done, progress.total) == (10, 34)
    assert progress.step().endswith("(10/34 records, total at most, limit 24 per category)")
