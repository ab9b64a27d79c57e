"""Cancel while pending, cancel while running, an upstream failure."""
import requests

from tests.support.brokers import over_every_broker
from tests.support.collector import start, task_of, trials_count, wait_status
from tests.support.waiting import wait_for

API = "/api/v1/async-collection"


@over_every_broker
def test_cancel_while_pending_means_it_never_runs(wired, client, worker):
    task_id = start(client, countdown=30)
    response = client.delete(f"{API}/task/{task_id}")
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert client.delete(f"{API}/task/{task_id}").status_code == 409

    worker(threads=2)
    done = wait_status(client, start(client, per_page=100), "completed")  # the worker is consuming
    cancelled = task_of(client, task_id)
    assert cancelled["status"] == "cancelled"
    assert (cancelled["started_at"], cancelled["attempt"], cancelled["progress"]) == (None, 0, 0)
    assert any("Cancelled before it started" in line for line in cancelled["logs"])
    assert done["status"] == "completed"


@over_every_broker
def test_cancel_while_running_stops_at_the_next_checkpoint(wired, client, worker, trials_service):
    wired.config["COLLECTOR_PACING_TRIALS"] = 60.0  # it waits a minute after each page unless cancelled
    worker(threads=2)
    task_id = start(client, per_page=20)
    wait_for(lambda: task_of(client, task_id)["progress"] >= 1, what="the first page")

    response = client.delete(f"{API}/task/{task_id}")
    assert response.status_code == 200
    assert response.json["status"] in ("cancelling", "cancelled")
    task = wait_status(client, task_id, {"cancelled", "completed", "failed"})

    assert task["status"] == "cancelled"
    assert (task["progress"], task["total"]) == (1, 8)
    assert task["rows_received"] == 20
    assert trials_count(trials_service.url) == 20  # the snapshot was not completed: nothing withdrawn either
    lines = "\n".join(task["logs"])
    assert "Cancel requested" in lines and lines.endswith("] Cancelled")
    assert client.delete(f"{API}/task/{task_id}").status_code == 409
    assert task_of(client, task_id)["status"] == "cancelled"


def test_upstream_failure_ends_failed_with_the_error_and_a_log_line(wired, client, worker, sandbox, trials_service):
    requests.post(sandbox.url + "/_sandbox/odcloud/mode", json={"quota_exceeded": True}, timeout=5)
    worker(threads=1)
    task = wait_status(client, start(client), {"completed", "failed"})

    assert task["status"] == "failed"
    assert "code -10" in task["error"]
    assert any("Failed: " in line and "code -10" in line for line in task["logs"])
    assert task["completed_at"] is not None
    assert trials_count(trials_service.url) == 0


def test_a_sink_refusal_fails_the_task(wired, client, worker):
    wired.config["SERVICE_TOKEN"] = "not-the-trials-token"
    worker(threads=1)
    task = wait_status(client, start(client), {"completed", "failed"})
    assert task["status"] == "failed"
    assert "PUT /trials/batch answered HTTP 403" in task["error"]
    assert "not-the-trials-token" not in str(task)
