"""label_table after a worker crash: the reaper re-runs the task, which resumes on its staging
table after the last saved chunk instead of starting over."""
from __future__ import annotations

import os
import re
import signal
from datetime import datetime, timedelta

from services.collector import tasks
from tests.collector.label_table_support import (
    API,
    make_posts,
    read_labels,
    sqlite_dir,  # noqa: F401 (an autouse fixture)
)
from tests.support.collector import start, task_of, wait_status
from tests.support.processes import collector_worker
from tests.support.waiting import wait_for

ROWS = 100


def test_a_worker_killed_mid_job_is_reaped_and_the_rerun_resumes(app, client, worker, live_process,
                                                                 collector_config, tmp_path):
    from sqlalchemy import create_engine

    user_file = tmp_path / "dumps" / "user.sqlite3"
    engine = create_engine(f"sqlite:///{user_file}")
    make_posts(engine, "posts", [(n, "가격" if n % 4 == 0 else "후기", f"u{n % 7}",
                                  datetime(2026, 1, 2) + timedelta(minutes=n)) for n in range(1, ROWS + 1)])
    app.config.update(COLLECTOR_HEARTBEAT_TIMEOUT=2.0, COLLECTOR_HEARTBEAT_SECONDS=0.5,
                      COLLECTOR_LABEL_TABLE_CHUNK_ROWS=5)
    env = {key: value for key, value in collector_config.items() if isinstance(value, (str, int, float))
           and key != "TESTING"}
    env.update(COLLECTOR_DATABASE_URL=collector_config["SQLALCHEMY_DATABASE_URI"], COLLECTOR_HEARTBEAT_SECONDS=0.5,
               COLLECTOR_LABEL_TABLE_CHUNK_ROWS=5, COLLECTOR_PACING_LABEL_TABLE=0.3,
               LOG_DIR=str(collector_config["LOG_DIR"]), VAR_DIR=str(collector_config["VAR_DIR"]))
    doomed = live_process(collector_worker(1),
                          env=env, name="worker")
    task_id = start(client, "label_table", start="2026-01-01T00:00:00Z", end="2026-02-01T00:00:00Z",
                    input={"database_url": f"sqlite:///{user_file}", "table": "posts", "text_column": "body",
                           "id_column": "post_id", "time_column": "posted_at", "author_column": "writer"},
                    rules={"model": "keyword", "labels": {"price": ["가격"]}}, output={"table": "labels"})
    wait_for(lambda: task_of(client, task_id)["progress"] >= 15, what="three chunks labeled")

    os.killpg(doomed.process.pid, signal.SIGKILL)   # the worker and its children, as a crash would
    doomed.kill()
    stalled = task_of(client, task_id)
    assert stalled["status"] == "running" and stalled["attempt"] == 1
    with app.app_context():
        wait_for(lambda: tasks.reap() == [task_id], timeout=30, interval=0.2, what="the reaper to see the lost worker")
    worker(threads=1)
    task = wait_status(client, task_id, {"completed", "failed", "cancelled"})

    assert task["status"] == "completed", task["error"]
    assert task["attempt"] == 2
    lines = "\n".join(line["message"] for line in client.get(f"{API}/task/{task_id}/logs?per_page=100").json["data"])
    resumed_at = int(re.search(rf"Resuming after (\d+) of {ROWS} rows \(attempt 2\)", lines).group(1))
    assert stalled["progress"] <= resumed_at < ROWS and resumed_at % 5 == 0
    labels = read_labels(engine, "labels")
    engine.dispose()
    assert sorted(labels) == list(range(1, ROWS + 1))
    assert all(labels[n] == ((["price"], {"price": ["가격"]}) if n % 4 == 0 else ([], {})) for n in labels)
    summary = task["result_summary"]
    assert (summary["rows_received"], summary["rows_labeled"], summary["unique_authors"]) == (ROWS, ROWS // 4, 7)
    assert ROWS <= task["rows_received"] <= ROWS + 5           # at most the chunk in flight was read twice
