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


def redis_broker(url: str, namespace: str = "dramatiq", app=None, set_global: bool = False) -> RedisBroker:
    """A Redis broker on `url` whose keys start with `namespace`; with `app`, messages run in its context."""
    broker = RedisBroker(url=url, namespace=namespace)
    if app is not None:
        broker.add_middleware(AppContextMiddleware(app))
    if set_global:
        dramatiq.set_broker(broker)
    return broker
