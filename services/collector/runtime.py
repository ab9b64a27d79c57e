"""Per-app resources shared by the API, the worker and the scheduler: Redis, the broker, the cap.
The broker (Redis or RabbitMQ, broker.py) carries messages only; the cancel flags, the cap's leases,
pacing and the pause flags are keys in the Redis at REDIS_URL whichever broker it is.

Messages are sent by actor name (`send`), so the layers that enqueue work (tasks, dumps) never
import the actors; `actors.declare_actors` is handed in by `create_app` and runs once, when the
broker is first built, so every process (API, worker, scheduler) knows the same actors.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from flask import Flask, current_app

from services.collector.broker import is_rabbitmq, message_broker, rabbitmq_check
from shared.health import add_check, redis_check
from services.collector.limiter import LeaseLimiter
from services.collector.pacing import SharedPacing

EXTENSION = "collector"
# The actors' names (declared in actors.py): what a message names to reach one.
RUN_TASK = "collector_run_task"
SEND_CALLBACK = "collector_send_callback"
DUMP_ITEMS = "collector_dump_items"


class Runtime:
    def __init__(self, app: Flask, declare_actors: Callable | None = None):
        self.app = app
        self._declare_actors = declare_actors
        self.config = app.config
        self.namespace = app.config["COLLECTOR_NAMESPACE"]
        self._lock = threading.Lock()

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.config["REDIS_URL"])

    @cached_property
    def broker(self):
        with self._lock:
            # Redis, or RabbitMQ for an amqp:// COLLECTOR_BROKER_URL: messages only, the keys below stay on Redis.
            broker = message_broker(self.config["COLLECTOR_BROKER_URL"], self.config["REDIS_URL"],
                                    namespace=self.namespace, app=self.app)
            if self._declare_actors is not None:
                self._declare_actors(broker, self.config)
            return broker

    @property
    def broker_redis(self) -> redis.Redis | None:
        """The Redis holding the broker's own keys (queues, worker heartbeats, acks): REDIS_URL's, or a
        redis:// COLLECTOR_BROKER_URL's; None on RabbitMQ, whose queues `queue_counts` reads."""
        return self.broker.client if isinstance(self.broker, RedisBroker) else None

    def queue_counts(self, queue: str) -> tuple[int, int, int]:
        """RabbitMQ's count of messages ready on `queue`, its delay queue and its dead-letter queue (not
        those a worker holds unacknowledged, delayed ones it waits on included)."""
        return self.broker.get_queue_message_counts(queue)

    @cached_property
    def limiter(self) -> LeaseLimiter:
        return LeaseLimiter(self.redis, f"{self.namespace}:running", self.config["COLLECTOR_MAX_RUNNING"],
                            self.config["COLLECTOR_HEARTBEAT_TIMEOUT"])

    @cached_property
    def pacing(self) -> SharedPacing:
        return SharedPacing(self.redis, self.namespace)

    @cached_property
    def dump_limiter(self) -> LeaseLimiter:
        """Dumps' own share of the cap: at most COLLECTOR_MAX_DUMPS of its slots, so collection keeps the rest."""
        return LeaseLimiter(self.redis, f"{self.namespace}:running-dumps", self.config["COLLECTOR_MAX_DUMPS"],
                            self.config["COLLECTOR_HEARTBEAT_TIMEOUT"])

    def alive_key(self, dump_id: str) -> str:
        """Set (with a TTL) while a worker runs the dump: the reaper fails a running dump without one."""
        return f"{self.namespace}:dump-alive:{dump_id}"

    def cancel_key(self, task_id: str) -> str:
        return f"{self.namespace}:cancel:{task_id}"

    def request_cancel(self, task_id: str) -> None:
        self.redis.set(self.cancel_key(task_id), 1, ex=7 * 24 * 3600)

    def cancel_requested(self, task_id: str) -> bool:
        return bool(self.redis.exists(self.cancel_key(task_id)))

    def schedule_paused_key(self, source_name: str) -> str:
        """Set while an operator has paused the source's schedule (the console); the scheduler skips its fires."""
        return f"{self.namespace}:schedule:paused:{source_name}"

    def schedule_paused(self, source_name: str) -> bool:
        return bool(self.redis.exists(self.schedule_paused_key(source_name)))

    def send(self, actor_name: str, *args, queue: str | None = None, delay_ms: int | None = None) -> None:
        """Enqueue a message for the actor `actor_name` on `queue` (default: the first of COLLECTOR_QUEUES)."""
        message = dramatiq.Message(queue_name=queue or self.config["COLLECTOR_QUEUES"][0], actor_name=actor_name,
                                   args=args, kwargs={}, options={})
        self.broker.enqueue(message, delay=delay_ms or None)

    def enqueue(self, task_id: str, queue: str, delay_ms: int | None = None) -> None:
        self.send(RUN_TASK, task_id, queue=queue, delay_ms=delay_ms)

    def enqueue_dump(self, dump_id: str, delay_ms: int | None = None) -> None:
        self.send(DUMP_ITEMS, dump_id, queue=self.config["COLLECTOR_DUMP_QUEUE"], delay_ms=delay_ms)

    def enqueue_callback(self, task_id: str) -> None:
        self.send(SEND_CALLBACK, task_id)


def _rabbitmq_answers() -> None:
    rabbitmq_check(current_app.config["COLLECTOR_BROKER_URL"], current_app.config["HEALTH_CHECK_TIMEOUT"])


def init_runtime(app: Flask, declare_actors: Callable | None = None) -> Runtime:
    app.extensions[EXTENSION] = Runtime(app, declare_actors)
    broker_url = app.config["COLLECTOR_BROKER_URL"]
    # A broker besides REDIS_URL's Redis (which create_app checks): /health is 503 without it too.
    if broker_url and is_rabbitmq(broker_url):
        add_check(app, "rabbitmq", _rabbitmq_answers)
    elif broker_url:
        add_check(app, "broker", redis_check("COLLECTOR_BROKER_URL"))
    return app.extensions[EXTENSION]


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
