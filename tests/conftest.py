"""Fixtures every suite can use: a database per test (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), a real Redis, live processes, the sandbox. Helpers (functions,
constants) live in tests/support and are imported from there, never from a conftest."""
from __future__ import annotations

import os

import pytest

# The suite never reads the developer's .env: every setting a test needs is passed explicitly.
os.environ["ENV_FILE"] = os.devnull

from shared.redis_local import redis_answers, start_bundled_redis
from tests.support.databases import (
    BACKENDS,
    SqliteTemplates,
    drop_postgres_schema,
    fresh_postgres_schema,
    migrate,
)
from tests.support.processes import LiveProcess, flask_app, free_port
from tests.support.sandbox import Sandbox
from tests.support.smtp import Inbox, smtp_server

# The collector's app and worker fixtures, shared by the collector and community suites.
pytest_plugins = ["tests.support.collector_fixtures", "tests.support.collector_keys"]


@pytest.fixture(params=BACKENDS)
def db_backend(request) -> str:
    return request.param


def pytest_collection_modifyitems(config, items):
    """A `browser` test runs on SQLite only: what a page does in Chromium does not depend on the
    backend, which the API and process tests cover on both, and each variant costs CI 5-25 s."""
    kept, dropped = [], []
    for item in items:
        backend = item.callspec.params.get("db_backend") if hasattr(item, "callspec") else None
        (dropped if backend not in (None, "sqlite") and item.get_closest_marker("browser") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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
def sqlite_templates(tmp_path_factory) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def migrated_database_for(database_url_for, db_backend, sqlite_templates, tmp_path_factory):
    """`migrated_database_for("orders", "orders_b")`: a fresh database (named after the
    second argument, default the service) at the head of the service's migrations.

    On SQLite a copy of a file migrated once per session, on PostgreSQL a schema migrated
    for this test: either way the schema production's `flask db upgrade` builds."""

    def make(service: str, name: str | None = None) -> str:
        url = database_url_for(name or service)
        if db_backend == "sqlite":
            sqlite_templates.copy_to(service, url)
        else:
            migrate(service, url, tmp_path_factory.mktemp("migrate"))  # its logs stay out of tmp_path
        return url

    return make


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
    of their own (the `namespace` fixture, tests/support/collector_fixtures.py) and delete them afterwards."""
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


@pytest.fixture
def smtp_inbox() -> Inbox:
    """A real SMTP server (aiosmtpd) on a free port for this test; its `port` and `messages`."""
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture(scope="session")
def sandbox_processes(tmp_path_factory):
    """`sandbox_processes(env)`: the sandbox process started with `env`, one per distinct
    environment in this session (tests reset it rather than start another); all stopped
    at the end of the session."""
    running: dict[tuple, LiveProcess] = {}

    def get(env: dict) -> LiveProcess:
        key = tuple(sorted((name, str(value)) for name, value in env.items()))
        if key not in running:
            port = free_port()
            log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
            running[key] = LiveProcess(flask_app("deploy.sandbox", port), env, log, port).start()
        return running[key]

    yield get
    for process in running.values():
        process.stop()


@pytest.fixture
def sandbox_env() -> dict:
    """The environment (`SANDBOX_*`) the sandbox starts with; a suite or module overrides it."""
    return {}


@pytest.fixture
def sandbox(sandbox_processes, sandbox_env) -> Sandbox:
    """The upstreams' stand-ins (deploy/sandbox) as a real process, reset for this test."""
    sandbox = Sandbox(sandbox_processes(sandbox_env).url)
    sandbox.reset()
    return sandbox
