"""The labeling task API (/api/tasks/): the original clients' create_task, check_status, abort_task
and result_sample, on the label_table job, against a real MariaDB (TEST_MYSQL_URL) and PostgreSQL
(TEST_DATABASE_URL) server with an input schema and an output schema, with real worker threads."""
from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest
import schemathesis
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.collector.label_table_support import (
    MYSQL_URL,
    dump_rows,
    mysql_server,
    sqlite_dir,  # noqa: F401 (an autouse fixture)
    table_names,
)
from tests.support.databases import drop_postgres_schema, fresh_postgres_schema, postgres_base_url
from tests.support.waiting import wait_for

TASKS = "/api/tasks/"
T = datetime
SERVERS = (["mysql"] if MYSQL_URL else []) + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
POSTS = [  # (id, content, author_name, created_at)
    (1, "I love makeup", "beauty_kim", T(2026, 1, 2, 0, 0, 0)),      # exactly START_TIME: in
    (2, "cat pics", "dog_lover", T(2026, 1, 3, 12, 0, 0)),
    (3, "nothing here", "plain", T(2026, 1, 4, 8, 30, 0)),
    (4, "skincare routine", "beauty_kim", T(2026, 1, 5, 0, 0, 0)),
    (5, "makeup again", "beauty_kim", T(2026, 1, 1, 23, 59, 59)),   # before START_TIME
    (6, "dogs", "dog_lover", T(2026, 1, 6, 0, 0, 0)),               # exactly END_TIME: out
    (7, "makeup without an author", None, T(2026, 1, 5, 12, 0, 0)),
]
BY_NAME = {"beauty": ["beauty"], "pets": ["dog", "cat"]}
BY_TEXT = {"beauty": "(?i)makeup|skincare", "pets": r"\b(cat|dog)s?\b"}


@dataclass
class Site:
    backend: str
    site_config: dict
    input_schema: str
    output_schema: str
    inputs: Engine      # the test's own connections, to build inputs and read outputs
    outputs: Engine


@pytest.fixture(params=SERVERS)
def site(request):
    suffix = uuid.uuid4().hex[:8]
    names = (f"lt_in_{suffix}", f"lt_out_{suffix}")
    if request.param == "mysql":
        server = mysql_server()
        with server.begin() as connection:
            for name in names:
                connection.execute(text(f"CREATE DATABASE `{name}`"))
        base = make_url(MYSQL_URL).set(drivername="mysql+pymysql")
        engines = [create_engine(base.set(database=name)) for name in names]
        config = {"host": base.host, "port": base.port or 3306, "user": base.username,
                  "password": base.password or "", "db": names[0], "charset": "utf8mb4"}
    else:
        engines = [create_engine(make_url(fresh_postgres_schema(name)).set(drivername="postgresql+psycopg"))
                   for name in names]
        base = make_url(postgres_base_url())
        config = {"host": base.host, "port": base.port or 5432, "user": base.username,
                  "password": base.password or "", "db": base.database, "driver": "postgresql"}
    yield Site(request.param, config, names[0], names[1], *engines)
    for engine in engines:
        engine.dispose()
    if request.param == "mysql":
        with server.begin() as connection:
            for name in names:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()
    else:
        for name in names:
            drop_postgres_schema(name)


def make_input(engine: Engine, name: str, rows: list[tuple], columns=("id", "content", "author_name", "created_at")):
    table = Table(name, MetaData(), Column(columns[0], Integer, primary_key=True, autoincrement=False),
                  Column(columns[1], Text), Column(columns[2], String(50)), Column(columns[3], DateTime))
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def create_body(site: Site, **changes) -> dict:
    body = {"MODEL_TYPE": "keyword_model", "PREDICT_TYPE": "author_name", "START_TIME": "2026-01-02",
            "END_TIME": "2026-01-06", "PATTERN": BY_NAME, "INPUT_SCHEMA": site.input_schema,
            "INPUT_TABLE": "ts_page_content", "OUTPUT_SCHEMA": site.output_schema, "COUNTDOWN": 0,
            "QUEUE": "queue1", "SITE_CONFIG": site.site_config}
    body.update(changes)
    return body


def create(client, body: dict) -> dict:
    response = client.post(TASKS, json=body)
    assert response.status_code == 200, response.json
    assert response.json["error_code"] == 200
    return response.json["error_message"]


def status(client, task_id: str) -> dict:
    response = client.get(f"{TASKS}{task_id}")
    assert response.status_code == 200, response.json
    assert response.json["error_code"] == 200
    return response.json["error_message"]


