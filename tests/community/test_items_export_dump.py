"""A task's collected items: export (CSV, JSON Lines, streamed) and dumps into real
databases (a SQLite file, PostgreSQL, MariaDB) as background jobs, passwords kept out of sight."""
from __future__ import annotations

import csv
import io
import json
import os
import uuid
from datetime import date, timedelta

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.collector.models import ItemDump
from services.collector.items import CSV_COLUMNS
from services.collector.models import db
from tests.support.collector import API, start, wait_status
from tests.support.community import SECRET_SANDBOX_ENV
from tests.support.databases import fresh_postgres_schema
from tests.support.waiting import wait_for


@pytest.fixture
def sandbox_env() -> dict:
    return SECRET_SANDBOX_ENV


RULES = {"model": "regex", "labels": {"swelling": "붓기", "money": r"가격|비[싸쌌]"}}
PASSWORD = "pw-dump-9c1e2f7d"


@pytest.fixture
def finished_task(community_app, client, worker) -> dict:
    worker()
    task_id = start(client, "babitalk", target_date=(date.today() - timedelta(days=7)).isoformat(),
                    categories=["reviews", "talks"], limit=6, rules=RULES)
    return wait_status(client, task_id, "completed")


def dump(client, task_id: str, database_url: str, table: str) -> dict:
    response = client.post(f"{API}/task/{task_id}/dump", json={"database_url": database_url, "table": table})
    assert response.status_code == 202, response.json
    assert response.json["status"] == "pending" and response.json["table"] == table

    def finished():
        state = client.get(f"{API}/dump/{response.json['id']}").json
        return state if state["status"] in ("completed", "failed") else None

    return wait_for(finished, timeout=60, what="the dump to finish")


def test_export_jsonl_streams_every_item_with_labels(finished_task, client):
    response = client.get(f"{API}/task/{finished_task['id']}/export?format=jsonl")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    assert f"{finished_task['id']}.jsonl" in response.headers["Content-Disposition"]
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(records) == finished_task["result_summary"]["total_items"]
    assert len({(r["kind"], r["external_id"]) for r in records}) == len(records)
    labeled = [r for r in records if r["labels"]]
    assert len(labeled) == finished_task["result_summary"]["labeled_items"]
    assert all(("붓기" in r["text"]) == ("swelling" in r["labels"]) for r in records)
    assert all(r["raw"] and r["created_at"].endswith("+00:00") for r in records)


