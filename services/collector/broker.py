"""Dramatiq broker setup: a Redis broker (REDIS_URL) or a RabbitMQ one (an amqp:// COLLECTOR_BROKER_URL),
and the Flask app-context and request-id middleware.

Import this (and build the broker) before any actor is declared, as Dramatiq's guide asks.
Services declare their actors against the broker they are given, so a test can run a
broker of its own (its own Redis namespace, or its own RabbitMQ queues) next to another.
Only messages travel on the broker: cancel flags, the cap's leases, pacing and heartbeats are
Redis keys (runtime.py) whichever broker carries them. Delays work on both: a delayed message
waits on its queue's delay queue (`<queue>.DQ`) until a worker re-enqueues it when due.
"""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
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


AMQP_SCHEMES = ("amqp", "amqps")
REDIS_SCHEMES = ("redis", "rediss", "unix")


def is_rabbitmq(url: str) -> bool:
    return urlsplit(url).scheme in AMQP_SCHEMES


def _with_middleware(broker: dramatiq.Broker, app, set_global: bool):
    broker.add_middleware(RequestIdMiddleware())
    if app is not None:
        broker.add_middleware(AppContextMiddleware(app))
    if set_global:
        dramatiq.set_broker(broker)
    return broker


def redis_broker(url: str, namespace: str = "dramatiq", app=None, set_global: bool = False) -> RedisBroker:
    """A Redis broker on `url` whose keys start with `namespace`; with `app`, messages run in its context."""
    return _with_middleware(RedisBroker(url=url, namespace=namespace), app, set_global)


def rabbitmq_broker(url: str, app=None, set_global: bool = False) -> RabbitmqBroker:
    """A RabbitMQ broker on `url` (its vhost holds the queues); with `app`, messages run in its context.
    Every enqueue waits for RabbitMQ's confirm, so a task is pending only once its message is stored."""
    return _with_middleware(RabbitmqBroker(url=url, confirm_delivery=True), app, set_global)


def message_broker(broker_url: str, redis_url: str, namespace: str, app=None, set_global: bool = False):
    """The broker COLLECTOR_BROKER_URL names: RabbitMQ for amqp(s)://, else Redis (`broker_url`, or `redis_url`
    when it is empty). Nothing connects until the first message is sent or consumed."""
    if broker_url and is_rabbitmq(broker_url):
        return rabbitmq_broker(broker_url, app=app, set_global=set_global)
    if broker_url and urlsplit(broker_url).scheme not in REDIS_SCHEMES:
        raise ValueError("COLLECTOR_BROKER_URL must be empty, a redis:// or an amqp:// URL")
    return redis_broker(broker_url or redis_url, namespace=namespace, app=app, set_global=set_global)


def rabbitmq_check(url: str, timeout: float) -> None:
    """Open (and close) one connection to the RabbitMQ at `url` within `timeout` seconds: raises when it is down."""
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = parameters.stack_timeout = parameters.blocked_connection_timeout = timeout
    parameters.connection_attempts, parameters.retry_delay = 1, 0
    pika.BlockingConnection(parameters).close()
