"""The `grader` source end to end: collector API -> Redis -> worker thread -> statistics-API
sandbox (a real process) -> grader service (a real process) over HTTP."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests

from shared.timeutil import utcnow
from tests.support.auth import SERVICE_TOKEN
from tests.support.collector import API, FINAL, start, wait_status
from tests.support.grader import SANDBOX_CLIENT, SANDBOX_KEY
from tests.support.processes import flask_app, free_port

DAY = date(2024, 3, 1)


@pytest.fixture
def grader_service(live_process, migrated_database_for, tmp_path, smtp_inbox):
    """The grader service as a real process on a fresh, migrated database, e-mailing its
    reports through the local SMTP server."""
    url = migrated_database_for("grader")
    port = free_port()
    return live_process(flask_app("services.grader", port), port=port, name="grader", env={
        "GRADER_DATABASE_URL": url, "SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": tmp_path / "log",
        "VAR_DIR": tmp_path, "GRADER_SMTP_HOST": "127.0.0.1", "GRADER_SMTP_PORT": smtp_inbox.port,
        "GRADER_SMTP_SECURITY": "none", "GRADER_REPORT_RECIPIENTS": "manager@example.edu"})


@pytest.fixture
def grader_wired(app, sandbox, grader_service):
    app.config.update(GRADER_API_URL=sandbox.url, GRADER_CLIENT=SANDBOX_CLIENT, GRADER_CLIENT_KEY=SANDBOX_KEY,
                      GRADER_URL=grader_service.url, COLLECTOR_PACING_GRADER=0.0, GRADER_SINK_CHUNK=1000)
    return app


def expected(sandbox_url: str, day: date) -> dict:
    return requests.get(sandbox_url + "/_sandbox/grader/expected", params={"date": day.isoformat()}, timeout=5).json()


def logs(client, task_id: str) -> list[dict]:
    """Every log line of the task, all pages."""
    lines, page = [], 1
    while True:
        body = client.get(f"{API}/task/{task_id}/logs", query_string={"per_page": 100, "page": page}).json
        lines += body["data"]
        if len(lines) >= body["count"]:
            return lines
        page += 1


def test_a_day_is_loaded_window_by_window_and_a_repull_adds_nothing(grader_wired, client, worker, sandbox,
                                                                   grader_service, smtp_inbox):
    worker(threads=1)
    task = wait_status(client, start(client, "grader", target_date=DAY.isoformat()), FINAL, timeout=120)
    counts = expected(sandbox.url, DAY)

    assert task["status"] == "completed", task
    assert task["type"] == "grader_collect" and (task["progress"], task["total"]) == (24, 24)
    summary = task["result_summary"]
    assert (summary["received"], summary["inserted"], summary["rejected"]) == (
        counts["attempts"], counts["valid"], counts["rejected"])
    assert summary["duplicates"] == 0 and summary["reports"] == 1
    assert summary["warnings"] == counts["edge_cases"]["no_outcome_url"] + counts["edge_cases"]["extra_key"]
    assert (task["rows_received"], task["rows_written"], task["rows_rejected"]) == (
        counts["attempts"], counts["valid"], counts["rejected"])
    stats = requests.get(grader_service.url + "/stats/daily", params={"date": DAY.isoformat()}, timeout=10).json()
    assert stats["attempts"] == counts["valid"] and stats["submits"] > 0 and len(stats["by_course"]) == 5

    lines = [line["message"] for line in logs(client, task["id"])]
    assert sum(1 for m in lines if m.startswith("Download 2024-03-01") and m.endswith("started")) == 24
    finished = [m for m in lines if m.startswith("Download 2024-03-01 05:00") and "finished" in m]
    assert len(finished) == 1 and " rows in " in finished[0] and finished[0].endswith(" s")
    assert sum(1 for m in lines if m.startswith("Loading ") and m.endswith("attempts started")) == 24
    assert sum(1 for m in lines if m.startswith("Loading finished")) == 24
    rejected_lines = [line for line in logs(client, task["id"]) if line["message"].startswith("Rejected row")]
    assert rejected_lines and all(line["level"] == "WARNING" for line in rejected_lines)
    assert any("Report 2024-03-01:" in m and "Google Sheets skipped, e-mail published" in m for m in lines)
    assert len(smtp_inbox.messages) == 1 and smtp_inbox.messages[0][1] == ["manager@example.edu"]
    assert f"Grader daily report 2024-03-01: {counts['valid']} attempts".encode() in smtp_inbox.messages[0][2]
    reports = requests.get(grader_service.url + "/reports", timeout=10).json()
    assert reports["count"] == 1 and reports["data"][0]["date"] == "2024-03-01"

    again = wait_status(client, start(client, "grader", target_date=DAY.isoformat(), report=False), FINAL,
                        timeout=120)
    assert again["status"] == "completed", again
    assert (again["result_summary"]["inserted"], again["result_summary"]["duplicates"]) == (0, counts["valid"])
    assert requests.get(grader_service.url + "/stats/daily", params={"date": DAY.isoformat()},
                        timeout=10).json()["attempts"] == counts["valid"]


def test_the_scheduled_run_continues_from_the_watermark(grader_wired, client, worker, grader_service):
    worker(threads=1)
    today = utcnow().date()
    yesterday_20h = f"{today - timedelta(days=1)}T20:00:00+00:00"
    requests.put(grader_service.url + "/watermarks/grader-statistics", json={"position": yesterday_20h},
                 headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=5).raise_for_status()

    first = wait_status(client, start(client, "grader"), FINAL, timeout=120)
    assert first["status"] == "completed", first
    assert first["result_summary"]["start"] == yesterday_20h
    assert first["result_summary"]["end"] == f"{today}T00:00:00+00:00"
    assert first["result_summary"]["windows"] == 4 and first["result_summary"]["scheduled"] is True
    assert first["result_summary"]["watermark"] == f"{today}T00:00:00+00:00"
    assert first["result_summary"]["reports"] == 1

    second = wait_status(client, start(client, "grader"), FINAL, timeout=120)
    assert second["status"] == "completed", second
    assert (second["result_summary"]["windows"], second["result_summary"]["received"]) == (0, 0)
    assert second["result_summary"]["reports"] == 1  # yesterday's report still goes out
    reports = requests.get(grader_service.url + "/reports", timeout=10).json()["data"]
    assert [r["date"] for r in reports] == [str(today - timedelta(days=1))] * 2
    assert any("already at today" in line["message"] for line in logs(client, second["id"]))


def test_a_failing_window_is_pulled_again_alone(grader_wired, client, worker, sandbox):
    worker(threads=1)
    sandbox.grader_mode(fail_status=503, fail_times=1)
    task = wait_status(client, start(client, "grader", start="2024-03-01T00:00:00Z", end="2024-03-01T03:00:00Z"),
                       FINAL, timeout=60)
    assert task["status"] == "completed", task
    assert task["result_summary"]["windows"] == 3
    seen = requests.get(sandbox.url + "/_sandbox/grader/requests", timeout=5).json()
    assert [r["start"][:13] for r in seen] == ["2024-02-29 23", "2024-02-29 23", "2024-03-01 00", "2024-03-01 01"]
    errors = [line for line in logs(client, task["id"]) if line["level"] == "ERROR"]
    assert len(errors) == 1 and "HTTP 503" in errors[0]["message"] and "try 1/3" in errors[0]["message"]


@pytest.mark.parametrize("mode, error", [
    ({"fail_status": 500}, "HTTP 500"),
    ({"body_mode": "invalid_json"}, "not JSON"),
    ({"body_mode": "object"}, "expected a JSON array"),
])
def test_an_api_that_keeps_failing_fails_the_task(grader_wired, client, worker, sandbox, mode, error):
    grader_wired.config["GRADER_WINDOW_ATTEMPTS"] = 2
    worker(threads=1)
    sandbox.grader_mode(**mode)
    task_id = start(client, "grader", target_date=DAY.isoformat())
    try:
        task = wait_status(client, task_id, FINAL, timeout=120)
    except AssertionError:  # say where it stood (seen once on a machine at load 9, not reproduced)
        print("task never finished:", client.get(f"{API}/task/{task_id}").json, logs(client, task_id))
        raise
    assert task["status"] == "failed", task
    assert error in task["error"], task["error"]
    failures = [line for line in logs(client, task["id"]) if line["level"] == "ERROR" and "failed (" in line["message"]]
    assert len(failures) == 2 and "try 2/2" in failures[1]["message"]
    assert task["rows_written"] == 0


def test_wrong_client_key_fails_at_once_and_stays_secret(grader_wired, client, worker):
    worker(threads=1)
    task_id = start(client, "grader", target_date=DAY.isoformat(), client_key="not-the-right-key")
    task = wait_status(client, task_id, FINAL, timeout=60)
    assert task["status"] == "failed" and "HTTP 403" in task["error"]
    lines = logs(client, task_id)
    assert sum(1 for line in lines if line["level"] == "ERROR" and "failed (HTTP 403" in line["message"]) == 1
    body = client.get(f"{API}/task/{task_id}").get_data(as_text=True) + str(lines)
    assert "not-the-right-key" not in body


@pytest.mark.parametrize("body, field", [
    ({"start": "2024-03-01T00:00:00Z"}, "start"),
    ({"start": "2024-03-02T00:00:00Z", "end": "2024-03-01T00:00:00Z"}, "start"),
    ({"target_date": "2024-03-01", "start": "2024-03-01T00:00:00Z", "end": "2024-03-02T00:00:00Z"}, "target_date"),
    ({"target_date": "March"}, "target_date"),
    ({"window_minutes": 0}, "window_minutes"),
])
def test_bad_start_bodies_are_422(grader_wired, client, body, field):
    response = client.post(f"{API}/grader/start", json=body)
    assert response.status_code == 422 and field in str(response.json["errors"])
