"""Fixtures of the grader suite: the service on a fresh migrated database; the sandbox
(tests/conftest.py) with the day size these tests count on."""
from __future__ import annotations

import logging

import pytest

from services.grader import create_app
from services.grader.models import db
from tests.support.grader import grader_config


@pytest.fixture
def make_app(migrated_database_for, tmp_path):
    """`make_app(**config)`: the grader app on a fresh, migrated database."""
    url = migrated_database_for("grader")
    apps = []

    def make(**overrides):
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


@pytest.fixture
def sandbox_env() -> dict:
    return {"SANDBOX_GRADER_ATTEMPTS_PER_DAY": "2400"}
