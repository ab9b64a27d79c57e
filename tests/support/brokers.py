"""The brokers the collector's real-worker tests run over: Redis always, and RabbitMQ when TEST_AMQP_URL
names one (e.g. amqp://guest:guest@127.0.0.1:5672/%2F; .ci/run sets it when RabbitMQ answers).

`@over_every_broker` parametrizes a test's `message_broker` fixture (collector_fixtures.py) with each;
on RabbitMQ a test's queues are named after its Redis namespace and deleted afterwards."""
from __future__ import annotations

import os

import pika
import pytest
from dramatiq.common import dq_name, xq_name

AMQP_URL = os.environ.get("TEST_AMQP_URL")
BROKERS = ["redis"] + (["rabbitmq"] if AMQP_URL else [])
over_every_broker = pytest.mark.parametrize("message_broker", BROKERS, indirect=True)


def rabbitmq_queues(namespace: str) -> dict:
    """The config keys that give a test on RabbitMQ queues of its own (the API's default queue first)."""
    return {"COLLECTOR_QUEUES": [f"{namespace}-default", f"{namespace}-bulk"],
            "COLLECTOR_DUMP_QUEUE": f"{namespace}-dumps"}


def with_delay_and_dead_letters(queues: list[str]) -> list[str]:
    return [name for queue in queues for name in (queue, dq_name(queue), xq_name(queue))]


def rabbitmq_depth(url: str, queue: str) -> int | None:
    """Messages ready on `queue` (None when RabbitMQ has no such queue), by a passive declare."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:  # 404 NOT_FOUND
            return None
    finally:
        if connection.is_open:
            connection.close()


def delete_rabbitmq_queues(url: str, queues: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue=queue)  # deleting a queue that was never declared is no error
    finally:
        connection.close()
