"""ServiceFlask keeps Flask's `ensure_sync` verdicts per code object: the same answers as Flask's,
and nothing kept per function made for one request."""
from __future__ import annotations

import pytest
from flask import Flask, after_this_request

from shared.app import ServiceFlask


def sync_hook():
    return None


async def async_view():
    return "from a coroutine"


class Handler:
    def sync_method(self):
        return None

    async def async_method(self):
        return None


def test_sync_callables_are_handed_back_as_they_are():
    app = ServiceFlask(__name__)
    handler = Handler()
    for func in (sync_hook, handler.sync_method, Handler.sync_method, len, print):
        assert app.ensure_sync(func) is func
        assert app.ensure_sync(func) is Flask(__name__).ensure_sync(func)


@pytest.mark.parametrize("func", [async_view, Handler().async_method], ids=["function", "bound method"])
def test_a_coroutine_function_goes_to_async_to_sync_as_in_flask(func, monkeypatch):
    handed = []
    for cls in (Flask, ServiceFlask):
        monkeypatch.setattr(cls, "async_to_sync", lambda self, f, cls=cls: handed.append((cls, f)) or "wrapped")
        app = cls(__name__)
        assert app.ensure_sync(func) == "wrapped"
        assert app.ensure_sync(func) == "wrapped"  # the second time from the kept verdict
    assert handed == [(Flask, func), (Flask, func), (ServiceFlask, func), (ServiceFlask, func)]


def test_functions_made_per_request_leave_nothing_behind():
    app = ServiceFlask(__name__)

    @app.get("/")
    def index():
        @after_this_request
        def tag(response):  # a new function every request, of one code object
            response.headers["X-Tag"] = "1"
            return response
        return "ok"

    client = app.test_client()
    assert client.get("/").headers["X-Tag"] == "1"
    kept = len(app._is_coroutine)
    for _ in range(50):
        assert client.get("/").headers["X-Tag"] == "1"
    assert len(app._is_coroutine) == kept
