"""A trials collection end to end: API -> Redis -> worker thread -> odcloud sandbox -> trials service."""

from tests.support.brokers import over_every_broker
from tests.support.collector import start, trials_count, wait_status


@over_every_broker
def test_trials_collection_fills_the_trials_service(wired, client, worker, trials_service):
    worker(threads=2)
    task_id = start(client, per_page=40)

    task = wait_status(client, task_id, {"completed", "failed", "cancelled"})

    assert task["status"] == "completed", task
    assert task["type"] == "trials_collect"
    assert (task["progress"], task["total"]) == (4, 4)
    assert task["result_summary"] == {"snapshot_id": f"collector-{task_id}", "received": 145, "created": 145,
                                      "updated": 0, "unchanged": 0, "rejected": 0, "withdrawn": 0}
    assert (task["rows_received"], task["rows_written"], task["rows_rejected"]) == (145, 145, 0)
    assert task["attempt"] == 1 and task["error"] is None
    assert task["started_at"] and task["completed_at"] and task["run_time"] >= 0
    assert task["peak_memory"] > 0
    assert task["logs"][-1].endswith("] Completed")
    assert any("Page 4/4: 25 records" in line for line in task["logs"])
    assert all(line.startswith("[") and line[9:11] == "] " for line in task["logs"])
    assert trials_count(trials_service.url) == 145

    # A second run is one more snapshot: nothing new, nothing withdrawn.
    again = wait_status(client, start(client, per_page=100), {"completed", "failed"})
    assert again["result_summary"]["unchanged"] == 145 and again["result_summary"]["created"] == 0
    listed = client.get("/api/v1/async-collection/tasks").json
    assert [t["id"] for t in listed["data"]] == [again["id"], task_id]
    summary = client.get("/api/v1/async-collection/status/summary").json
    assert (summary["total_tasks"], summary["completed"], summary["running"]) == (2, 2, 0)
