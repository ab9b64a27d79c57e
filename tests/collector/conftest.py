"""Collector fixtures: the API app on a real Redis namespace of its own, real worker threads,
and the trials service and the sandbox as real processes."""
from __future__ import annotations

import uuid

import pytest
import requests
from dramatiq import Worker

from services.collector import create_app
from services.collector.models import db
from services.collector.runtime import runtime
from tests.conftest import SERVICE_TOKEN
from tests.support.processes import flask_app, free_port
from tests.support.waiting import wait_for

FINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def namespace(redis_url):
    """This test's own Redis key prefix (queues, leases, cancel flags), removed afterwards."""
    import redis

    name = f"collector-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def collector_config(database_url_for, redis_url, namespace, tmp_path):
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url_for("collector"),
        "REDIS_URL": redis_url,
        "COLLECTOR_NAMESPACE": namespace,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "VAR_DIR": tmp_path,
        "LOG_DIR": tmp_path / "log",
        "ODCLOUD_SERVICE_KEY": "sandbox-key",
        "ODCLOUD_BASE_URL": "http://127.0.0.1:9/api",  # tests that reach odcloud point this at a sandbox
        "TRIALS_URL": "http://127.0.0.1:9",
        "HTTP_RETRIES": 0,
        "COLLECTOR_PACING_TRIALS": 0.0,
        "COLLECTOR_CAP_RETRY_MS": 100,
    }


@pytest.fixture
def app(collector_config):
    app = create_app(collector_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        runtime().broker.close()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def worker(app):
    """`worker(threads=3, queues=None)`: real Dramatiq worker threads on the app's broker."""
    started = []

    def start(threads: int = 3, queues: set[str] | None = None) -> Worker:
        with app.app_context():
            broker = runtime().broker
        instance = Worker(broker, worker_threads=threads, worker_timeout=100, queues=queues)
        instance.start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop(timeout=10_000)


@pytest.fixture
def sandbox(live_process):
    port = free_port()
    return live_process(flask_app("deploy.sandbox", port), env={"SANDBOX_ODCLOUD_TRIALS": 145, "SANDBOX_SEED": 11},
                        port=port, name="sandbox")


@pytest.fixture
def trials_service(live_process, database_url_for, tmp_path):
    """The trials service as a real process on a fresh database."""
    from services.trials import create_app as create_trials_app
    from services.trials.models import db as trials_db

    url = database_url_for("trials")
    trials_app = create_trials_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_DIR": tmp_path / "log", "VAR_DIR": tmp_path})
    with trials_app.app_context():
        trials_db.create_all()
        trials_db.engine.dispose()
    port = free_port()
    return live_process(flask_app("services.trials", port), port=port, name="trials", env={
        "TRIALS_DATABASE_URL": url, "SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": tmp_path / "log",
        "VAR_DIR": tmp_path})


@pytest.fixture
def wired(app, sandbox, trials_service):
    """The app pointed at the sandbox's odcloud and the live trials service."""
    app.config.update(ODCLOUD_BASE_URL=sandbox.url + "/api", TRIALS_URL=trials_service.url)
    return app


def task_of(client, task_id: str) -> dict:
    response = client.get(f"/api/v1/async-collection/task/{task_id}")
    assert response.status_code == 200, response.json
    return response.json


def wait_status(client, task_id: str, statuses, timeout: float = 60.0) -> dict:
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def reached():
        task = task_of(client, task_id)
        return task if task["status"] in statuses else None

    return wait_for(reached, timeout, what=f"task {task_id} to be {statuses}")


def start(client, source: str = "trials", **body) -> str:
    response = client.post(f"/api/v1/async-collection/{source}/start", json=body)
    assert response.status_code == 202, response.json
    return response.json["task_id"]


def trials_count(trials_url: str) -> int:
    return requests.get(f"{trials_url}/trials?per_page=1", timeout=10).json()["count"]
