"""Collector fixtures: the app (tests/support/collector_fixtures.py) with its client, and the
trials service and the sandbox as real processes."""
from __future__ import annotations

import pytest

from tests.support.auth import SERVICE_TOKEN
from tests.support.processes import flask_app, free_port


@pytest.fixture
def app(collector_app):
    return collector_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sandbox_env() -> dict:
    return {"SANDBOX_ODCLOUD_TRIALS": 145, "SANDBOX_SEED": 11}


@pytest.fixture
def trials_service(live_process, migrated_database_for, tmp_path):
    """The trials service as a real process on a fresh, migrated database."""
    url = migrated_database_for("trials")
    port = free_port()
    return live_process(flask_app("services.trials", port), port=port, name="trials", env={
        "TRIALS_DATABASE_URL": url, "SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": tmp_path / "log",
        "VAR_DIR": tmp_path})


@pytest.fixture
def wired(app, sandbox, trials_service):
    """The app pointed at the sandbox's odcloud and the live trials service."""
    app.config.update(ODCLOUD_BASE_URL=sandbox.url + "/api", TRIALS_URL=trials_service.url)
    return app
