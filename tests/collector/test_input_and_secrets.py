"""Bad input gets a clear 4xx; idempotency keys; secrets never stored in clear, returned or logged."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import select

from services.collector.models import Task, TaskLog, db
from tests.support.collector import start, task_of, wait_status
from tests.support.waiting import wait_for

API = "/api/v1/async-collection"


@pytest.mark.parametrize(("body", "field"), [
    ({"per_page": 0}, "per_page"),
    ({"per_page": "many"}, "per_page"),
    ({"force": "perhaps"}, "force"),
    ({"surprise": 1}, "surprise"),
    ({"countdown": -1}, "countdown"),
    ({"countdown": 8 * 24 * 3600}, "countdown"),
    ({"queue": "nowhere"}, "queue"),
    ({"callback_url": "ftp://example.test/x"}, "callback_url"),
    ({"callback_url": "not a url"}, "callback_url"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"idempotency_key": "k" * 201}, "idempotency_key"),
    ({"idempotency_key": "nightly\x00"}, "idempotency_key"),
])
def test_bad_start_params_are_422_naming_the_field(client, body, field):
    response = client.post(f"{API}/trials/start", json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert field in response.json["message"]
    assert client.get(f"{API}/tasks").json["count"] == 0


def test_other_bad_requests(client, collector_key):
    assert client.post(f"{API}/nosuch/start", json={}).status_code == 404
    assert "trials" in client.post(f"{API}/nosuch/start", json={}).json["message"]
    not_object = client.post(f"{API}/trials/start", json=[1, 2])
    assert not_object.status_code == 422 and not_object.json["message"]
    broken = client.post(f"{API}/trials/start", data="{nope", content_type="application/json")
    assert broken.status_code == 422
    assert client.get(f"{API}/task/not-a-uuid").status_code == 404
    assert client.get(f"{API}/task/6f1c1d8e-0000-4000-8000-000000000000").status_code == 404
    assert client.delete(f"{API}/task/6f1c1d8e-0000-4000-8000-000000000000").status_code == 404
    assert client.get(f"{API}/task/6f1c1d8e-0000-4000-8000-000000000000/logs").status_code == 404
    assert client.get(f"{API}/tasks?status=sleeping").status_code == 422
    assert client.get(f"{API}/tasks?per_page=0").status_code == 422
    assert client.get(f"{API}/tasks?page=2").status_code == 404
    # Cleanup is an admin's (loopback is only an operator, access.py).
    assert client.post(f"{API}/cleanup?max_age_hours=-1", headers=collector_key("admin")).status_code == 422


def test_a_nul_character_is_bad_input_not_a_server_error(client):
    """PostgreSQL text cannot hold NUL: it was a 500 there (a DataError) for these three; sent by any fuzzer."""
    start(client, countdown=600, idempotency_key="nightly-2026-01-01")
    nul_source = client.get(f"{API}/tasks?source=trials%00")
    assert nul_source.status_code == 422 and "source" in nul_source.json["errors"]["query"]
    assert client.get(f"{API}/dump/%00").status_code == 404
    assert client.get(f"{API}/dump/not-a-uuid").status_code == 404
    assert client.post(f"{API}/trials/start", json={"idempotency_key": "nightly-2026-01-01\x00"}).status_code == 422


def test_an_empty_body_starts_with_the_defaults(client):
    response = client.post(f"{API}/trials/start")
    assert response.status_code == 202
    task = task_of(client, response.json["task_id"])
    assert (task["status"], task["queue"], task["params"]) == ("pending", "default", {})


def test_task_list_filters_and_pages(client):
    ids = [start(client, countdown=600) for _ in range(3)]
    client.delete(f"{API}/task/{ids[0]}")
    page = client.get(f"{API}/tasks?per_page=2").json
    assert page["count"] == 3 and [t["id"] for t in page["data"]] == ids[:0:-1]
    assert client.get(f"{API}/tasks?status=cancelled").json["count"] == 1
    assert client.get(f"{API}/tasks?status=cancelled&status=pending").json["count"] == 3
    assert client.get(f"{API}/tasks?status=cancelled,pending&source=trials").json["count"] == 3
    assert client.get(f"{API}/tasks?source=babitalk").json["count"] == 0
    logs = client.get(f"{API}/task/{ids[0]}/logs?per_page=1")
    assert logs.json["count"] == 2 and "X-Pagination" in logs.headers


def test_idempotency_key(client):
    body = {"countdown": 600, "idempotency_key": "nightly-2026-01-01"}
    first = client.post(f"{API}/trials/start", json=body)
    again = client.post(f"{API}/trials/start", json=body)
    assert first.status_code == again.status_code == 202
    assert first.json["task_id"] == again.json["task_id"]
    other = client.post(f"{API}/trials/start", json={**body, "per_page": 10})
    assert other.status_code == 409
    assert first.json["task_id"] in other.json["message"]
    assert client.get(f"{API}/tasks").json["count"] == 1


def test_secret_params_are_sealed_redacted_and_still_used(wired, client, worker):
    worker(threads=1)
    task_id = start(client, service_key="sandbox-key", per_page=100)
    task = wait_status(client, task_id, {"completed", "failed"})
    assert task["status"] == "completed"  # the key reached the worker
    assert task["params"]["service_key"] == "***"
    with wired.app_context():
        row = db.session.get(Task, task_id)
        stored = json.dumps(row.params) + (row.secrets_sealed or "") + json.dumps(row.result_summary)
        lines = " ".join(db.session.scalars(select(TaskLog.message)).all())
    assert "sandbox-key" not in stored and "sandbox-key" not in lines


def test_a_wrong_secret_fails_without_showing_it(wired, client, worker, tmp_path):
    worker(threads=1)
    secret = "my-very-private-key-123"
    task = wait_status(client, start(client, service_key=secret), {"completed", "failed"})
    assert task["status"] == "failed" and "code -4" in task["error"]
    everything = json.dumps(task) + json.dumps(client.get(f"{API}/task/{task['id']}/logs?per_page=100").json)
    assert secret not in everything
    service_log = "".join(p.read_text() for p in (tmp_path / "log").glob("*.log"))
    assert "code -4" in service_log and secret not in service_log


class Receiver(BaseHTTPRequestHandler):
    """A client's callback endpoint: answers 500 to the first POST, then 200."""

    received: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        self.send_response(500 if len(type(self).received) == 1 else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_callback_is_posted_with_retries(wired, client, worker):
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wired.config.update(COLLECTOR_CALLBACK_BACKOFF_MS=50)
    try:
        worker(threads=2)
        url = f"http://127.0.0.1:{server.server_port}/done"
        task_id = start(client, per_page=100, callback_url=url)
        wait_for(lambda: len(Receiver.received) >= 2, what="the callback and its retry")
    finally:
        server.shutdown()
        server.server_close()
    body = Receiver.received[-1]
    assert body["task_id"] == task_id and body["status"] == "success" and body["task_status"] == "completed"
    assert body["result_summary"]["created"] == 145 and body["platform"] == "trials"
    lines = client.get(f"{API}/task/{task_id}/logs?per_page=100").json["data"]
    callbacks = [line["message"].split(": ")[-1] for line in lines if "Callback" in line["message"]]
    assert callbacks == ["HTTP 500", "HTTP 200"]