def wait_stat(client, task_id: str, stats: set[str]) -> dict:
    return wait_for(lambda: (s := status(client, task_id))["stat"] in stats and s, what=f"task {task_id} in {stats}")


def rows_of(engine: Engine, name: str) -> list[dict]:
    def value(raw):
        return json.loads(raw) if isinstance(raw, str) else raw

    return [{key: value(v) if key in ("labels", "matched_terms", "label_counts") else v for key, v in row.items()}
            for row in dump_rows(engine, name)]


def test_create_check_sample_and_the_production_table_per_author(app, client, worker, site):
    make_input(site.inputs, "ts_page_content", POSTS)
    worker(threads=1)
    echo = create(client, create_body(site))

    assert re.fullmatch(r"[0-9a-f]{32}", echo["task_id"])
    assert echo["date_range"] == "2026-01-02 - 2026-01-06" and echo["queue"] == "queue1"
    assert (echo["model_type"], echo["predict_type"], echo["countdown"]) == ("keyword_model", "author_name", 0)
    assert (echo["target_schema"], echo["target_table"], echo["output_schema"]) == \
        (site.input_schema, "ts_page_content", site.output_schema)
    assert (echo["output_table"], echo["prod_table"]) == ("ts_page_content_output", "ts_page_content_prod")
    assert echo["site_config"]["password"] == "***" and echo["site_config"]["host"] == site.site_config["host"]
    with app.app_context():
        from services.collector.models import Task, db
        assert db.session.get(Task, str(uuid.UUID(echo["task_id"]))).queue == "default"   # queue1: the default

    done = wait_stat(client, echo["task_id"], {"SUCCESS", "FAILURE"})
    assert done["stat"] == "SUCCESS", done["error_message"]
    assert (done["prod_stat"], done["model_type"], done["predict_type"]) == ("finish", "keyword_model", "author_name")
    assert (done["date_range"], done["target_table"]) == ("2026-01-02 - 2026-01-06", "ts_page_content")
    # rows 1, 2, 3, 4 and 7 are in range; 1, 2 and 4 have an author name with a label
    assert (done["length_receive_table"], done["length_output_table"], done["length_prod_table"]) == (5, 5, "2")
    assert (done["uniq_source_author"], done["rate_of_label"]) == ("3", "60.00")
    assert done["result"] == f"{site.output_schema}.ts_page_content_prod"
    assert done["peak_memory"] > 0 and done["run_time"] >= 0
    assert done["check_point"] is None and done["error_message"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", done["create_time"])

    production = {row["author_name"]: (row["labels"], row["label_counts"], row["labeled_rows"])
                  for row in rows_of(site.outputs, "ts_page_content_prod")}
    assert production == {"beauty_kim": (["beauty"], {"beauty": 2}, 2), "dog_lover": (["pets"], {"pets": 1}, 1)}
    output = {row["id"]: row["labels"] for row in rows_of(site.outputs, "ts_page_content_output")}
    assert output == {1: ["beauty"], 2: ["pets"], 3: [], 4: ["beauty"], 7: []}
    assert "ts_page_content" in table_names(site.inputs)
    assert not [name for name in table_names(site.outputs) if name.startswith("lt_")]

    sample = client.get(f"{TASKS}{echo['task_id']}/sample?size=10")
    assert sample.status_code == 200 and sample.json["error_code"] == 200
    drawn = sample.json["error_message"]
    assert (drawn["task_id"], drawn["stat"], drawn["count"]) == (echo["task_id"], "SUCCESS", 5)
    assert {row["id"]: row["author"] for row in drawn["data"]} == {1: "beauty_kim", 2: "dog_lover", 3: "plain",
                                                                   4: "beauty_kim", 7: None}

    document = schemathesis.openapi.from_dict(client.get("/openapi.json").json)
    document["/api/tasks/{task_id}"]["GET"].validate_response(client.get(f"{TASKS}{echo['task_id']}"))
    document["/api/tasks/{task_id}/sample"]["GET"].validate_response(sample)


def test_rule_model_on_the_content_with_own_column_names_one_production_row_per_labeled_row(client, worker, site):
    columns = ("post_no", "body", "writer", "posted_at")
    make_input(site.inputs, "posts", POSTS, columns)
    make_input(site.outputs, "posts_prod", [(99, "the production table before", None, T(2020, 1, 1))])
    worker(threads=1)
    echo = create(client, create_body(site, MODEL_TYPE="rule_model", PREDICT_TYPE="content", PATTERN=BY_TEXT,
                                      INPUT_TABLE="posts", QUEUE="bulk", ID_COLUMN="post_no", CONTENT_COLUMN="body",
                                      AUTHOR_COLUMN="writer", TIME_COLUMN="posted_at",
                                      START_TIME="2026-01-02T00:00:00", END_TIME="2026-01-06T00:00:00Z"))
    done = wait_stat(client, echo["task_id"], {"SUCCESS", "FAILURE"})

    assert done["stat"] == "SUCCESS", done["error_message"]
    assert (done["length_receive_table"], done["length_prod_table"], done["rate_of_label"]) == (5, "4", "80.00")
    production = {row["id"]: (row["author_name"], row["labels"], row["matched_terms"])
                  for row in rows_of(site.outputs, "posts_prod")}
    assert production == {1: ("beauty_kim", ["beauty"], {"beauty": ["makeup"]}),
                          2: ("dog_lover", ["pets"], {"pets": ["cat"]}),
                          4: ("beauty_kim", ["beauty"], {"beauty": ["skincare"]}),
                          7: (None, ["beauty"], {"beauty": ["makeup"]})}      # replaced, row 99 gone


def test_abort_mid_run_leaves_the_output_tables_as_they_were(app, client, worker, site):
    make_input(site.inputs, "ts_page_content", [(i, f"post {i}", "cat_person" if i % 2 else f"user{i}",
                                                 T(2026, 1, 3, 0, 0, i)) for i in range(1, 31)])
    make_input(site.outputs, "ts_page_content_output", [(99, "the output before", None, T(2020, 1, 1))])
    make_input(site.outputs, "ts_page_content_prod", [(98, "the production table before", None, T(2020, 1, 1))])
    before = (dump_rows(site.outputs, "ts_page_content_output"), dump_rows(site.outputs, "ts_page_content_prod"))
    # Five rows per chunk, then a minute's pause: the job is deterministically mid-run after chunk one.
    app.config.update(COLLECTOR_LABEL_TABLE_CHUNK_ROWS=5, COLLECTOR_PACING_LABEL_TABLE=60.0)
    worker(threads=1)
    task_id = create(client, create_body(site))["task_id"]
    try:
        # The chunk's position is saved, then its rows counted: once counted, both are there.
        running = wait_for(lambda: (s := status(client, task_id))["length_receive_table"] == 5 and s,
                           what="the first chunk")
        sample = client.get(f"{TASKS}{task_id}/sample?size=3").json["error_message"]
    finally:
        aborted = client.post(TASKS, json={"TASK_ID": task_id})     # even if a wait failed
    final = wait_stat(client, task_id, {"REVOKED", "SUCCESS", "FAILURE"})

    assert (running["stat"], running["prod_stat"], running["length_receive_table"]) == ("STARTED", "pending", 5)
    assert running["check_point"] == {"stage": "label", "last_id": 5, "rows_done": 5, "rows_total": 30, "attempt": 1}
    assert running["rate_of_label"] == "60.00" and running["uniq_source_author"] == "16"
    assert (sample["stat"], sample["count"], sample["table"]) == ("STARTED", 5, f"lt_stage_{task_id}")
    assert len(sample["data"]) == 3 and all(1 <= row["id"] <= 5 for row in sample["data"])
    assert aborted.status_code == 200
    assert aborted.json == {"error_code": 200,
                            "error_message": f"successfully send break status to task {task_id} in state STARTED"}
    assert (final["stat"], final["prod_stat"], final["check_point"]) == ("REVOKED", "revoked", None)
    assert (dump_rows(site.outputs, "ts_page_content_output"), dump_rows(site.outputs, "ts_page_content_prod")) \
        == before
    assert not [name for name in table_names(site.outputs) if name.startswith("lt_")]
    again = client.post(TASKS, json={"TASK_ID": task_id})
    assert (again.status_code, again.json["error_code"]) == (409, 409)
    assert again.json["error_message"] == f"Task {task_id} is already REVOKED; nothing to abort."


def test_a_pending_task_aborted_is_revoked_at_once(client):
    site = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "p@ss w/rd:#?%-12345678", "db": "wh_tiktok",
            "charset": "utf8mb4"}
    body = {**create_body(Site("mysql", site, "wh_tiktok", "audience_result", None, None)), "COUNTDOWN": 3600}
    echo = create(client, body)
    assert status(client, echo["task_id"])["stat"] == "PENDING"
    assert status(client, echo["task_id"])["prod_stat"] == "pending"

    aborted = client.post(TASKS, json={"TASK_ID": echo["task_id"]})
    assert aborted.json["error_message"] == f"successfully send break status to task {echo['task_id']} in state PENDING"
    revoked = status(client, echo["task_id"])
    assert (revoked["stat"], revoked["run_time"], revoked["length_prod_table"]) == ("REVOKED", None, None)
    seen = [json.dumps(answer) for answer in (revoked, echo, aborted.json, client.get(
        f"/api/v1/async-collection/task/{uuid.UUID(echo['task_id'])}").json)]
    assert not [answer for answer in seen if "12345678" in answer or "p@ss" in answer or "p%40ss" in answer]


