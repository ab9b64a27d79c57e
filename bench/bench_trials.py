"""Trials: uncached reads (one trial, a page with its total, searches, /list) at 10,000 and
100,000 trials on SQLite and PostgreSQL, in-process and, when the machine is quiet enough, under
gunicorn + wrk beside a bare Flask ceiling; and the time to upsert a 100,000-trial snapshot
(first load, unchanged re-load)."""
from __future__ import annotations

import os
import time

from bench.common import bench_database_url, gunicorn, row, wrk
from deploy.sandbox.odcloud import generate_trials

TRIALS = int(os.environ.get("BENCH_TRIALS", "100000"))
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


SIZES = tuple(int(n) for n in os.environ.get("BENCH_TRIALS_SIZES", "10000,100000").split(","))
REQUESTS = int(os.environ.get("BENCH_TRIALS_REQUESTS", "300"))
# Distinct URLs, so that only what is kept per filter (the totals) can help, never a cached page.
URLS = {
    "GET /trials/{id}": lambda n: f"/trials/C{100000 + (n * 7919) % 10000:06d}",
    "GET /trials (page of 20 + total)": lambda n: f"/trials?page={1 + n % 50}",
    "GET /trials?q=registry (page of 20)": lambda n: f"/trials?q=registry&page={1 + n % 50}",
    "GET /trials?q=코호트 (page of 20)": lambda n: f"/trials?q=%EC%BD%94%ED%98%B8%ED%8A%B8&page={1 + n % 50}",
    "GET /list (recent)": lambda n: f"/list?page={1 + n % 50}",
}
WRK_URLS = {"GET /trials/{id}": "/trials/C101234", "GET /trials (page of 20 + total)": "/trials",
            "GET /trials?q=registry (page of 20)": "/trials?q=registry"}


def migrated_app(url: str, size: int):
    """The trials app (cache off) on a migrated database holding `size` generated trials."""
    from flask_migrate import upgrade

    from services.trials import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING", "TRIALS_CACHE_SECONDS": 0})
    with app.app_context():
        upgrade()
    load(app, generate_trials(size, 7), "http")
    return app


def in_process(app) -> dict[str, tuple[float, float]]:
    """Per URL family: the first request (its total counted) and the mean of REQUESTS distinct URLs, ms."""
    client = app.test_client()
    figures = {}
    for name, url in URLS.items():
        started = time.perf_counter()
        assert client.get(url(0)).status_code == 200
        first = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        for n in range(1, REQUESTS + 1):
            client.get(url(n))
        figures[name] = (first, (time.perf_counter() - started) * 1000 / REQUESTS)
    return figures


def http_figures() -> list[dict]:
    load_average = os.getloadavg()[0]
    use_wrk = load_average < 3
    print(f"  load average {load_average:.1f}: " + ("wrk" if use_wrk else "too busy for wrk, in-process timings only"))
    ceiling = None
    if use_wrk:
        with gunicorn("bench.bare_flask:create_app()", {}) as bare:
            ceiling = wrk(bare + "/json", SECONDS)
        print(f"  bare Flask: {ceiling['rps']:.0f} req/s")
    rows, base = [], {}
    for backend in ("SQLite", "PostgreSQL"):
        for size in SIZES:
            if backend == "SQLite":
                url = f"sqlite:///{_sqlite_path(f'bench_trials_http_{size}.sqlite3')}"
            else:
                url = bench_database_url(f"bench_trials_http_{size}")
            app = migrated_app(url, size)
            for name, (first, mean) in in_process(app).items():
                key = (backend, name)
                base.setdefault(key, mean)
                growth = f"{mean / base[key]:.2f} of the {SIZES[0]:,} figure" if size != SIZES[0] else ""
                print(f"  {backend} {size:,}: {name}: first {first:.1f} ms, then {mean:.2f} ms/request")
                rows.append(row(f"{name}, cache off, in-process ({backend}, {size:,} trials): ms per request "
                                f"over {REQUESTS} distinct URLs (first, total counted)",
                                f"{mean:.2f} ms ({first:.1f} ms)", growth, "", "at 100,000 ≤ 1.5 × 10,000"))
            with app.app_context():
                from services.trials.models import db

                db.engine.dispose()
            if use_wrk:
                with gunicorn("services.trials:create_app()",
                              {"TRIALS_DATABASE_URL": url, "TRIALS_CACHE_SECONDS": "0"}) as trials_url:
                    for name, path in WRK_URLS.items():
                        result = wrk(trials_url + path, SECONDS)
                        ratio = result["rps"] / ceiling["rps"]
                        print(f"  {backend} {size:,}: {name} (cache off): {result['rps']:.0f} req/s, "
                              f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms")
                        rows.append(row(f"{name} (cache off, {backend}, {size:,} trials): requests/s",
                                        f"{result['rps']:.0f}", f"{ceiling['rps']:.0f} (bare Flask JSON)",
                                        f"{ratio:.2f}", "≥ 0.4"))
    return rows


def run() -> list[dict]:
    print(f"trials: reads with the micro-cache off at {', '.join(f'{n:,}' for n in SIZES)} trials, SQLite and "
          "PostgreSQL (in-process; gunicorn 2 sync workers + wrk 2 threads x 16 connections when the load allows)")
    rows = http_figures()
    print(f"trials: snapshot upsert of {TRIALS:,} records in batches of {BATCH}")
    rows += snapshot_figures(bench_database_url("bench_trials_load"), "PostgreSQL")
    rows += snapshot_figures(f"sqlite:///{_sqlite_path()}", "SQLite")
    return rows


def _sqlite_path(name: str = "bench_trials.sqlite3"):
    from bench.common import OUT

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return path


if __name__ == "__main__":
    for r in run():
        print(r)
