"""Collector API keys for tests that run the collector with COLLECTOR_AUTH=required, or call it from
off loopback: the `collector_key` fixture (registered in tests/conftest.py), or `create_key(app,
"operator")` for an app of the test's own; both return the headers that send the key."""
from __future__ import annotations

import itertools

import pytest

_numbers = itertools.count(1)


class KeyHeaders(dict):
    """`{"Authorization": "Bearer <key>"}`, with `.key`, `.name`, `.key_id` and `.role`."""

    def __init__(self, key: str, name: str, key_id: int, role: str):
        super().__init__({"Authorization": f"Bearer {key}"})
        self.key, self.name, self.key_id, self.role = key, name, key_id, role


def create_key(app, role: str, name: str | None = None) -> KeyHeaders:
    from services.collector import api_keys

    name = name or f"test-{role}-{next(_numbers)}"
    with app.app_context():
        row, key = api_keys.create_key(name, role)
        return KeyHeaders(key, row.name, row.id, row.role)


@pytest.fixture
def collector_key(collector_app):
    """`collector_key("operator")`: headers carrying a new key of that role for the collector_app fixture's app."""
    return lambda role="operator", name=None: create_key(collector_app, role, name)
