"""Trials: GET /trials and GET /trials/{id} under gunicorn + wrk beside a bare Flask ceiling,
and the time to upsert a 100,000-trial snapshot (first load, unchanged re-load)."""
from __future__ import annotations

import os
import time

from bench.common import bench_database_url, gunicorn, row, wrk
from deploy.sandbox.odcloud import generate_trials

TRIALS = int(os.environ.get("BENCH_TRIALS", "100000"))
HTTP_TRIALS = int(os.environ.get("BENCH_HTTP_TRIALS", "10000"))
BATCH = 5000
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))


def load(app, records: list[dict], snapshot_id: str) -> float:
    from services.trials import trials

    started = time.perf_counter()
    with app.app_context():
        pages = (records[i:i + BATCH] for i in range(0, len(records), BATCH))
        trials.load_snapshot(pages, snapshot_id)
    return time.perf_counter() - started


def snapshot_figures(url: str, label: str) -> list[dict]:
    from services.trials import create_app
    from services.trials.models import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        db.create_all()
    records = generate_trials(TRIALS, 42)
    first = load(app, records, "bench-1")
    again = load(app, records, "bench-2")
    with app.app_context():
        db.engine.dispose()
    print(f"  {label}: first load {first:.1f} s, unchanged re-load {again:.1f} s")
    return [
        row(f"Upsert {TRIALS:,}-trial snapshot, first load ({label})", f"{first:.1f} s"),
        row(f"Upsert {TRIALS:,}-trial snapshot, unchanged re-load ({label})", f"{again:.1f} s",
            goal="< 10 s"),
    ]


def http_figures() -> list[dict]:
    from services.trials import create_app
    from services.trials.models import db

    url = bench_database_url("bench_trials_http")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        db.create_all()
    load(app, generate_trials(HTTP_TRIALS, 7), "http")
    with app.app_context():
        db.engine.dispose()
    env = {"TRIALS_DATABASE_URL": url}
    with gunicorn("bench.bare_flask:create_app()", env) as bare:
        ceiling = wrk(bare + "/json", SECONDS)
    print(f"  bare Flask: {ceiling['rps']:.0f} req/s")
    rows = []
    for cache_seconds, label in (("1", "micro-cache 1 s, the default"), ("0", "cache off")):
        with gunicorn("services.trials:create_app()", {**env, "TRIALS_CACHE_SECONDS": cache_seconds}) as trials_url:
            for name, path in (("GET /trials/{id}", "/trials/C101234"), ("GET /trials (page of 20)", "/trials"),
                               ("GET /list (recent)", "/list")):
                result = wrk(trials_url + path, SECONDS)
                ratio = result["rps"] / ceiling["rps"]
                print(f"  {name} ({label}): {result['rps']:.0f} req/s, "
                      f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms")
                rows.append(row(f"{name} ({label}): requests/s", f"{result['rps']:.0f}",
                                f"{ceiling['rps']:.0f} (bare Flask JSON)", f"{ratio:.2f}", "≥ 0.5"))
                rows.append(row(f"{name} ({label}): latency p50 / p99",
                                f"{result['p50']:.1f} / {result['p99']:.1f} ms",
                                f"{ceiling['p50']:.1f} / {ceiling['p99']:.1f} ms"))
    return rows


def run() -> list[dict]:
    print(f"trials: HTTP on PostgreSQL with {HTTP_TRIALS:,} trials (gunicorn 2 sync workers, "
          "wrk 2 threads x 16 connections)")
    rows = http_figures()
    print(f"trials: snapshot upsert of {TRIALS:,} records in batches of {BATCH}")
    rows += snapshot_figures(bench_database_url("bench_trials_load"), "PostgreSQL")
    rows += snapshot_figures(f"sqlite:///{_sqlite_path()}", "SQLite")
    return rows


def _sqlite_path():
    from bench.common import OUT

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "bench_trials.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return path


if __name__ == "__main__":
    for r in run():
        print(r)
