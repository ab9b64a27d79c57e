"""Countdown, queue routing, and the cap of 10 tasks running at once."""
from datetime import datetime, timedelta

from services.collector.runtime import runtime
from tests.support.brokers import over_every_broker
from tests.support.collector import start, task_of, wait_status
from tests.support.waiting import wait_for

API = "/api/v1/async-collection"


@over_every_broker
def test_countdown_delays_the_start(wired, client, worker):
    worker(threads=1)
    task_id = start(client, countdown=2, per_page=100)
    pending = task_of(client, task_id)
    assert pending["status"] == "pending"
    created = datetime.fromisoformat(pending["created_at"])
    assert datetime.fromisoformat(pending["not_before"]) == created + timedelta(seconds=2)

    task = wait_status(client, task_id, {"completed", "failed"})
    assert task["status"] == "completed"
    assert datetime.fromisoformat(task["started_at"]) >= created + timedelta(seconds=2)


def test_queue_routing(wired, client, worker):
    worker(threads=1, queues={"bulk"})
    on_default = start(client, per_page=100)
    on_bulk = start(client, per_page=100, queue="bulk")

    bulk = wait_status(client, on_bulk, {"completed", "failed"})
    assert (bulk["status"], bulk["queue"]) == ("completed", "bulk")
    default = task_of(client, on_default)
    assert (default["status"], default["queue"]) == ("pending", "default")  # nobody consumes "default" yet

    worker(threads=1, queues={"default"})
    assert wait_status(client, on_default, {"completed", "failed"})["status"] == "completed"


@over_every_broker
def test_twelve_tasks_never_more_than_ten_running(wired, client, worker):
    wired.config["COLLECTOR_PACING_TRIALS"] = 0.1  # shared by the twelve: they overlap for seconds
    worker(threads=12)  # more threads than the cap: the Redis lease set is what limits
    # Load the trials once first: concurrent first inserts of one trial id are refused (409) by the
    # trials service on PostgreSQL, which is the trials service's business, not this test's.
    assert wait_status(client, start(client, per_page=100), {"completed", "failed"})["status"] == "completed"
    # Twelve overlapping full snapshots of one dataset: the trials service lets each complete
    # without withdrawing what the others have seen.
    ids = [start(client, per_page=30) for _ in range(12)]
    seen_running, saw_full_with_waiting = 0, False

    def all_done():
        nonlocal seen_running, saw_full_with_waiting
        summary = client.get(f"{API}/status/summary").json
        with wired.app_context():
            holders = runtime().limiter.holders()
        seen_running = max(seen_running, summary["running"], holders)
        saw_full_with_waiting |= summary["running"] == 10 and summary["pending"] > 0
        return summary["completed"] + summary["failed"] == 13

    wait_for(all_done, timeout=120, interval=0.02, what="12 tasks to finish")
    assert seen_running <= 10
    assert saw_full_with_waiting  # the cap was reached while tasks waited as pending
    assert {task_of(client, task_id)["status"] for task_id in ids} == {"completed"}
    assert {task_of(client, task_id)["result_summary"]["withdrawn"] for task_id in ids} == {0}
