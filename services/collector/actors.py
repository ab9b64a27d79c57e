"""The collector's Dramatiq actors: the one module that declares them, on the broker it is given
(runtime.py builds the broker and calls `declare_actors`; create_app hands it over).

Actors take an id only; the row holds everything else. All are safe to deliver twice:
`run_task` runs only a task it can claim, a dump runs only once it is claimed, and a
callback is a POST the receiver may see again after a lost acknowledgement.
"""
from __future__ import annotations

from dataclasses import dataclass

import dramatiq

from services.collector.callbacks import send_callback
from services.collector.item_dumps import run_dump
from services.collector.runner import run_task
from services.collector.runtime import DUMP_ITEMS, RUN_TASK, SEND_CALLBACK


@dataclass
class CollectorActors:
    run_task: dramatiq.Actor
    send_callback: dramatiq.Actor
    dump_items: dramatiq.Actor


def _run_task(task_id: str) -> None:
    run_task(task_id)


def _send_callback(task_id: str) -> None:
    send_callback(task_id)


def _dump_items(dump_id: str) -> None:
    run_dump(dump_id)


def declare_actors(broker, config) -> CollectorActors:
    queues = config["COLLECTOR_QUEUES"]
    for queue in (*queues, config["COLLECTOR_DUMP_QUEUE"]):
        broker.declare_queue(queue)
    return CollectorActors(
        run_task=dramatiq.actor(
            _run_task, actor_name=RUN_TASK, queue_name=queues[0], broker=broker,
            # A lost worker is handled by the reaper (heartbeats), not by Dramatiq's retries.
            max_retries=0, time_limit=config["COLLECTOR_TIME_LIMIT_SECONDS"] * 1000),
        send_callback=dramatiq.actor(
            _send_callback, actor_name=SEND_CALLBACK, queue_name=queues[0], broker=broker,
            max_retries=config["COLLECTOR_CALLBACK_RETRIES"], min_backoff=config["COLLECTOR_CALLBACK_BACKOFF_MS"],
            max_backoff=config["COLLECTOR_CALLBACK_BACKOFF_MS"] * 4, time_limit=120_000),
        # The collected items' dump job (item_dumps.py).
        dump_items=dramatiq.actor(
            _dump_items, actor_name=DUMP_ITEMS, queue_name=config["COLLECTOR_DUMP_QUEUE"], broker=broker, max_retries=0,
            time_limit=3600 * 1000),
    )
