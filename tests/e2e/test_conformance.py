"""The original systems' documented requests and client examples (tests/conformance/*.json, from
ORIGINAL_APIS.md), replayed against the stack `make up` starts: only host and port changed.

The labeling task API's cases (section A) run against a real MariaDB (TEST_MYSQL_URL), else the
same cases against PostgreSQL ("driver": "postgresql", TEST_DATABASE_URL); with neither set only
they are skipped, saying so.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from services.collector.outbound import DEFAULT_ALLOW, OutboundPolicy

from tests.support.databases import drop_postgres_schema, fresh_postgres_schema, postgres_base_url
from tests.support.grader import SANDBOX_CLIENT, SANDBOX_KEY
from tests.support.orders import order_body
from tests.support.processes import REPO_ROOT
from tests.support.waiting import wait_for

CASES = Path(__file__).resolve().parent.parent / "conformance"
MYSQL_URL = os.environ.get("TEST_MYSQL_URL")        # e.g. mysql+pymysql://root@127.0.0.1:3306/test
FINAL = ("completed", "failed", "cancelled")


def cases(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))


GUIDE, TRIALS, ORDERS, GRADER, LABELING = (
    cases(name) for name in ("collection_guide", "clinical_trials", "orders_two_way_sync", "grader_etl",
                             "labeling_task_api"))


# --- A. the labeling task API --------------------------------------------------------------------

@dataclass
class LabelingSite:
    """The user's database server as SITE_CONFIG names it, with an input and an output schema of the run's own."""
    site_config: dict
    input_schema: str
    output_schema: str
    inputs: Engine      # the test's own connections: to build the input table, to read what the task wrote
    outputs: Engine


def _mysql_site(names: tuple[str, str]):
    server = create_engine(make_url(MYSQL_URL).set(drivername="mysql+pymysql"))
    with server.begin() as connection:
        for name in names:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    base = server.url
    config = {**LABELING["create_task"]["body"]["SITE_CONFIG"], "host": base.host, "port": base.port or 3306,
              "user": base.username, "password": base.password or "", "db": names[0]}

    def drop():
        with server.begin() as connection:
            for name in names:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    return config, [create_engine(base.set(database=name)) for name in names], drop


def _postgres_site(names: tuple[str, str]):
    engines = [create_engine(make_url(fresh_postgres_schema(name)).set(drivername="postgresql+psycopg"))
               for name in names]
    base = make_url(postgres_base_url())
    config = {"host": base.host, "port": base.port or 5432, "user": base.username, "password": base.password or "",
              "db": base.database, "driver": "postgresql"}
    return config, engines, lambda: [drop_postgres_schema(name) for name in names]


@pytest.fixture
def labeling_site(stack):
    if not MYSQL_URL and not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the labeling task API's cases need a database server for SITE_CONFIG: set TEST_MYSQL_URL "
                    "(MariaDB/MySQL) or TEST_DATABASE_URL (PostgreSQL); CI sets both")
    documented = LABELING["create_task"]["body"]
    suffix = uuid.uuid4().hex[:8]
    names = (f"{documented['INPUT_SCHEMA']}_{suffix}", f"{documented['OUTPUT_SCHEMA']}_{suffix}")
    config, engines, drop = (_mysql_site if MYSQL_URL else _postgres_site)(names)
    allowed = stack.env.get("COLLECTOR_OUTBOUND_ALLOW") or ",".join(DEFAULT_ALLOW)
    OutboundPolicy.parse(allowed.split(",")).precheck(config["host"], config["port"])   # else a 422 from the stack
    table = LABELING["input_table"]
    columns = table["columns"]
    posts = Table(documented["INPUT_TABLE"], MetaData(), Column(columns[0], Integer, primary_key=True,
                                                                autoincrement=False),
                  Column(columns[1], Text), Column(columns[2], String(50)), Column(columns[3], DateTime))
    posts.create(engines[0])
    with engines[0].begin() as connection:
        connection.execute(posts.insert(), [{**dict(zip(columns, row, strict=True)),
                                             columns[3]: datetime.fromisoformat(row[3])} for row in table["rows"]])
    try:
        yield LabelingSite(config, *names, *engines)
    finally:
        for engine in engines:
            engine.dispose()
        drop()


def labeling_body(site: LabelingSite, **changes) -> dict:
    """The documented create_task body, with SITE_CONFIG and the two schemas the user's own."""
    body = json.loads(json.dumps(LABELING["create_task"]["body"]))
    body.update(INPUT_SCHEMA=site.input_schema, OUTPUT_SCHEMA=site.output_schema, SITE_CONFIG=site.site_config,
                **changes)
    return body