SITE = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "db": "wh_tiktok", "charset": "utf8mb4"}
GOOD = create_body(Site("mysql", SITE, "wh_tiktok", "audience_result", None, None))


@pytest.mark.parametrize(("change", "key"), [
    (lambda b: b.pop("MODEL_TYPE"), "MODEL_TYPE"),
    (lambda b: b.update(MODEL_TYPE="bert_model"), "MODEL_TYPE"),
    (lambda b: b.update(PREDICT_TYPE="title"), "PREDICT_TYPE"),
    (lambda b: b.update(START_TIME="yesterday"), "START_TIME"),
    (lambda b: b.update(END_TIME="2025-12-31"), "END_TIME"),
    (lambda b: b.update(PATTERN={"beauty": "makeup"}), "PATTERN"),                 # keyword_model wants a list
    (lambda b: b.update(MODEL_TYPE="rule_model", PATTERN={"twice": "(a)\\1"}), "PATTERN"),   # not linear-time
    (lambda b: b.update(PATTERN={}), "PATTERN"),
    (lambda b: b.update(INPUT_TABLE="posts; DROP TABLE x"), "INPUT_TABLE"),
    (lambda b: b.update(OUTPUT_SCHEMA="a-b"), "OUTPUT_SCHEMA"),
    (lambda b: b.update(COUNTDOWN=-1), "COUNTDOWN"),
    (lambda b: b.update(SURPRISE=1), "SURPRISE"),
    (lambda b: b["SITE_CONFIG"].update(host="10.20.30.40"), "SITE_CONFIG"),        # not in COLLECTOR_OUTBOUND_ALLOW
    (lambda b: b["SITE_CONFIG"].update(host="169.254.169.254"), "SITE_CONFIG"),
    (lambda b: b["SITE_CONFIG"].update(host="127.0.0.1/other_db?local_infile=1#"), "SITE_CONFIG"),
    (lambda b: b["SITE_CONFIG"].update(host="evil@127.0.0.1"), "SITE_CONFIG"),
    (lambda b: b["SITE_CONFIG"].update(local_infile=1), "SITE_CONFIG"),
    (lambda b: b["SITE_CONFIG"].update(charset="utf8&local_infile=1"), "SITE_CONFIG"),
    (lambda b: b["SITE_CONFIG"].update(driver="oracle"), "SITE_CONFIG"),
    (lambda b: b["SITE_CONFIG"].update(driver="postgresql", db=None), "SITE_CONFIG"),
    (lambda b: b.pop("SITE_CONFIG"), "SITE_CONFIG"),
    (lambda b: b.update(OUTPUT_SCHEMA="wh_tiktok", OUTPUT_TABLE="ts_page_content"), "OUTPUT_TABLE"),
    (lambda b: b.update(INPUT_TABLE="t" * 60), "OUTPUT_TABLE"),
])
def test_bad_bodies_get_the_envelope_with_a_4xx_naming_the_key(client, change, key):
    body = json.loads(json.dumps(GOOD))
    change(body)
    response = client.post(TASKS, json=body)

    assert response.status_code == 422, response.json
    assert response.json["error_code"] == 422 and key in response.json["error_message"]
    assert key in response.json["errors"]["json"]
    assert client.get("/api/v1/async-collection/tasks").json["count"] == 0


def test_unknown_tasks_and_bodies_that_are_not_objects(client):
    unknown = uuid.uuid4().hex
    for response in (client.get(f"{TASKS}{unknown}"), client.post(TASKS, json={"TASK_ID": unknown}),
                     client.get(f"{TASKS}{unknown}/sample"), client.get(f"{TASKS}not-a-task")):
        assert response.status_code == 404 and response.json["error_code"] == 404
        assert "not found" in response.json["error_message"]
    listed = client.post(TASKS, json=[1, 2])
    assert (listed.status_code, listed.json["error_code"]) == (422, 422)
    extra = client.post(TASKS, json={"TASK_ID": unknown, "MODEL_TYPE": "keyword_model"})
    assert (extra.status_code, extra.json["error_code"]) == (422, 422) and "MODEL_TYPE" in extra.json["errors"]["json"]
    form = client.post(TASKS, data="TASK_ID=1", content_type="application/x-www-form-urlencoded")
    assert (form.status_code, form.json["error_code"]) == (415, 415)
