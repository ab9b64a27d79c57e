"""Fixtures for the community-platform tests: the outbound HTTP session the connectors use,
and the collector app (tests/support/collector_fixtures.py) pointed at the sandbox.

Modules that drive the collector set `sandbox_env` to `SECRET_SANDBOX_ENV`, so the
sandbox accepts only a token and cookies distinctive enough to search for in any output."""
from __future__ import annotations

import pytest

from shared.http import HttpSession


@pytest.fixture
def http() -> HttpSession:
    # Tiny backoff so 5xx retries are quick; a 429's Retry-After is still honoured in full.
    session = HttpSession(timeout=10, retries=3, backoff=0.01)
    yield session
    session.close()


class Pauses:
    """Stands in for `ctx.pace`: counts the pauses a connector takes between requests."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
def app(collector_app):
    return collector_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def community_app(app, sandbox, tmp_path):
    """The collector app pointed at the sandbox, with no pacing and no default token/cookies."""
    app.config.update(
        BABITALK_BASE_URL=sandbox.url, GANGNAMUNNI_BASE_URL=sandbox.url, GANGNAMUNNI_TOKEN="",
        NAVER_API_BASE_URL=sandbox.url, NAVER_ARTICLE_BASE_URL=sandbox.url, NAVER_COOKIES="",
        COLLECTOR_PACING_BABITALK=0.0, COLLECTOR_PACING_GANGNAMUNNI=0.0, COLLECTOR_PACING_NAVER=0.0,
        COLLECTOR_DUMP_SQLITE_DIR=str(tmp_path / "dumps"), HTTP_RETRIES=3, HTTP_BACKOFF=0.01)
    app.sandbox = sandbox
    return app
