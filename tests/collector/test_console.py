"""The console's pages and fragments through the test client (the browser test drives them in Chromium):
forms generated from the schemas, posted forms read back into the API's bodies, the schema's errors
next to their fields, filters, the pause flag the scheduler honours, queues and the cap from Redis."""
from __future__ import annotations

import re

from services.collector.runtime import runtime
from services.collector.scheduler import build_scheduler, fire_source
from tests.support.collector import start, task_of

DAY = "2026-05-01"


def token(client) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def post_form(client, source: str, data: dict):
    return client.post(f"/start/{source}", data={"csrf_token": token(client), **data}, headers={"HX-Request": "true"})


def started_id(response) -> str:
    assert response.status_code == 204, response.get_data(as_text=True)
    return response.headers["HX-Redirect"].rsplit("/", 1)[1]


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    return found.group(1) if found else ""


def test_the_forms_have_widgets_from_the_schemas(client):
    html = client.get("/start/label_table").get_data(as_text=True)
    assert 'id="label_table-start" name="start" type="datetime-local"' in html
    assert 'name="input.database_url" type="password"' in html          # load_only: a secret's widget
    assert '<fieldset class="nested wide" id="label_table-output">' in html
    assert re.search(r'id="label_table-production-per" name="production.per">\s*<option selected>row</option>', html)
    assert 'hx-post="/console/rules-check"' in html
    community = client.get("/start/babitalk").get_data(as_text=True)
    assert 'name="target_date" type="date"' in community
    assert re.search(r'<select id="babitalk-categories" name="categories" multiple', community)
    assert re.search(r'<select id="babitalk-queue" name="queue">\s*<option selected>default</option>\s*<option ?>bulk',
                     community)
    grader = client.get("/start/grader").get_data(as_text=True)
    assert re.search(r'<select id="grader-report" name="report">\s*<option value="">default</option>', grader)
    assert 'name="window_minutes" type="number"' in grader and 'min="1"' in grader and 'max="1440"' in grader


def test_the_label_table_form_starts_a_task_with_its_objects(app, client, tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir(exist_ok=True)
    app.config["COLLECTOR_DUMP_SQLITE_DIR"] = str(folder)
    task_id = started_id(post_form(client, "label_table", {
        "input.database_url": f"sqlite:///{folder / 'posts.sqlite3'}", "input.table": "posts",
        "input.text_column": "body", "input.id_column": "id", "input.time_column": "at",
        "start": f"{DAY}T00:00", "end": f"{DAY}T12:00", "output.table": "labeled", "production.per": "row",
        "rules": '{"model": "keyword", "labels": {"price": ["가격"]}}', "countdown": "3600", "queue": "bulk"}))
    task = task_of(client, task_id)
    assert task["status"] == "pending" and task["queue"] == "bulk"
    assert task["params"]["input"]["table"] == "posts" and task["params"]["output"] == {"table": "labeled"}
    assert task["params"]["rules"] == {"model": "keyword", "labels": {"price": ["가격"]}}
    assert "production" not in task["params"]  # its select's default alone does not ask for the second stage
    assert task["started_by"]["name"] == "loopback"


def test_the_schemas_errors_go_next_to_their_fields(client):
    response = post_form(client, "label_table", {"rules": "{not json", "start": "2026-05-02T00:00",
                                                 "end": "2026-05-01T00:00", "input.table": "1bad"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "label_table-rules").startswith("Not valid JSON")
    assert "Missing data" in field_error(html, "label_table-input-database_url")
    assert "Not a plain SQL name" in field_error(html, "label_table-input-table")
    assert "Missing data" in field_error(html, "label_table-output-table")
    assert 'value="1bad"' in html  # what was typed stays in the form
    babitalk = post_form(client, "babitalk", {"target_date": DAY, "limit": "-1",
                                              "rules": '{"model": "keyword", "labels": {"x": "not a list"}}'})
    assert babitalk.status_code == 422
    assert "greater than or equal to 0" in field_error(babitalk.get_data(as_text=True), "babitalk-limit")
    assert field_error(babitalk.get_data(as_text=True), "babitalk-rules")
    check = client.post("/console/rules-check", data={"rules": '{"model": "regex", "labels": {"a": "("}}'},
                        headers={"X-CSRFToken": token(client)}).get_data(as_text=True)
    assert "error-text" in check


def test_filters_paging_cancel_and_rerun(client):
    trials = [start(client, "trials", countdown=3600) for _ in range(3)]
    babitalk = start(client, "babitalk", target_date=DAY, countdown=3600, queue="bulk")
    listed = client.get("/console/tasks?source=trials").get_data(as_text=True)
    assert all(f'data-id="{task_id}"' in listed for task_id in trials) and babitalk not in listed
    assert babitalk in client.get("/console/tasks?queue=bulk").get_data(as_text=True)
    assert trials[0] not in client.get("/console/tasks?queue=bulk").get_data(as_text=True)
    assert "No task matches" in client.get("/console/tasks?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    assert "page 1 of 1" in client.get("/console/tasks?status=pending").get_data(as_text=True)

    row = client.post(f"/tasks/{trials[0]}/cancel?view=row", headers={"X-CSRFToken": token(client)})
    assert row.status_code == 200 and "cancelled" in row.get_data(as_text=True)
    cancelled = client.get("/console/tasks?status=cancelled").get_data(as_text=True)
    assert trials[0] in cancelled and trials[1] not in cancelled
    page = client.get(f"/tasks/{trials[0]}").get_data(as_text=True)
    assert 'id="cancelled-by"' in page and "loopback" in page

    again = client.post(f"/tasks/{babitalk}/rerun", headers={"X-CSRFToken": token(client), "HX-Request": "true"})
    rerun = task_of(client, again.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert rerun["id"] != babitalk and rerun["params"]["target_date"] == DAY and rerun["queue"] == "bulk"


def test_a_secret_is_masked_on_the_task_page_and_reused_by_rerun(client):
    task_id = start(client, "trials", countdown=3600, service_key="very-secret-key-1")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "very-secret-key-1" not in page and "***" in page
    again = client.post(f"/tasks/{task_id}/rerun", headers={"X-CSRFToken": token(client), "HX-Request": "true"})
    assert again.status_code == 204 and "/tasks/" in again.headers["HX-Redirect"]


def test_queues_and_the_cap_come_from_redis(app, client):
    start(client, "trials", countdown=3600)
    with app.app_context():
        runtime().limiter.acquire("00000000-0000-0000-0000-000000000001")
    html = client.get("/console/workers").get_data(as_text=True)
    assert re.search(r'<tr data-queue="default"><th>default</th><td>0</td><td>1</td>', html)  # one delayed
    assert "1 of 10" in html and "00000000" in html


def test_a_paused_schedule_is_skipped_by_the_scheduler(app, client):
    build_scheduler(app)
    headers = {"X-CSRFToken": token(client), "HX-Request": "true"}
    assert "paused" in client.post("/schedules/trials/pause", headers=headers).get_data(as_text=True)
    fire_source("trials")
    assert client.get("/api/v1/async-collection/tasks").json["count"] == 0
    client.post("/schedules/trials/resume", headers=headers)
    fire_source("trials")
    assert client.get("/api/v1/async-collection/tasks").json["count"] == 1
    html = client.get("/console/schedules").get_data(as_text=True)
    assert re.search(r'data-schedule="trials">.*?<span class="badge pending">pending</span>', html, re.S)
    assert client.post("/schedules/babitalk/pause", headers=headers).status_code == 404  # no schedule