def envelope(response: requests.Response, status: int = 200):
    """The original's envelope: the payload in error_message, error_code the HTTP status."""
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error_code"] == status and "error_message" in answer, answer
    return answer["error_message"]


def call(stack, spec: dict, task_id: str = "", body: dict | None = None, status: int = 200):
    url = stack.url(LABELING["service"]) + spec["path"].format(task_id=task_id)
    return envelope(requests.request(spec["method"], url, json=body, timeout=10), status)


def check_status(stack, task_id: str) -> dict:
    answer = call(stack, LABELING["check_status"], task_id)
    assert set(LABELING["check_status"]["fields"]) <= set(answer), set(LABELING["check_status"]["fields"]) - set(answer)
    assert answer["stat"] in LABELING["check_status"]["states"], answer["stat"]
    return answer


def decoded(row: dict) -> dict:
    """A row as the task wrote it (MariaDB hands JSON columns back as text)."""
    return {key: json.loads(value) if key in ("labels", "matched_terms", "label_counts") and isinstance(value, str)
            else value for key, value in row.items()}


def rows_of(engine: Engine, name: str) -> list[dict]:
    table = Table(name, MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        return [decoded(dict(row._mapping)) for row in connection.execute(table.select())]


@pytest.mark.parametrize("case", LABELING["cases"], ids=[c["name"] for c in LABELING["cases"]])
def test_the_labeling_tasks_create_check_sample_and_dump(stack, labeling_site, case):
    """create_task as documented, check_status until SUCCESS, result_sample, the dump_result tables."""
    site, create = labeling_site, LABELING["create_task"]
    body = labeling_body(site, **case["changes"])
    echo = call(stack, create, body=body)
    assert set(create["answer_fields"]) <= set(echo), set(create["answer_fields"]) - set(echo)
    assert re.fullmatch(r"[0-9a-f]{32}", echo["task_id"])
    assert echo["date_range"] == create["date_range"]
    assert [echo[key.lower()] for key in ("MODEL_TYPE", "PREDICT_TYPE", "START_TIME", "END_TIME", "OUTPUT_SCHEMA",
                                          "COUNTDOWN", "QUEUE")] == \
        [body[key] for key in ("MODEL_TYPE", "PREDICT_TYPE", "START_TIME", "END_TIME", "OUTPUT_SCHEMA", "COUNTDOWN",
                               "QUEUE")]
    assert (echo["target_schema"], echo["target_table"]) == (site.input_schema, body["INPUT_TABLE"])

    seen = []
    done = wait_for(lambda: seen.append(s := check_status(stack, echo["task_id"])) or
                    (s["stat"] in ("SUCCESS", "FAILURE", "REVOKED") and s),
                    timeout=120, interval=0.2, what="the labeling task to end")
    assert done["stat"] == "SUCCESS", done["error_message"]
    assert {s["stat"] for s in seen} <= {"PENDING", "STARTED", "SUCCESS"}
    assert {key: done[key] for key in case["status"]} == case["status"]
    assert (done["task_id"], done["date_range"]) == (echo["task_id"], create["date_range"])
    assert done["result"] == case["result"].format(output_schema=site.output_schema)
    assert done["peak_memory"] > 0 and done["run_time"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", done["create_time"])

    sample = call(stack, LABELING["result_sample"], echo["task_id"])
    assert (sample["task_id"], sample["stat"], sample["count"]) == (echo["task_id"], "SUCCESS", len(case["output"]))
    in_range = {row[0]: row for row in LABELING["input_table"]["rows"] if str(row[0]) in case["output"]}
    assert {row["id"]: (row["labels"], row["author"]) for row in sample["data"]} == \
        {id_: (case["output"][str(id_)], row[2]) for id_, row in in_range.items()}

    output_table, production_table = f"{body['INPUT_TABLE']}_output", f"{body['INPUT_TABLE']}_prod"
    assert {str(row["id"]): row["labels"] for row in rows_of(site.outputs, output_table)} == case["output"]
    production = {str(row[case["production_key"]]): {key: row[key] for key in next(iter(case["production"].values()))}
                  for row in rows_of(site.outputs, production_table)}
    assert production == case["production"]
    assert int(done["length_prod_table"]) == len(production)


def test_the_labeling_tasks_abort_and_unknown_task(stack, labeling_site):
    """abort_task's documented body and answer, on a second task still in its countdown; then the 409 and the 404."""
    abort = LABELING["abort_task"]
    body = labeling_body(labeling_site, PATTERN=LABELING["cases"][0]["changes"]["PATTERN"], **abort["changes"])
    task_id = call(stack, LABELING["create_task"], body=body)["task_id"]
    pending = check_status(stack, task_id)
    assert (pending["stat"], pending["prod_stat"]) == ("PENDING", "pending")

    sent = {key: value.format(task_id=task_id) for key, value in abort["body"].items()}
    answer = call(stack, abort, body=sent)
    assert answer == abort["answer"].format(task_id=task_id, stat="PENDING")
    revoked = check_status(stack, task_id)
    assert (revoked["stat"], revoked["length_prod_table"]) == ("REVOKED", None)
    assert inspect(labeling_site.outputs).get_table_names() == []                  # nothing written

    again = requests.post(stack.url(LABELING["service"]) + abort["path"], json=sent, timeout=10)
    assert "REVOKED" in envelope(again, abort["again_status"])
    unknown = requests.get(stack.url(LABELING["service"]) + LABELING["unknown_task"]["path"], timeout=10)
    assert "not found" in envelope(unknown, LABELING["unknown_task"]["status"])
    assert {"code", "status", "message"} <= set(unknown.json())                      # the house fields beside


# --- B. the async collection guide ---------------------------------------------------------------

def guide_api(stack) -> str:
    return stack.url(GUIDE["service"]) + GUIDE["base"]


def start(api: str, platform: str, body: dict) -> str:
    started = requests.post(f"{api}/{platform}/start", json=body, timeout=10)
    assert started.status_code == 202, started.text
    answer = started.json()
    assert answer["message"] == GUIDE["start_message"].format(platform=platform, task_id=answer["task_id"])
    return answer["task_id"]


def poll(api: str, task_id: str) -> dict:
    task = requests.get(f"{api}/task/{task_id}", timeout=10).json()
    assert set(GUIDE["task_fields"]) <= set(task), set(GUIDE["task_fields"]) - set(task)
    assert task["status"] in GUIDE["states"] or task["status"] in GUIDE["extra_states"]
    return task


def cancel(api: str, task_id: str) -> dict:
    assert requests.delete(f"{api}/task/{task_id}", timeout=10).status_code == 200
    return wait_for(lambda: (task := poll(api, task_id))["status"] in FINAL and task, timeout=60, interval=0.2,
                    what="the cancelled task to stop")


@pytest.mark.parametrize("case", GUIDE["start_bodies"], ids=[c["platform"] for c in GUIDE["start_bodies"]])
def test_the_guides_start_bodies_as_written(stack, case):
    """Accepted as written; the task runs, its progress moves before a category ends; DELETE cancels it."""
    api = guide_api(stack)
    task_id = start(api, case["platform"], case["body"])
    moving = wait_for(lambda: (task := poll(api, task_id))["progress"] > 0 and task, timeout=90, interval=0.2,
                      what=f"{case['platform']} progress to move")
    assert moving["type"] == case["type"] and moving["error"] is None
    assert moving["status"] == "completed" or moving["total"] > moving["progress"]
    assert re.search(r"\(\d+/\d+ records, total (estimated|at most)", moving["current_step"] or "") \
        or moving["status"] == "completed"
    if moving["status"] != "completed":
        assert cancel(api, task_id)["status"] in ("cancelled", "completed")


def test_the_guides_python_client_loop(stack):
    """Start babitalk, poll GET /task/{id} printing status, progress/total and current_step, then result_summary."""
    loop = GUIDE["python_client_loop"]
    api = guide_api(stack)
    task_id = start(api, loop["platform"], loop["body"])
    printed = []

    def done():
        task = poll(api, task_id)
        printed.append(tuple(task[field] for field in loop["prints"]))
        return task if task["status"] in FINAL else None

    task = wait_for(done, timeout=180, interval=0.2, what="the guide's loop to see the task end")
    assert task["status"] == "completed", task["error"]
    assert task[loop["final"]]["total_reviews"] == task[loop["final"]]["total_posts"] == 24
    running = [line for line in printed if line[0] == "running"]
    assert running and all(isinstance(progress, int | float) for _, progress, _, _ in printed)
    assert task["progress"] == task["total"] > 1      # counted in records, not in the two categories


def test_the_guides_javascript_client_body_and_the_listings(stack):
    client = GUIDE["javascript_client"]
    api = guide_api(stack)
    task_id = start(api, client["platform"], client["body"])
    wait_for(lambda: poll(api, task_id)["status"] != "pending", timeout=60, interval=0.2, what="the task to run")
    for call in GUIDE["calls"]:
        response = requests.request(call["method"], api + call["path"], timeout=10)
        assert response.status_code == call["status"], (call, response.text)
    summary = requests.get(f"{api}/status/summary", timeout=10).json()
    assert set(GUIDE["summary_fields"]) <= set(summary)
    listed = requests.get(f"{api}/tasks", timeout=10).json()
    assert task_id in json.dumps(listed)
    assert cancel(api, task_id)["status"] in ("cancelled", "completed")


# --- C. clinical trials --------------------------------------------------------------------------

@pytest.mark.parametrize("call", TRIALS["calls"], ids=[c["name"] for c in TRIALS["calls"]])
def test_the_trials_tasks_addresses(stack, call):
    base = stack.url(TRIALS["service"])
    trial_id = requests.get(base + "/list?per_page=1", timeout=10).json()["data"][0]["trial_id"]
    path = call["path"].format(trial_id=trial_id)
    response = requests.request(call["method"], base + path, timeout=10, allow_redirects=False)
    assert response.status_code == call["status"], response.text
    assert set(call["keys"]) <= set(response.json())
    if "same_as" in call:
        assert response.json() == requests.get(base + call["same_as"].format(trial_id=trial_id), timeout=10).json()


# --- D. orders: the state table ------------------------------------------------------------------

def sync_state(stack, uuid: str) -> dict:
    return requests.get(f"{stack.url(ORDERS['service'])}/orders/{uuid}", timeout=10).json()


def test_the_orders_state_table_is_what_the_status_shows(stack):
    status = requests.get(stack.url(ORDERS["service"]) + "/sync/status", timeout=10).json()
    assert [[row["state"], row["code"]] for row in status["task_states"]] == ORDERS["states"]


def test_the_orders_rows_a_user_can_cause(stack):
    auth = {"Authorization": f"Bearer {stack.service_token}"}
    a, b = stack.url(ORDERS["service"]), stack.url(ORDERS["peer"])
    uuid = None
    for row in ORDERS["live_rows"]:
        side = b if row["on"] == ORDERS["peer"] else a
        if row["action"] == "create":
            created = requests.post(side + "/orders", json=order_body(note=row["row"]), headers=auth, timeout=10)
            assert created.status_code == 201, created.text
            uuid = created.json()["uuid"]
        elif row["action"] == "update":
            changed = requests.put(f"{side}/orders/{uuid}", json=order_body(note=row["note"]), headers=auth,
                                   timeout=10)
            assert changed.status_code == 200, changed.text
        else:
            assert requests.delete(f"{side}/orders/{uuid}", headers=auth, timeout=10).status_code == 204
        want = row["then_on_a"]

        def arrived(want=want, uuid=uuid):
            order = sync_state(stack, uuid)
            state = order.get("sync_state") or {}
            held = {"state": state.get("state"), "code": state.get("code"),
                    **{key: order.get(key) for key in want if key not in ("state", "code")}}
            return held == want and order

        wait_for(arrived, timeout=30, interval=0.1, what=f"A to show {row['row']}")
        if row.get("then_on_b", {}).get("exists"):
            assert requests.get(f"{b}/orders/{uuid}", timeout=10).status_code == 200


# --- E. the grader ETL ---------------------------------------------------------------------------

def test_the_grader_etl_is_one_command(stack):
    day = GRADER["command"][-1]
    env = {**stack.env, "GRADER_API_URL": stack.url("sandbox"), "GRADER_CLIENT": SANDBOX_CLIENT,
           "GRADER_CLIENT_KEY": SANDBOX_KEY}
    command = [str(Path(sys.executable).parent / GRADER["command"][0]), *GRADER["command"][1:]]
    ran = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = (stack.var / "log" / GRADER["log_file"].format(today=datetime.now(UTC).date().isoformat())).read_text()
    assert all(stage in log for stage in GRADER["log_stages"]), log[-3000:]
    expected = requests.get(stack.url("sandbox") + "/_sandbox/grader/expected", params={"date": day}, timeout=10)
    stats = requests.get(stack.url("grader") + "/stats/daily", params={"date": day}, timeout=10).json()
    assert stats["attempts"] == expected.json()["valid"]            # loaded where the grader service reads
