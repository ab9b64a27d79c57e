"""The collector's broker (COLLECTOR_BROKER_URL): Redis by default, Dramatiq's RabbitMQ broker for an
amqp:// URL. Only messages move: the cancel flags and the cap's leases stay Redis keys whichever broker
carries them, and delays (a countdown, the cap's re-queue) wait on the broker's delay queue. The tests
marked `@over_every_broker` run on Redis, and on RabbitMQ too when TEST_AMQP_URL is set
(tests/support/brokers.py); the representative real-worker tests beside this file are marked so too."""
from __future__ import annotations

import re

import pytest
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.middleware import Middleware

from services.collector.config import Config
from services.collector.runtime import RUN_TASK, runtime
from shared.config import ConfigError
from tests.support.brokers import AMQP_URL, over_every_broker, rabbitmq_depth
from tests.support.collector import start, task_of, wait_status
from tests.support.processes import free_port
from tests.support.waiting import wait_for

API = "/api/v1/async-collection"


def test_the_broker_url_picks_the_broker(collector_config, make_collector_app):
    choices = {"": RedisBroker, "redis://127.0.0.1:6379/3": RedisBroker,
               "amqp://guest:guest@127.0.0.1:5672/%2F": RabbitmqBroker}
    for url, kind in choices.items():
        app = make_collector_app(COLLECTOR_BROKER_URL=url)
        with app.app_context():
            broker = runtime().broker  # built and its actors declared: RabbitMQ is not dialled until used
            assert type(broker) is kind, url
            assert {"default", "bulk", "dumps"} <= broker.get_declared_queues()
            assert RUN_TASK in broker.get_declared_actors()
            keys_db = runtime().redis.connection_pool.connection_kwargs["db"]  # the keys stay on REDIS_URL
            assert keys_db == redis.Redis.from_url(collector_config["REDIS_URL"]).get_connection_kwargs()["db"]
            if kind is RedisBroker:
                assert broker.namespace == collector_config["COLLECTOR_NAMESPACE"]
                assert broker.client.connection_pool.connection_kwargs["db"] == (3 if url else keys_db)
            broker.close()

    with pytest.raises(ConfigError) as refused:
        Config({"COLLECTOR_BROKER_URL": "ftp://guest:hunter2-secret@127.0.0.1/"})
    assert "COLLECTOR_BROKER_URL" in str(refused.value) and "hunter2" not in str(refused.value)
    assert Config({"COLLECTOR_BROKER_URL": "amqps://u:p@rabbit.internal/stack"}).COLLECTOR_BROKER_URL
    with make_collector_app(COLLECTOR_BROKER_URL="ftp://127.0.0.1/").app_context(), \
            pytest.raises(ValueError, match="COLLECTOR_BROKER_URL"):
        runtime().broker  # noqa: B018 (a test config skips Config's check: building the broker refuses it)


def test_health_is_503_while_the_rabbitmq_broker_does_not_answer(make_collector_app, caplog):
    url = f"amqp://guest:hunter2-secret@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    client = make_collector_app(COLLECTOR_BROKER_URL=url).test_client()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json["errors"]["rabbitmq"].startswith("does not answer")
    assert response.json["errors"]["redis"] == "ok"
    assert "hunter2" not in response.get_data(as_text=True)
    assert "rabbitmq" in caplog.text and "hunter2" not in caplog.text


@over_every_broker
def test_health_checks_the_broker_that_carries_the_messages(client, message_broker):
    response = client.get("/health")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["redis"] == "ok"
    assert response.json["checks"].get("rabbitmq") == ("ok" if message_broker else None)


@over_every_broker
def test_a_countdown_waits_on_the_delay_queue_of_its_broker(app, client, message_broker):
    task_id = start(client, countdown=3600)
    queue = app.config["COLLECTOR_QUEUES"][0]
    assert task_of(client, task_id)["queue"] == queue
    with app.app_context():
        rt = runtime()
        broker_keys = rt.redis.keys(f"{rt.namespace}:{queue}*")
        if message_broker:  # RabbitMQ holds the message; Redis holds none of its queues
            assert (rabbitmq_depth(AMQP_URL, dq_name(queue)), rabbitmq_depth(AMQP_URL, queue)) == (1, 0)
            assert broker_keys == []
        else:
            assert rt.redis.llen(f"{rt.namespace}:{dq_name(queue)}") == 1
            assert rt.redis.llen(f"{rt.namespace}:{queue}") == 0

    html = client.get("/console/workers").get_data(as_text=True)  # the console reads the same counts
    assert re.search(rf'<tr data-queue="{queue}"><th>{queue}</th><td>0</td><td>1</td>', html), html


class DelayedEnqueues(Middleware):
    """Records every delayed enqueue of a task run: (canonical queue, delay in ms)."""

    def __init__(self):
        self.seen = []

    def after_enqueue(self, broker, message, delay):
        if message.actor_name == RUN_TASK and delay:
            self.seen.append((message.queue_name, delay))


@over_every_broker
def test_over_the_cap_a_task_waits_on_the_delay_queue_and_a_cancel_is_a_redis_flag(wired, client, worker,
                                                                                    trials_service):
    wired.config["COLLECTOR_PACING_TRIALS"] = 60.0  # once running it waits a minute a page unless cancelled
    delayed = DelayedEnqueues()
    with wired.app_context():
        rt = runtime()
        rt.broker.add_middleware(delayed)
        held = [(f"held-{i}", rt.limiter.acquire(f"held-{i}")) for i in range(rt.limiter.limit)]
        assert all(token for _, token in held)  # every slot of the cap taken
    worker(threads=2)
    task_id = start(client, per_page=20)
    queue = wired.config["COLLECTOR_QUEUES"][0]

    wait_for(lambda: len(delayed.seen) >= 3, what="the task re-queued three times over the cap")
    assert set(delayed.seen) == {(dq_name(queue), wired.config["COLLECTOR_CAP_RETRY_MS"])}
    assert (task_of(client, task_id)["status"], task_of(client, task_id)["attempt"]) == ("pending", 0)

    with wired.app_context():
        for task, token in held:
            rt.limiter.release(task, token)
    wait_for(lambda: task_of(client, task_id)["progress"] >= 1, what="the first page once a slot freed")
    with wired.app_context():
        assert rt.limiter.holders() == 1  # the task's own lease, in Redis
    assert client.delete(f"{API}/task/{task_id}").status_code == 200
    with wired.app_context():
        assert rt.redis.exists(rt.cancel_key(task_id))  # on REDIS_URL whichever broker carries messages
    task = wait_status(client, task_id, {"cancelled", "completed", "failed"})
    assert (task["status"], task["attempt"], task["progress"]) == ("cancelled", 1, 1)


def test_a_start_while_rabbitmq_is_down_is_a_503_and_the_task_failed(make_collector_app, caplog):
    url = f"amqp://guest:hunter2-secret@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    client = make_collector_app(COLLECTOR_BROKER_URL=url).test_client()
    response = client.post(f"{API}/trials/start", json={"per_page": 10})
    assert response.status_code == 503
    assert set(response.json) >= {"code", "status", "message"} and response.json["status"] == "Service Unavailable"
    assert "hunter2" not in response.get_data(as_text=True) and "hunter2" not in caplog.text
    [task] = client.get(f"{API}/tasks").json["data"]
    assert (task["status"], task["error"]) == ("failed", "Could not enqueue the task: ConnectionClosed")
