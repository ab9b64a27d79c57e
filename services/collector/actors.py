"""The collector's Dramatiq actors, declared on the broker they are given (see runtime.py).

Actors take a task id only; the task row holds everything else. Both are safe to
deliver twice: `run_task` runs only a task it can claim, and a callback is a POST the
receiver may see again after a lost acknowledgement.
"""
from __future__ import annotations

from dataclasses import dataclass

import dramatiq

RUN_TASK = "collector_run_task"
SEND_CALLBACK = "collector_send_callback"


@dataclass
class CollectorActors:
    run_task: dramatiq.Actor
    send_callback: dramatiq.Actor


def _run_task(task_id: str) -> None:
    from services.collector.runner import run_task

    run_task(task_id)


def _send_callback(task_id: str) -> None:
    from services.collector.callbacks import send_callback

    send_callback(task_id)


def declare_actors(broker, config) -> CollectorActors:
    queues = config["COLLECTOR_QUEUES"]
    for queue in queues:
        broker.declare_queue(queue)
    run_task = dramatiq.actor(
        _run_task, actor_name=RUN_TASK, queue_name=queues[0], broker=broker,
        # A lost worker is handled by the reaper (heartbeats), not by Dramatiq's retries.
        max_retries=0, time_limit=config["COLLECTOR_TIME_LIMIT_SECONDS"] * 1000,
    )
    send_callback = dramatiq.actor(
        _send_callback, actor_name=SEND_CALLBACK, queue_name=queues[0], broker=broker,
        max_retries=config["COLLECTOR_CALLBACK_RETRIES"], min_backoff=config["COLLECTOR_CALLBACK_BACKOFF_MS"],
        max_backoff=config["COLLECTOR_CALLBACK_BACKOFF_MS"] * 4, time_limit=120_000,
    )
    from services.collector.item_dumps import (
        declare_dump_actor,  # the collected items' dump job
    )
    declare_dump_actor(broker, queues[0])
    return CollectorActors(run_task=run_task, send_callback=send_callback)
