"""label_table: labeling a table of the user's own database (SQLite always; PostgreSQL when
TEST_DATABASE_URL is set; MariaDB/MySQL when TEST_MYSQL_URL is set), with real worker threads."""
# ruff: noqa: F811 (the user_db fixture is imported from label_table_support and requested by name)
from __future__ import annotations

from datetime import datetime

import pytest
import schemathesis

from tests.collector.label_table_support import (
    API,
    OUTPUT_COLUMNS,
    dump_rows,
    make_posts,
    read_labels,
    sqlite_dir,  # noqa: F401 (an autouse fixture)
    table_names,
    user_db,  # noqa: F401 (a fixture)
)
from tests.support.collector import start, task_of, wait_status
from tests.support.waiting import wait_for

T = datetime  # naive datetimes are UTC, in the tables and in the bodies
POSTS = [  # (id, text, author, time)
    (1, "가격이 너무 비싸요", "kim", T(2026, 1, 1, 23, 59, 59)),        # before start
    (2, "붓기가 언제 빠지나요", "kim", T(2026, 1, 2, 0, 0, 0)),          # exactly start: in
    (3, "가격 문의합니다, 붓기도요", "lee", T(2026, 1, 3, 12, 0, 0)),
    (4, "오늘 날씨 좋네요", "park", T(2026, 1, 4, 8, 30, 0)),
    (5, "PRICE? 비싸다는 후기", None, T(2026, 1, 5, 0, 0, 0)),
    (6, "붓기 질문", "lee", T(2026, 1, 6, 0, 0, 0)),                       # exactly end: out
    (7, "가격", "choi", T(2026, 2, 1, 0, 0, 0)),                           # after end
]
KEYWORDS = {"model": "keyword", "labels": {"price": ["가격", "비싸"], "swelling": ["붓기"]}}


def body(user_db, **changes) -> dict:
    start_body = {
        "input": {"database_url": user_db.url, "table": user_db.posts, "text_column": "body",
                  "id_column": "post_id", "time_column": "posted_at", "author_column": "writer"},
        "start": "2026-01-02T00:00:00Z", "end": "2026-01-06T00:00:00Z",
        "rules": KEYWORDS,
        "output": {"table": user_db.output},
    }
    start_body.update(changes)
    return start_body


def test_labels_the_rows_in_the_time_range_into_a_new_output_table(client, worker, user_db):
    make_posts(user_db.engine, user_db.posts, POSTS)
    worker(threads=1)
    task = wait_status(client, start(client, "label_table", **body(user_db)), {"completed", "failed"})

    assert task["status"] == "completed", task["error"]
    assert read_labels(user_db.engine, user_db.output) == {
        2: (["swelling"], {"swelling": ["붓기"]}),
        3: (["price", "swelling"], {"price": ["가격"], "swelling": ["붓기"]}),
        4: ([], {}),
        5: (["price"], {"price": ["비싸"]}),
    }
    assert (task["progress"], task["total"], task["rows_received"], task["rows_written"]) == (4, 4, 4, 4)
    summary = task["result_summary"]
    assert (summary["rows_received"], summary["rows_labeled"], summary["rows_written"]) == (4, 3, 4)
    assert summary["unique_authors"] == 3                         # kim, lee, park (and one without)
    assert summary["rate_of_label"] == {"price": 0.5, "swelling": 0.5}
    assert task["peak_memory"] > 0 and task["run_time"] >= 0 and task["error"] is None
    assert not [name for name in table_names(user_db.engine) if name.startswith("lt_")]  # no staging left
    assert task["params"]["input"]["table"] == user_db.posts       # the body is visible, secrets aside

    sample = client.get(f"{API}/task/{task['id']}/sample?size=10").json
    assert (sample["count"], sample["table"], sample["status"]) == (4, user_db.output, "completed")
    by_id = {row["id"]: row for row in sample["data"]}
    assert set(by_id) == {2, 3, 4, 5}
    assert by_id[3]["text"] == "가격 문의합니다, 붓기도요" and by_id[3]["author"] == "lee"
    assert by_id[3]["labels"] == ["price", "swelling"] and by_id[3]["time"].startswith("2026-01-03T12:00:00")


def test_the_sample_matches_the_openapi_document(client, worker, user_db):
    """A label_table sample has its own shape (the table, labeled rows with their text): the
    documented response must allow it, as it allows an item sample, or clients generated from it break."""
    make_posts(user_db.engine, user_db.posts, POSTS)
    worker(threads=1)
    task = wait_status(client, start(client, "label_table", **body(user_db)), {"completed", "failed"})
    assert task["status"] == "completed", task["error"]
    document = schemathesis.openapi.from_dict(client.get("/openapi.json").json)
    operation = document[f"{API}/task/{{task_id}}/sample"]["GET"]

    labeled = client.get(f"{API}/task/{task['id']}/sample?size=2")
    assert labeled.status_code == 200 and labeled.json["table"] == user_db.output and len(labeled.json["data"]) == 2
    operation.validate_response(labeled)
    items = client.get(f"{API}/task/{start(client, 'trials', countdown=3600)}/sample?size=2")
    assert items.status_code == 200 and items.json["data"] == []
    operation.validate_response(items)