def test_export_csv_has_a_header_and_one_row_per_item(finished_task, client):
    response = client.get(f"{API}/task/{finished_task['id']}/export?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == finished_task["result_summary"]["total_items"]
    assert {r["kind"] for r in rows} == {"review", "post", "comment"}
    assert all(json.loads(r["metrics"]) is not None for r in rows)
    assert any(r["labels"] and set(r["labels"].split(";")) <= {"swelling", "money"} for r in rows)


@pytest.mark.parametrize("path", ["export?format=xml", "sample?size=0", "sample?size=101"])
def test_bad_query_arguments_are_422(finished_task, client, path):
    assert client.get(f"{API}/task/{finished_task['id']}/{path}").status_code == 422


@pytest.mark.parametrize("path", ["export", "sample"])
def test_unknown_task_is_404(client, path):
    response = client.get(f"{API}/task/{uuid.uuid4()}/{path}")
    assert response.status_code == 404 and "not found" in response.json["message"]


def test_dump_into_a_sqlite_file_twice_without_duplicates(finished_task, community_app, client):
    path = os.path.join(community_app.config["COLLECTOR_DUMP_SQLITE_DIR"], "analyst.sqlite3")
    total = finished_task["result_summary"]["total_items"]
    for _ in range(2):
        state = dump(client, finished_task["id"], f"sqlite:///{path}", "babitalk_items")
        assert state["status"] == "completed" and state["rows_written"] == total, state
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT kind, external_id, labels, text FROM babitalk_items")).all()
    engine.dispose()
    assert len(rows) == total
    assert any("swelling" in json.loads(labels) for _, _, labels, _ in rows)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_dump_into_postgresql_keeps_the_password_out_of_sight(finished_task, community_app, client, tmp_path):
    url = make_url(fresh_postgres_schema(f"dump_{uuid.uuid4().hex[:8]}")).set(password=PASSWORD)
    state = dump(client, finished_task["id"], url.render_as_string(hide_password=False), "community_items")

    assert state["status"] == "completed", state
    assert state["rows_written"] == finished_task["result_summary"]["total_items"]
    assert PASSWORD not in json.dumps(state) and "***" in state["target"]
    schema = url.query["options"].split("=", 1)[1]
    conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        count = connection.execute(f'SELECT count(*) FROM "{schema}".community_items').fetchone()[0]
        kinds = {k for (k,) in connection.execute(f'SELECT DISTINCT kind FROM "{schema}".community_items')}
    assert count == state["rows_written"] and kinds == {"review", "post", "comment"}
    _assert_password_hidden(community_app, client, state["id"], tmp_path)


def test_dump_into_mariadb(finished_task, client):
    table = f"items_{uuid.uuid4().hex[:8]}"
    state = dump(client, finished_task["id"], "mysql://root@127.0.0.1:3306/test", table)
    try:
        assert state["status"] == "completed", state
        connection = pymysql.connect(host="127.0.0.1", user="root", password="", database="test")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM `{table}`")
            assert cursor.fetchone()[0] == finished_task["result_summary"]["total_items"]
    finally:
        connection = pymysql.connect(host="127.0.0.1", user="root", password="", database="test")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS `{table}`")
        connection.close()


def test_failed_dump_explains_without_the_password(finished_task, community_app, client, tmp_path):
    state = dump(client, finished_task["id"], f"postgresql://analyst:{PASSWORD}@127.0.0.1:9/warehouse", "items")
    assert state["status"] == "failed" and state["error"] and state["rows_written"] == 0
    assert state["target"] == "postgresql+psycopg://analyst:***@127.0.0.1:9/warehouse"
    _assert_password_hidden(community_app, client, state["id"], tmp_path)


@pytest.mark.parametrize("body, field", [
    ({"database_url": "http://example.org/db", "table": "items"}, "database_url"),
    ({"database_url": "oracle://u:p@host/db", "table": "items"}, "database_url"),
    ({"database_url": "not a url at all", "table": "items"}, "database_url"),
    ({"database_url": "sqlite:////etc/evil.sqlite3", "table": "items"}, "database_url"),
    ({"database_url": "sqlite://", "table": "items"}, "database_url"),
    ({"database_url": "postgresql://u:p@/nohost", "table": "items"}, "database_url"),
    ({"database_url": "sqlite:////tmp/x.sqlite3", "table": "items; DROP TABLE tasks"}, "table"),
    ({"database_url": "sqlite:////tmp/x.sqlite3", "table": "1items"}, "table"),
    ({"database_url": "sqlite:////tmp/x.sqlite3", "table": "sqlite_master"}, "table"),
    ({"table": "items"}, "database_url"),
])
def test_refused_dumps_are_422_naming_the_field(finished_task, client, body, field):
    response = client.post(f"{API}/task/{finished_task['id']}/dump", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]
    assert "p@" not in json.dumps(response.json)


def test_dump_of_unknown_task_is_404(client):
    response = client.post(f"{API}/task/{uuid.uuid4()}/dump", json={"database_url": "sqlite:////x", "table": "t"})
    assert response.status_code == 404


def _assert_password_hidden(app, client, dump_id, tmp_path):
    with app.app_context():
        stored = db.session.get(ItemDump, dump_id)
        outputs = [stored.target, str(stored.error), stored.url_sealed]
    outputs.append(client.get(f"{API}/dump/{dump_id}").get_data(as_text=True))
    log_files = list((tmp_path / "log").glob("*.log"))
    assert log_files, "the collector writes its log file under LOG_DIR"
    outputs += [path.read_text(errors="replace") for path in log_files]
    assert all(PASSWORD not in output for output in outputs)
