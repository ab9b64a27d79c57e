"""Fixtures for the community-platform tests: the sandbox as a real process, a client
to steer its faults, and the outbound HTTP session the connectors use."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
import requests

from shared.http import HttpSession
from tests.support.processes import flask_app, free_port

KST = timezone(timedelta(hours=9))


class SandboxControl:
    """The `/_sandbox/<platform>/...` routes of a running sandbox."""

    def __init__(self, url: str):
        self.url = url

    def faults(self, platform: str, **settings) -> dict:
        response = requests.post(f"{self.url}/_sandbox/{platform}/faults", json=settings, timeout=5)
        response.raise_for_status()
        return response.json()

    def served(self, platform: str) -> dict:
        return requests.get(f"{self.url}/_sandbox/{platform}/faults", timeout=5).json()

    def dataset(self, platform: str, kind: str) -> tuple[datetime, list[dict]]:
        """The sandbox's time anchor and every record of `kind` it serves."""
        response = requests.get(f"{self.url}/_sandbox/{platform}/records/{kind}", timeout=5)
        response.raise_for_status()
        body = response.json()
        return datetime.fromisoformat(body["anchor"]), body["data"]


@pytest.fixture
def sandbox(live_process) -> SandboxControl:
    port = free_port()
    process = live_process(flask_app("deploy.sandbox", port), port=port, name="sandbox")
    return SandboxControl(process.url)


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


def days_before(anchor: datetime, days: int) -> date:
    return anchor.astimezone(KST).date() - timedelta(days=days)


def kst_start(day: date) -> datetime:
    return datetime.combine(day, time.min, KST)


def kst_text_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


def ms_time(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# --- the collector with the community sources, on a real Redis and real worker threads ------
# The collector's own fixtures (app on a fresh database, client, Dramatiq worker threads).
from tests.collector.conftest import app, client, collector_config, namespace, worker  # noqa: E402, F401

GANGNAMUNNI_TOKEN = "gn-token-7f3a9c2e41"
NID_AUT, NID_SES = "nid-aut-5b8e11d0c9", "nid-ses-0c4f77a2e3"


@pytest.fixture
def community_sandbox(live_process) -> SandboxControl:
    """The sandbox with a token and cookies distinctive enough to search for in any output."""
    port = free_port()
    process = live_process(flask_app("deploy.sandbox", port), port=port, name="sandbox", env={
        "SANDBOX_GANGNAMUNNI_TOKENS": GANGNAMUNNI_TOKEN, "SANDBOX_NAVER_NID_AUT": NID_AUT,
        "SANDBOX_NAVER_NID_SES": NID_SES})
    return SandboxControl(process.url)


@pytest.fixture
def community_app(app, community_sandbox, tmp_path):  # noqa: F811 (the imported fixture)
    """The collector app pointed at the sandbox, with no pacing and no default token/cookies."""
    app.config.update(
        BABITALK_BASE_URL=community_sandbox.url, GANGNAMUNNI_BASE_URL=community_sandbox.url, GANGNAMUNNI_TOKEN="",
        NAVER_API_BASE_URL=community_sandbox.url, NAVER_ARTICLE_BASE_URL=community_sandbox.url, NAVER_COOKIES="",
        COLLECTOR_PACING_BABITALK=0.0, COLLECTOR_PACING_GANGNAMUNNI=0.0, COLLECTOR_PACING_NAVER=0.0,
        COLLECTOR_DUMP_SQLITE_DIR=str(tmp_path / "dumps"), HTTP_RETRIES=3, HTTP_BACKOFF=0.01)
    app.sandbox = community_sandbox
    return app