def test_regex_rules_replace_an_existing_output_table(client, worker, user_db):
    make_posts(user_db.engine, user_db.posts, POSTS)
    make_posts(user_db.engine, user_db.output, [(99, "old output row", None, T(2020, 1, 1))])
    rules = {"model": "regex", "labels": {"question": r"(요|까)\s*$", "upper": r"[A-Z]{3,}"}}
    worker(threads=1)
    task_id = start(client, "label_table", **body(user_db, rules=rules, start="2026-01-01T00:00:00+09:00",
                                                  end="2026-02-01T09:00:00+09:00"))
    task = wait_status(client, task_id, {"completed", "failed"})

    assert task["status"] == "completed", task["error"]
    labels = read_labels(user_db.engine, user_db.output)
    # 2025-12-31T15:00Z <= time < 2026-02-01T00:00Z: every post but the last one
    assert sorted(labels) == [1, 2, 3, 4, 5, 6]
    assert labels[1] == (["question"], {"question": ["요"]})
    assert labels[5] == (["upper"], {"upper": ["PRICE"]})
    assert labels[4] == (["question"], {"question": ["요"]})
    assert labels[6] == ([], {})
    assert set(dump_rows(user_db.engine, user_db.output)[0].keys()) == set(OUTPUT_COLUMNS)
    assert any("replaced" in line for line in task["logs"])


def test_sample_while_running_then_cancel_leaves_the_output_untouched(app, client, worker, user_db):
    make_posts(user_db.engine, user_db.posts, [(i, f"post {i} 가격" if i % 2 else f"post {i}", f"u{i % 3}",
                                                 T(2026, 1, 3, 0, 0, i)) for i in range(1, 31)])
    make_posts(user_db.engine, user_db.output, [(99, "the output before the job", None, T(2020, 1, 1))])
    before = dump_rows(user_db.engine, user_db.output)
    # Five rows per chunk, then a minute's pause: the job is deterministically mid-run after chunk one.
    app.config.update(COLLECTOR_LABEL_TABLE_CHUNK_ROWS=5, COLLECTOR_PACING_LABEL_TABLE=60.0)
    worker(threads=1)
    task_id = start(client, "label_table", **body(user_db))
    try:
        # Progress is recorded after the chunk is written: from then on the job is in its pause.
        running = wait_for(lambda: (t := task_of(client, task_id))["progress"] == 5 and t, what="the first chunk")
        sample = client.get(f"{API}/task/{task_id}/sample?size=3").json
    finally:
        assert client.delete(f"{API}/task/{task_id}").status_code == 200   # even if a wait failed
    task = wait_status(client, task_id, {"cancelled", "completed", "failed"})

    assert (running["status"], running["total"], running["rows_received"]) == ("running", 30, 5)
    assert (sample["status"], sample["count"]) == ("running", 5) and sample["table"].startswith("lt_stage_")
    assert len(sample["data"]) == 3
    for row in sample["data"]:
        assert 1 <= row["id"] <= 5
        assert row["text"] == (f"post {row['id']} 가격" if row["id"] % 2 else f"post {row['id']}")
        assert row["labels"] == (["price"] if row["id"] % 2 else [])
    assert task["status"] == "cancelled"
    assert dump_rows(user_db.engine, user_db.output) == before
    assert sample["table"] not in table_names(user_db.engine)
    assert client.get(f"{API}/task/{task_id}/sample").json["count"] == 0


def test_a_missing_column_fails_the_task_naming_it(client, worker, user_db):
    make_posts(user_db.engine, user_db.posts, POSTS)
    worker(threads=1)
    start_body = body(user_db)
    start_body["input"]["text_column"] = "contents"
    task = wait_status(client, start(client, "label_table", **start_body), {"completed", "failed"})

    assert task["status"] == "failed"
    assert "'contents' (text_column) not found" in task["error"] and "body" in task["error"]
    assert user_db.output not in table_names(user_db.engine)
    assert client.get(f"{API}/task/{task['id']}/sample").json["count"] == 0


def test_output_into_another_database_and_text_times_with_offsets_in_sqlite(app, client, worker, tmp_path):
    from sqlalchemy import create_engine, text

    folder = tmp_path / "dumps"
    source, target = folder / "posts.sqlite3", folder / "labels.sqlite3"
    engine = create_engine(f"sqlite:///{source}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE posts (post_id INTEGER PRIMARY KEY, body TEXT, posted_at TEXT)"))
        connection.execute(text("INSERT INTO posts VALUES (1, '가격', '2026-01-02T08:59:59+09:00'), "
                                "(2, '가격', '2026-01-02T09:00:00+09:00'), (3, '붓기', '2026-01-05 23:59:59.5'), "
                                "(4, '가격', '2026-01-06T00:00:00Z')"))
    engine.dispose()
    worker(threads=1)
    task_id = start(client, "label_table", rules=KEYWORDS, start="2026-01-02T00:00:00Z", end="2026-01-06T00:00:00Z",
                    input={"database_url": f"sqlite:///{source}", "table": "posts", "text_column": "body",
                           "id_column": "post_id", "time_column": "posted_at"},
                    output={"database_url": f"sqlite:///{target}", "table": "posts"})
    task = wait_status(client, task_id, {"completed", "failed"})

    assert task["status"] == "completed", task["error"]
    output = create_engine(f"sqlite:///{target}")
    assert read_labels(output, "posts") == {2: (["price"], {"price": ["가격"]}),
                                            3: (["swelling"], {"swelling": ["붓기"]})}
    output.dispose()
    assert task["result_summary"]["unique_authors"] is None


