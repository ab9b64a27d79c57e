"""Grader: one sandbox day of attempts end to end (download -> parse and validate -> load into
PostgreSQL), each stage's rate, beside a naive row-by-row baseline and PostgreSQL COPY of the
same rows from a prepared file (the ceiling of the load step).

The sandbox stand-in runs under gunicorn; windows are downloaded by two threads ahead of the
main thread, which parses, validates and loads them (the service's own `store_rows`: binary
COPY into a staging table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING), as the
collector's grader source and the grader service do, minus the HTTP hop between them.

BENCH_GRADER_ATTEMPTS (default 1,000,000) sets the day's size; BENCH_GRADER_NAIVE_ROWS (default
20,000) and BENCH_GRADER_NAIVE_COMMIT_ROWS (default 5,000) the samples the naive baselines run on
(row by row, a million would take minutes to hours).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from bench.common import bench_database_url, gunicorn, row
from shared.connectors.grader import GraderClient, day_bounds, normalize_record, windows
from shared.http import HttpSession

ATTEMPTS = int(os.environ.get("BENCH_GRADER_ATTEMPTS", "1000000"))
NAIVE_ROWS = int(os.environ.get("BENCH_GRADER_NAIVE_ROWS", "20000"))
# A commit per row costs a disk flush each: a smaller sample gives the same rate.
NAIVE_COMMIT_ROWS = int(os.environ.get("BENCH_GRADER_NAIVE_COMMIT_ROWS", "5000"))
DAY = date(2024, 3, 1)
CLIENT, KEY = "Skillfactory", "bench-grader-key"


def grader_app(url: str):
    import flask_migrate

    from services.grader import create_app
    from services.grader.models import db

    migrations = os.path.join(os.path.dirname(__file__), "..", "services", "grader", "migrations")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        flask_migrate.upgrade(directory=migrations)
        db.engine.dispose()
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"}), db


def raw_connection(url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = parsed.query.get("options")
    conninfo = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    return psycopg.connect(conninfo, options=options)


def parse_and_validate(raws: list, validate) -> tuple[list[tuple], int]:
    rows, rejected = [], 0
    for raw in raws:
        try:
            rows.append(validate(normalize_record(raw)))
        except ValueError:  # RecordRejected
            rejected += 1
    return rows, rejected


def ours(sandbox: str, url: str) -> dict:
    """The pipeline over the whole day; returns stage seconds and counts."""
    from services.grader.attempts import store_rows, validate_attempt

    app, db = grader_app(url)
    client = GraderClient(sandbox, CLIENT, KEY, HttpSession(timeout=300, retries=2))
    parts = list(windows(*day_bounds(DAY), timedelta(hours=1)))
    timings = {"download": 0.0, "parse": 0.0, "load": 0.0}
    counts = {"received": 0, "rows": 0, "rejected": 0, "inserted": 0}
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool, app.app_context():
        downloads = [pool.submit(client.fetch_window, low, high) for low, high in parts]
        for future in downloads:
            download = future.result()
            timings["download"] += download.seconds
            started = time.perf_counter()
            rows, rejected = parse_and_validate(download.records, validate_attempt)
            timings["parse"] += time.perf_counter() - started
            started = time.perf_counter()
            counts["inserted"] += store_rows(rows)
            db.session.commit()
            timings["load"] += time.perf_counter() - started
            counts["received"] += len(download.records)
            counts["rows"] += len(rows)
            counts["rejected"] += rejected
        db.engine.dispose()
    timings["total"] = time.perf_counter() - began
    return {**timings, **counts, "app": app}


def copy_ceiling(url: str, rows: list[tuple]) -> float:
    """COPY of the same rows, from a prepared text file, into an empty attempts table."""
    from services.grader.models import ATTEMPT_COLUMNS

    def text(value) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    path = os.path.join(os.path.dirname(__file__), "out", "grader-copy.tsv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.writelines("\t".join(text(v) for v in values) + "\n" for values in rows)
    with raw_connection(url) as conn:
        conn.execute("TRUNCATE attempts")
        conn.commit()
        started = time.perf_counter()
        statement = f"COPY attempts ({', '.join(ATTEMPT_COLUMNS)}) FROM STDIN"
        with conn.cursor() as cursor, open(path, "rb") as source, cursor.copy(statement) as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
    os.remove(path)
    return seconds


def naive(sandbox: str, url: str, commit_each: bool, sample: int) -> tuple[int, float]:
    """What public scripts do: download, parse, then one INSERT per row (and, in most of them,
    a commit per row), on the first `sample` attempts of the day."""
    from services.grader.attempts import validate_attempt
    from services.grader.models import ATTEMPT_COLUMNS

    client = GraderClient(sandbox, CLIENT, KEY, HttpSession(timeout=300, retries=2))
    start, end = day_bounds(DAY)
    span = timedelta(seconds=86_400 * sample / ATTEMPTS)
    sql = (f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES ({', '.join(['%s'] * len(ATTEMPT_COLUMNS))}) "
           "ON CONFLICT DO NOTHING")
    with raw_connection(url) as conn:
        conn.execute("TRUNCATE attempts")
        conn.commit()
        started = time.perf_counter()
        raws = client.fetch_window(start, min(end, start + span)).records
        rows, _ = parse_and_validate(raws, validate_attempt)
        with conn.cursor() as cursor:
            for values in rows:
                cursor.execute(sql, values)
                if commit_each:
                    conn.commit()
        conn.commit()
        return len(raws), time.perf_counter() - started


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run() -> list[dict]:
    url = bench_database_url("bench_grader")
    env = {"SANDBOX_GRADER_ATTEMPTS_PER_DAY": str(ATTEMPTS), "SANDBOX_GRADER_CLIENT": CLIENT,
           "SANDBOX_GRADER_CLIENT_KEY": KEY}
    print(f"grader: {ATTEMPTS:,} attempts, sandbox -> parse/validate -> PostgreSQL")
    from services.grader.attempts import store_rows
    from services.grader.models import db

    with gunicorn("deploy.sandbox:create_app()", env, workers=2, threads=1) as sandbox:
        result = ours(sandbox, url)
        print(f"  ours: {result['received']:,} received, {result['inserted']:,} inserted, {result['rejected']:,} "
              f"rejected; total {result['total']:.1f} s (download {result['download']:.1f} s in 2 threads, "
              f"parse+validate {result['parse']:.1f} s, load {result['load']:.1f} s)")
        rows = _rows_of_the_day(url)  # the rows exactly as the pipeline loaded them
        naive_rows, naive_seconds = naive(sandbox, url, commit_each=True, sample=NAIVE_COMMIT_ROWS)
        print(f"  naive, a commit per row: {naive_rows:,} attempts in {naive_seconds:.1f} s")
        batch_rows, batch_seconds = naive(sandbox, url, commit_each=False, sample=NAIVE_ROWS)
        print(f"  naive, one commit: {batch_rows:,} attempts in {batch_seconds:.1f} s")
    copy_seconds = copy_ceiling(url, rows)
    app = result["app"]
    with app.app_context():
        started = time.perf_counter()
        store_rows(rows)  # everything is stored already (COPY put it there): the idempotent re-load
        db.session.commit()
        reload_seconds = time.perf_counter() - started
        db.engine.dispose()
    print(f"  COPY ceiling: {len(rows):,} rows in {copy_seconds:.1f} s; re-load of duplicates {reload_seconds:.1f} s")

    end_to_end = rate(result["received"], result["total"])
    naive_rate = rate(naive_rows, naive_seconds)
    one_commit_rate = rate(batch_rows, batch_seconds)
    load_rate = rate(result["rows"], result["load"])
    copy_rate = rate(len(rows), copy_seconds)
    return [
        row(f"Grader end to end, {ATTEMPTS:,} attempts (sandbox -> parse/validate -> PostgreSQL)",
            f"{end_to_end:,.0f} attempts/s",
            f"{naive_rate:,.0f} attempts/s (naive: an INSERT and a commit per row, {naive_rows:,} rows)",
            f"{end_to_end / naive_rate:.1f}", "≥ 20"),
        row("Grader end to end, same run, against a gentler naive baseline",
            f"{end_to_end:,.0f} attempts/s",
            f"{one_commit_rate:,.0f} attempts/s (an INSERT per row, one commit, {batch_rows:,} rows)",
            f"{end_to_end / one_commit_rate:.1f}"),
        row("Grader load step (binary COPY; staging + INSERT ... ON CONFLICT when the span holds rows)",
            f"{load_rate:,.0f} rows/s", f"{copy_rate:,.0f} rows/s (COPY from a prepared file)",
            f"{load_rate / copy_rate:.2f}", "≥ 0.5"),
        row("Grader stage: download (sandbox, 1-hour windows, 2 threads)",
            f"{rate(result['received'], result['download']):,.0f} attempts/s"),
        row("Grader stage: parse + validate", f"{rate(result['received'], result['parse']):,.0f} attempts/s"),
        row("Grader idempotent re-load (all rows already stored)", f"{rate(len(rows), reload_seconds):,.0f} rows/s"),
    ]


def _rows_of_the_day(url: str) -> list[tuple]:
    """The stored attempts, as rows in the load order (what COPY gets)."""
    from services.grader.models import ATTEMPT_COLUMNS

    with raw_connection(url) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts ORDER BY id")]


if __name__ == "__main__":
    for line in run():
        print(line)
