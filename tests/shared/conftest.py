"""Fixtures of the tests of what every service shares."""
from __future__ import annotations

import pytest

from tests.shared.service_apps import service_app, service_config


@pytest.fixture
def make_service_app(migrated_database_for, tmp_path, redis_url):
    """`make_service_app(service, **overrides)`: that service's app on a fresh migrated database,
    closed (engine, the collector's Redis keys) after the test."""
    contexts = []

    def make(service: str, **overrides):
        context = service_app(service, service_config(service, migrated_database_for(service), tmp_path, redis_url,
                                                      **overrides))
        contexts.append(context)
        return context.__enter__()

    yield make
    for context in reversed(contexts):
        context.__exit__(None, None, None)
