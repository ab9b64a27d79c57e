"""label_table past COLLECTOR_LABEL_TABLE_PROCESS_ROWS: the rows labeled in the worker's labeling process
(label_table/labeler.py) come out as they do labeled in the job's own thread, on every user backend."""
# ruff: noqa: F811 (the user_db fixture is imported from label_table_support and requested by name)
from __future__ import annotations

import os
from datetime import datetime

from services.collector.label_table import labeler
from services.collector.labeling import compile_rules
from tests.collector.label_table_support import (
    API,
    fresh_labeling_process,  # noqa: F401 (an autouse fixture)
    make_posts,
    read_labels,
    sqlite_dir,  # noqa: F401 (an autouse fixture)
    user_db,  # noqa: F401 (a fixture)
)
from tests.support.collector import start, wait_status

RULES = {"model": "keyword", "labels": {"price": ["가격", "비싸"], "swelling": ["붓기"]}}
TEXTS = ["가격이 비싸요", "붓기 질문", "오늘 날씨", None, "PRICE 가격", "붓기와 가격", "", "후기"]
T = datetime


def test_a_table_past_the_threshold_is_labeled_in_the_child_with_the_same_output(app, client, worker, user_db):
    posts = [(n, TEXTS[n % len(TEXTS)], f"u{n % 3}", T(2026, 1, 2, 0, n)) for n in range(1, 41)]
    make_posts(user_db.engine, user_db.posts, posts)
    app.config.update(COLLECTOR_LABEL_TABLE_PROCESS_ROWS=40, COLLECTOR_LABEL_TABLE_CHUNK_ROWS=6)
    worker(threads=1)
    child = labeler.PROCESS.start().result()     # ready before the job: every chunk goes to it
    body = {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z", "rules": RULES,
            "input": {"database_url": user_db.url, "table": user_db.posts, "text_column": "body",
                      "id_column": "post_id", "time_column": "posted_at"}}
    task = wait_status(client, start(client, "label_table", **body, output={"table": user_db.output}),
                       {"completed", "failed"})
    in_child = read_labels(user_db.engine, user_db.output)
    still = labeler.PROCESS.pid()
    labeler.PROCESS.shutdown()
    app.config.update(COLLECTOR_LABEL_TABLE_PROCESS_ROWS=41)     # one row short: in the job's thread
    again = wait_status(client, start(client, "label_table", **body, output={"table": user_db.output + "b"}),
                        {"completed", "failed"})

    assert task["status"] == again["status"] == "completed", (task["error"], again["error"])
    assert still == child != os.getpid() and labeler.PROCESS.pid() is None
    rules = compile_rules(RULES)
    expected = {n: (list(terms), terms) for n, text, _author, _time in posts
                for terms in [rules.matched_terms(text)]}
    assert in_child == read_labels(user_db.engine, user_db.output + "b") == expected
    assert task["result_summary"]["rows_labeled"] == sum(1 for labels, _ in expected.values() if labels)
    logs = [line["message"] for line in client.get(f"{API}/task/{task['id']}/logs?per_page=100").json["data"]]
    assert any(line.startswith("The labeling processes spent") and line.endswith(
        "; 0 chunk(s) labeled in the job's thread while it started") for line in logs)
    logs = [line["message"] for line in client.get(f"{API}/task/{again['id']}/logs?per_page=100").json["data"]]
    assert not any(line.startswith("The labeling process") for line in logs)
