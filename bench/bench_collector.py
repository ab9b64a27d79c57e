"""Collector: dispatch latency (POST start -> the task running) with an idle worker, and the
cost of one progress update from a running task (PostgreSQL and SQLite)."""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

from bench.common import bench_database_url, dramatiq_worker, gunicorn, row

TASKS = int(os.environ.get("BENCH_COLLECTOR_TASKS", "200"))
UPDATES = int(os.environ.get("BENCH_COLLECTOR_UPDATES", "1000"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN = "bench-token"
# How long an idle worker sleeps at most between polls of Redis (as in deploy/stack.py).
POLL_MS = os.environ.get("COLLECTOR_WORKER_POLL_MS", "50")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _schema(url: str, create_app, db) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()


def dispatch_figures() -> list[dict]:
    from services.collector import create_app as collector_app
    from services.collector.models import db as collector_db
    from services.trials import create_app as trials_app
    from services.trials.models import db as trials_db

    collector_url, trials_url = bench_database_url("bench_collector"), bench_database_url("bench_collector_trials")
    _schema(collector_url, collector_app, collector_db)
    _schema(trials_url, trials_app, trials_db)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as var, \
            gunicorn("deploy.sandbox:create_app()", {"SANDBOX_ODCLOUD_TRIALS": "20"},
                     workers=1, threads=4) as sandbox, \
            gunicorn("services.trials:create_app()", {"TRIALS_DATABASE_URL": trials_url, "SERVICE_TOKEN": TOKEN,
                                                      "VAR_DIR": var}, workers=1, threads=4) as trials:
        env = {"COLLECTOR_DATABASE_URL": collector_url, "REDIS_URL": REDIS_URL, "COLLECTOR_NAMESPACE": namespace,
               "SERVICE_TOKEN": TOKEN, "ODCLOUD_BASE_URL": sandbox + "/api", "ODCLOUD_SERVICE_KEY": "sandbox-key",
               "TRIALS_URL": trials, "VAR_DIR": var, "LOG_LEVEL": "WARNING", "COLLECTOR_PACING_TRIALS": "0"}
        worker_env = {"dramatiq_worker_timeout": POLL_MS, **env}
        with gunicorn("services.collector:create_app()", env, workers=2, threads=4) as api, \
                dramatiq_worker("collector-worker.log", 10, worker_env):
            latencies = _measure_dispatch(api + "/api/v1/async-collection")
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    print(f"  dispatch over {len(latencies)} tasks: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return [
        row(f"Dispatch latency POST start -> running, p50 ({len(latencies)} tasks, idle worker, PostgreSQL)",
            f"{p50:.1f} ms", goal="< 50 ms"),
        row("Dispatch latency POST start -> running, p99", f"{p99:.1f} ms"),
    ]


def _measure_dispatch(api: str) -> list[float]:
    session = requests.Session()
    latencies = []
    # The first task warms connections and imports; it is not counted.
    for index in range(TASKS + 1):
        before = time.time()
        task_id = session.post(f"{api}/trials/start", json={"per_page": 100}, timeout=30).json()["task_id"]
        deadline = time.monotonic() + 60
        while True:
            task = session.get(f"{api}/task/{task_id}", timeout=30).json()
            if task["status"] in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"task {task_id} did not finish: {task}")
            time.sleep(0.005)
        if task["status"] != "completed":
            raise RuntimeError(f"task {task_id} ended {task['status']}: {task['error']}")
        if index:
            # started_at is stamped by the worker's claim: the moment the task became `running`.
            latencies.append((datetime.fromisoformat(task["started_at"]).timestamp() - before) * 1000)
    return latencies


def progress_figure(url: str, label: str) -> dict:
    from services.collector import create_app
    from services.collector.models import RUNNING, Task, db
    from services.collector.runner import RunningTask
    from shared.timeutil import utcnow

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING", "REDIS_URL": REDIS_URL,
                      "COLLECTOR_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}"})
    with app.app_context():
        db.create_all()
        task = Task(id=str(uuid.uuid4()), source="trials", status=RUNNING, queue="default", params={},
                    created_at=utcnow(), progress=0, result_summary={}, resume_state={}, rows_received=0,
                    rows_written=0, rows_rejected=0, attempt=1, worker="bench")
        db.session.add(task)
        db.session.commit()
        ctx = RunningTask(task, "bench", {})
        started = time.perf_counter()
        for done in range(UPDATES):
            ctx.progress(done, step=f"page {done}")
        per_update = (time.perf_counter() - started) / UPDATES * 1000
        db.session.remove()
        db.engine.dispose()
    print(f"  progress update ({label}): {per_update:.2f} ms")
    return row(f"One progress update (UPDATE + commit of the task row, {label})", f"{per_update:.2f} ms")


def run() -> list[dict]:
    print("collector: dispatch latency and progress-update cost")
    rows = dispatch_figures()
    rows.append(progress_figure(bench_database_url("bench_collector_progress"), "PostgreSQL"))
    with tempfile.TemporaryDirectory() as directory:
        rows.append(progress_figure(f"sqlite:///{Path(directory) / 'collector.sqlite3'}", "SQLite WAL"))
    return rows


if __name__ == "__main__":
    for figure in run():
        print(figure)
