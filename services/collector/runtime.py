"""Per-app resources shared by the API, the worker and the scheduler: Redis, the broker, the actors."""
from __future__ import annotations

import threading
from functools import cached_property

import redis
from flask import Flask, current_app

from services.collector.limiter import LeaseLimiter
from shared.broker import redis_broker

EXTENSION = "collector"


class Runtime:
    def __init__(self, app: Flask):
        self.app = app
        self.config = app.config
        self.namespace = app.config["COLLECTOR_NAMESPACE"]
        self._lock = threading.Lock()

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.config["REDIS_URL"])

    @cached_property
    def broker(self):
        with self._lock:
            from services.collector.actors import declare_actors

            broker = redis_broker(self.config["REDIS_URL"], namespace=self.namespace, app=self.app)
            self.actors = declare_actors(broker, self.config)
            return broker

    @cached_property
    def limiter(self) -> LeaseLimiter:
        return LeaseLimiter(self.redis, f"{self.namespace}:running", self.config["COLLECTOR_MAX_RUNNING"],
                            self.config["COLLECTOR_HEARTBEAT_TIMEOUT"])

    def cancel_key(self, task_id: str) -> str:
        return f"{self.namespace}:cancel:{task_id}"

    def request_cancel(self, task_id: str) -> None:
        self.redis.set(self.cancel_key(task_id), 1, ex=7 * 24 * 3600)

    def cancel_requested(self, task_id: str) -> bool:
        return bool(self.redis.exists(self.cancel_key(task_id)))

    def enqueue(self, task_id: str, queue: str, delay_ms: int | None = None) -> None:
        broker = self.broker
        message = self.actors.run_task.message_with_options(args=(task_id,)).copy(queue_name=queue)
        broker.enqueue(message, delay=delay_ms or None)

    def enqueue_callback(self, task_id: str) -> None:
        self.broker  # noqa: B018  (declares the actors)
        self.actors.send_callback.send(task_id)


def init_runtime(app: Flask) -> Runtime:
    app.extensions[EXTENSION] = Runtime(app)
    return app.extensions[EXTENSION]


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