@pytest.mark.parametrize(("change", "path"), [
    (lambda b: b["input"].update(text_column="body; DROP TABLE posts"), ("input", "text_column")),
    (lambda b: b["input"].update(id_column='id"--'), ("input", "id_column")),
    (lambda b: b["input"].update(table="1posts"), ("input", "table")),
    (lambda b: b["input"].update(author_column=""), ("input", "author_column")),
    (lambda b: b["input"].pop("time_column"), ("input", "time_column")),
    (lambda b: b["input"].update(surprise=1), ("input", "surprise")),
    (lambda b: b["input"].update(database_url="mongodb://u:p@h/db"), ("input", "database_url")),
    (lambda b: b["input"].update(database_url="sqlite:////etc/passwd.sqlite3"), ("input", "database_url")),
    (lambda b: b["input"].update(database_url="not a url"), ("input", "database_url")),
    (lambda b: b["output"].update(table="sqlite_master"), ("output", "table")),
    (lambda b: b["output"].update(table="POSTS"), ("output", "table")),
    (lambda b: b.pop("output"), ("output",)),
    (lambda b: b.update(end="2026-01-01T00:00:00Z"), ("end",)),
    (lambda b: b.update(start="yesterday"), ("start",)),
    (lambda b: b.update(rules={"model": "regex", "labels": {"bad": "(a)\\1"}}), ("rules", "rules.labels.bad")),
    (lambda b: b.update(rules={"model": "keyword", "labels": {"x": []}}), ("rules", "rules.labels.x")),
    (lambda b: b.pop("rules"), ("rules",)),
])
def test_bad_start_bodies_are_422_naming_the_field(client, tmp_path, change, path):
    start_body = body(type("Db", (), {"url": f"sqlite:///{tmp_path / 'dumps' / 'u.sqlite3'}",
                                      "posts": "posts", "output": "labels"}))
    change(start_body)
    response = client.post(f"{API}/label_table/start", json=start_body)

    assert response.status_code == 422, response.json
    errors = response.json["errors"]["json"]
    for key in path:
        errors = errors[key]
    assert errors and path[0] in response.json["message"]
    assert client.get(f"{API}/tasks").json["count"] == 0


def test_the_source_is_described(client):
    described = {s["name"]: s for s in client.get(f"{API}/sources").json}["label_table"]
    assert described["type"] == "label_table_collect"
    assert {"input", "start", "end", "rules", "output"} <= set(described["params"])
    assert described["params"]["rules"]["required"] is True
    assert described["params"]["input"]["type"] == described["params"]["output"]["type"] == "object"


def test_no_rows_in_range_gives_an_empty_output_table(client, worker, user_db):
    make_posts(user_db.engine, user_db.posts, POSTS)
    worker(threads=1)
    later = body(user_db, start="2030-01-01T00:00:00", end="2030-02-01T00:00:00")
    task = wait_status(client, start(client, "label_table", **later), {"completed", "failed"})
    assert task["status"] == "completed", task["error"]
    assert (task["total"], task["result_summary"]["rows_received"]) == (0, 0)
    assert read_labels(user_db.engine, user_db.output) == {}


def test_a_failure_mid_run_leaves_the_output_as_it_was(app, client, worker, user_db):
    from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text

    # No primary key: id 7 twice makes the second chunk's write fail (the output's key is the id).
    posts = Table(user_db.posts, MetaData(), Column("post_id", Integer), Column("body", Text),
                  Column("writer", Text), Column("posted_at", DateTime))
    posts.create(user_db.engine)
    with user_db.engine.begin() as connection:
        connection.execute(posts.insert(), [{"post_id": n, "body": "가격", "writer": "kim",
                                             "posted_at": T(2026, 1, 3)} for n in [*range(1, 11), 7, None]])
    make_posts(user_db.engine, user_db.output, [(99, "the output before the job", None, T(2020, 1, 1))])
    before = dump_rows(user_db.engine, user_db.output)
    app.config.update(COLLECTOR_LABEL_TABLE_CHUNK_ROWS=5)
    worker(threads=1)
    task = wait_status(client, start(client, "label_table", **body(user_db)), {"completed", "failed"})

    assert task["status"] == "failed"
    assert "duplicate" in task["error"].lower() or "unique constraint" in task["error"].lower()
    assert (task["total"], task["progress"], task["rows_written"]) == (11, 5, 5)   # the row without an id left out
    assert dump_rows(user_db.engine, user_db.output) == before
    assert not [name for name in table_names(user_db.engine) if name.startswith("lt_")]
