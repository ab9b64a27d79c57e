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
