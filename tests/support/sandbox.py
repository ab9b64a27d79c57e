"""The sandbox (deploy/sandbox: every upstream's stand-in) as a real process, and its
`/_sandbox/...` control routes. The `sandbox` fixture (tests/support/fixtures.py) returns one."""
from __future__ import annotations

from datetime import datetime

import requests

# Every stand-in with a reset route: a test starts on a sandbox as fresh as a new process.
PLATFORMS = ("odcloud", "grader", "babitalk", "gangnamunni", "naver")


class Sandbox:
    """A running sandbox at `url`."""

    def __init__(self, url: str):
        self.url = url

    def reset(self) -> None:
        """Every stand-in back to its start: data, modes, faults and counters."""
        for platform in PLATFORMS:
            requests.post(f"{self.url}/_sandbox/{platform}/reset", timeout=5).raise_for_status()

    def faults(self, platform: str, **settings) -> dict:
        """Switch on a community platform's faults (rate limits, failures, malformed records)."""
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

    def grader_mode(self, **settings) -> dict:
        """Switch the statistics-API stand-in's failures and windows (`/_sandbox/grader/mode`)."""
        response = requests.post(f"{self.url}/_sandbox/grader/mode", json=settings, timeout=5)
        response.raise_for_status()
        return response.json()
