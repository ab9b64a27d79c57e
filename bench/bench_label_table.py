"""label_table: rows labeled per second over a PostgreSQL table with 20 keyword labels, by one real worker
process (one thread for the task: its pipeline reads and writes in two more), from
`POST .../label_table/start` to the output table swapped in; beside the labeling alone (the rules over
the same texts in memory, no database, measured right after each run, under the same load), which bounds
it from above. Run at each of BENCH_LABEL_TABLE_ROWS (default 250,000 and 1,000,000 rows): the worker's
peak RSS at both shows whether memory grows with the table."""
from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.engine import make_url

from bench.common import OUT, bench_database_url, dramatiq_worker, row

ROW_COUNTS = [int(n) for n in os.environ.get("BENCH_LABEL_TABLE_ROWS", "250000,1000000").split(",")]
CHUNK_ROWS = os.environ.get("COLLECTOR_LABEL_TABLE_CHUNK_ROWS", "5000")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN = "bench-token"
WORDS_PER_TEXT = 30
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
LABELS = {f"label{n:02d}": [f"키워드{n:02d}a", f"keyword{n:02d}b", f"표현{n:02d}c"] for n in range(20)}
FILLER = [f"단어{n}" for n in range(300)] + [f"word{n}" for n in range(300)]


def texts(count: int, seed: int):
    """Comment-like texts of 30 words; about 2% of words are keywords, so ~45% of rows get a label."""
    rng = random.Random(seed)
    keywords = [word for words in LABELS.values() for word in words]
    for _ in range(count):
        yield " ".join(rng.choice(keywords) if rng.random() < 0.02 else rng.choice(FILLER)
                       for _ in range(WORDS_PER_TEXT))


def fill_input(url: str, rows: int) -> None:
    """The user's table: (id, body, author, created_at), one row per second from 2026-01-01, by COPY."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        connection.execute("CREATE TABLE posts (id bigint PRIMARY KEY, body text, author text, "
                           "created_at timestamptz NOT NULL)")
        with connection.cursor().copy("COPY posts (id, body, author, created_at) FROM STDIN") as copy:
            for number, body in enumerate(texts(rows, 7), start=1):
                copy.write_row((number, body, f"user{number % 50_000}", FIRST + timedelta(seconds=number)))
        connection.execute("ANALYZE posts")


def labeling_alone() -> float:
    """Rows per second of the rules alone, on texts already in memory."""
    from services.collector.labeling import compile_rules

    rules = compile_rules({"model": "keyword", "labels": LABELS})
    sample = list(texts(100_000, 11))
    started = time.perf_counter()
    for text in sample:
        rules.matched_terms(text)
    return len(sample) / (time.perf_counter() - started)


def label_table(rows: int) -> dict:
    """One run over `rows` rows in a fresh worker process: the finished task, and the labeling alone after it."""
    from services.collector import create_app
    from services.collector.models import db

    print(f"  label_table: filling {rows:,} rows...", flush=True)
    user_url = bench_database_url("bench_label_table_user")
    started = time.perf_counter()
    fill_input(user_url, rows)
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
    collector_url = bench_database_url("bench_label_table_collector")
    env = {"COLLECTOR_DATABASE_URL": collector_url, "REDIS_URL": REDIS_URL, "SERVICE_TOKEN": TOKEN,
           "COLLECTOR_NAMESPACE": f"bench-label-{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "WARNING",
           "COLLECTOR_LABEL_TABLE_CHUNK_ROWS": CHUNK_ROWS, "LOG_DIR": str(OUT / "log")}
    app = create_app({"SQLALCHEMY_DATABASE_URI": collector_url, "REDIS_URL": REDIS_URL, "SERVICE_TOKEN": TOKEN,
                      "COLLECTOR_NAMESPACE": env["COLLECTOR_NAMESPACE"], "LOG_LEVEL": "WARNING",
                      "LOG_DIR": OUT / "log"})
    with app.app_context():
        db.create_all()
    client = app.test_client()
    before, load = labeling_alone(), os.getloadavg()[0]
    body = {"input": {"database_url": user_url, "table": "posts", "text_column": "body", "id_column": "id",
                      "time_column": "created_at", "author_column": "author"},
            "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z",
            "rules": {"model": "keyword", "labels": LABELS}, "output": {"table": "posts_labels"}}
    with dramatiq_worker("label-table-worker.log", 1, env):
        response = client.post("/api/v1/async-collection/label_table/start", json=body)
        task_id = response.json["task_id"]
        task = {}
        while task.get("status") not in ("completed", "failed", "cancelled"):
            time.sleep(1)
            task = client.get(f"/api/v1/async-collection/task/{task_id}").json
            print(f"  {task['status']}: {task['progress']:,.0f}/{(task['total'] or 0):,.0f} rows", flush=True)
    with app.app_context():
        db.engine.dispose()
    if task["status"] != "completed":
        raise RuntimeError(f"the label_table task ended {task['status']}: {task.get('error')}")
    after = labeling_alone()
    # The ceiling under the run's own conditions: the labeling alone just before and just after it.
    task["rate"], task["alone"] = rows / task["run_time"], (before + after) / 2
    task["load"] = (load, os.getloadavg()[0])
    print(f"  {task['rate']:,.0f} rows/s over {task['run_time']:.1f} s "
          f"({task['result_summary']['rows_labeled']:,} labeled); labeling alone {before:,.0f} rows/s before, "
          f"{after:,.0f} after; worker peak RSS {task['peak_memory'] / 2**20:.0f} MiB; "
          f"load average {load:.1f} before, {task['load'][1]:.1f} after")
    return task


def run() -> list[dict]:
    runs = {rows: label_table(rows) for rows in ROW_COUNTS}
    lines = []
    for rows, task in runs.items():
        lines.append(row(f"label_table: {rows:,} PostgreSQL rows, 20 keyword labels, 1 worker thread (rows/s)",
                         f"{task['rate']:,.0f} rows/s ({task['run_time']:.0f} s)",
                         f"{task['alone']:,.0f} rows/s (labeling alone, in memory; load average "
                         f"{task['load'][0]:.1f}–{task['load'][1]:.1f})",
                         f"{task['rate'] / task['alone']:.2f}", goal="≥ 0.8 of labeling alone"))
    rss = {rows: task["peak_memory"] / 2**20 for rows, task in runs.items()}
    fewest, most = min(rss), max(rss)
    lines.append(row("label_table: worker peak RSS at " + " and ".join(f"{rows:,}" for rows in rss) + " rows",
                     " / ".join(f"{mib:.0f} MiB" for mib in rss.values()), "",
                     f"{rss[most] / rss[fewest]:.2f}" if most != fewest else "",
                     goal=f"flat in the row count (chunks of {CHUNK_ROWS})"))
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
