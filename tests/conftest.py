"""Fixtures every suite can use: a database per test (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), a real Redis, live processes."""
from __future__ import annotations

import os

import pytest

# The suite never reads the developer's .env: every setting a test needs is passed explicitly.
os.environ["ENV_FILE"] = os.devnull

from shared.redis_local import redis_answers, start_bundled_redis
from tests.support.databases import (
    BACKENDS,
    drop_postgres_schema,
    fresh_postgres_schema,
)
from tests.support.processes import LiveProcess, free_port

SERVICE_TOKEN = "test-service-token"


@pytest.fixture(params=BACKENDS)
def db_backend(request) -> str:
    return request.param


@pytest.fixture
def database_url_for(db_backend, tmp_path, worker_id):
    """`database_url_for("trials")`: a fresh, empty database for that service in this test.

    On PostgreSQL a schema named after the service, the xdist worker and this process,
    so two test sessions on one server never drop each other's schemas; dropped afterwards.
    """
    schemas = []

    def make(name: str) -> str:
        if db_backend == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        schemas.append(f"test_{name}_{worker_id}_{os.getpid()}")
        return fresh_postgres_schema(schemas[-1])

    yield make
    for schema in schemas:
        drop_postgres_schema(schema)


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """The pytest-xdist worker ("gw0", ...) or "main" without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory, worker_id):
    """A real Redis: the system one at TEST_REDIS_URL (default 127.0.0.1:6379) if it
    answers, else the bundled redis-server started for this session."""
    system = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_answers(system):
        yield system.rsplit("/", 1)[0]
        return
    port = free_port()
    process = start_bundled_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_url(redis_server_url, worker_id):
    """A Redis database for this xdist worker. It is shared with any other test session
    on the same server, so it is never flushed: tests keep their keys under a namespace
    of their own (see tests/collector/conftest.py) and delete them afterwards."""
    index = 1 + (int(worker_id[2:]) if worker_id.startswith("gw") else 0)
    return f"{redis_server_url}/{index}"


@pytest.fixture
def live_process(tmp_path):
    """Start processes with `live_process(args, env, port=...)`; all are stopped after the test."""
    started: list[LiveProcess] = []

    def start(args, env=None, port=None, name="process", health_path="/health", timeout=30.0):
        process = LiveProcess(args, env or {}, tmp_path / "logs" / f"{name}.log", port, health_path)
        started.append(process)
        return process.start(timeout)

    yield start
    for process in reversed(started):
        process.stop()  # also closes the log of a process that has already exited
