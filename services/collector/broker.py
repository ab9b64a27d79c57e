"""Dramatiq broker setup: a Redis broker from REDIS_URL and the Flask app-context middleware.

Import this (and build the broker) before any actor is declared, as Dramatiq's guide asks.
Services declare their actors against the broker they are given, so a test can run a
broker of its own (its own Redis namespace) next to another.
"""
from __future__ import annotations

import threading

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from shared.logs import current_request_id, request_id_scope


class AppContextMiddleware(Middleware):
    """Runs every message inside an application context of `app` (one per worker thread)."""

    def __init__(self, app):
        self.app = app
        self._local = threading.local()

    def before_process_message(self, broker, message):
        context = self.app.app_context()
        context.push()
        self._local.context = context

    def _pop(self):
        context = getattr(self._local, "context", None)
        if context is not None:
            self._local.context = None
            context.pop()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._pop()

    def after_skip_message(self, broker, message):
        self._pop()


class RequestIdMiddleware(Middleware):
    """The X-Request-ID of the request that enqueued a message travels in it (`options["request_id"]`),
    and the worker's log lines while it runs name it (shared/logs.py)."""

    def __init__(self):
        self._local = threading.local()

    def before_enqueue(self, broker, message, delay):
        request_id = current_request_id()
        if request_id and "request_id" not in message.options:
            message.options["request_id"] = request_id

    def before_process_message(self, broker, message):
        scope = request_id_scope(message.options.get("request_id"))
        scope.__enter__()
        self._local.scope = scope

    def _end(self):
        scope = getattr(self._local, "scope", None)
        if scope is not None:
            self._local.scope = None
            scope.__exit__(None, None, None)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._end()

    def after_skip_message(self, broker, message):
        self._end()


def redis_broker(url: str, namespace: str = "dramatiq", app=None, set_global: bool = False) -> RedisBroker:
    """A Redis broker on `url` whose keys start with `namespace`; with `app`, messages run in its context."""
    broker = RedisBroker(url=url, namespace=namespace)
    broker.add_middleware(RequestIdMiddleware())
    if app is not None:
        broker.add_middleware(AppContextMiddleware(app))
    if set_global:
        dramatiq.set_broker(broker)
    return broker
