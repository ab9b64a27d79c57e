"""Fixtures of the grader suite: the service on a fresh database, the sandbox stand-in
as a real process, a token for writes."""
from __future__ import annotations

import logging
from pathlib import Path

import flask_migrate
import pytest
import requests

from services.grader import create_app
from services.grader.models import db
from tests.conftest import SERVICE_TOKEN
from tests.support.processes import REPO_ROOT, LiveProcess, free_port, python_module

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "grader" / "migrations"
AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
SANDBOX_CLIENT, SANDBOX_KEY = "Skillfactory", "sandbox-grader-key"


def grader_config(database_url: str, tmp_path: Path, **overrides) -> dict:
    return {"TESTING": True, "GRADER_DATABASE_URL": database_url, "SQLALCHEMY_DATABASE_URI": database_url,
            "SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": str(tmp_path / "log"), "VAR_DIR": str(tmp_path),
            **overrides}


@pytest.fixture
def make_app(database_url_for, tmp_path):
    """`make_app(**config)`: the grader app on a fresh, migrated database."""
    url = database_url_for("grader")
    apps = []

    def make(**overrides):
        # Migrate first: alembic.ini's logging set-up replaces the root handlers, so the app
        # under test is built afterwards and keeps the service's own log handlers.
        migrated = create_app(grader_config(url, tmp_path, **overrides))
        apps.append(migrated)
        with migrated.app_context():
            flask_migrate.upgrade(directory=str(MIGRATIONS))
        app = create_app(grader_config(url, tmp_path, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:  # close the pooled connections, so no test leaks them into the next
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    # And the service's log handlers, so nothing writes into this test's directory afterwards.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_shared_logs", False)]:
        root.removeHandler(handler)
        handler.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory):
    """The sandbox (all stand-ins) as a real process, shared by the session; reset per test."""
    port = free_port()
    process = LiveProcess(
        python_module("flask", "--app", "deploy.sandbox", "run", "--port", str(port), "--no-reload", "--with-threads"),
        {"SANDBOX_GRADER_ATTEMPTS_PER_DAY": "2400", "ENV_FILE": "/dev/null"},
        tmp_path_factory.mktemp("sandbox") / "sandbox.log", port)
    process.start(30)
    yield process
    process.stop()


@pytest.fixture
def sandbox(sandbox_process):
    requests.post(sandbox_process.url + "/_sandbox/grader/reset", timeout=5).raise_for_status()
    yield sandbox_process.url
    requests.post(sandbox_process.url + "/_sandbox/grader/reset", timeout=5).raise_for_status()


def sandbox_mode(url: str, **settings) -> dict:
    response = requests.post(url + "/_sandbox/grader/mode", json=settings, timeout=5)
    response.raise_for_status()
    return response.json()


__all__ = ["AUTH", "REPO_ROOT", "SANDBOX_CLIENT", "SANDBOX_KEY", "sandbox_mode"]
