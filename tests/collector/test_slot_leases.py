"""A duplicate delivery of a task's message never frees the slot of the copy that runs."""
from __future__ import annotations

import logging
import threading

import marshmallow as ma
from dramatiq import Message
from sqlalchemy import select

from services.collector.models import Task, db
from services.collector.runtime import RUN_TASK, runtime
from services.collector.sources import SOURCES
from services.collector.sources.base import Source
from tests.support.collector import start, wait_status
from tests.support.waiting import wait_for


class HeldParamsSchema(ma.Schema):
    pass


class HeldSource(Source):
    """Runs until the test lets it go, so a second delivery arrives while the first copy runs."""

    name = "held"
    params_schema = HeldParamsSchema
    pacing_seconds = 0.0
    entered = threading.Event()
    release = threading.Event()

    def run(self, ctx, params):
        self.entered.set()
        while not self.release.wait(0.05):
            ctx.checkpoint()
        return {"ran": 1}


def test_limiter_leases_are_per_delivery(app):
    with app.app_context():
        limiter = runtime().limiter
        running = limiter.acquire("task-a")
        duplicate = limiter.acquire("task-a")
        assert running and duplicate and running != duplicate
        limiter.release("task-a", duplicate)
        assert limiter.holders() == 1           # the running copy still holds its slot
        limiter.release("task-a", running)
        assert limiter.holders() == 0
        limiter.acquire("task-b"), limiter.acquire("task-b")
        assert limiter.release_all("task-b") == 2 and limiter.holders() == 0


def test_a_duplicate_message_leaves_the_running_copy_its_slot(app, client, worker, monkeypatch, caplog):
    monkeypatch.setitem(SOURCES, "held", HeldSource())
    HeldSource.entered.clear()
    HeldSource.release.clear()
    caplog.set_level(logging.INFO, logger="services.collector.runner")
    worker(threads=2)
    task_id = start(client, "held")
    assert HeldSource.entered.wait(30)
    with app.app_context():
        rt = runtime()
        assert rt.limiter.holders() == 1
        # The same message again (as a broker redelivers after a lost acknowledgement).
        rt.broker.enqueue(Message(queue_name="default", actor_name=RUN_TASK, args=(task_id,), kwargs={}, options={}))
    wait_for(lambda: f"task {task_id} is running; message dropped" in caplog.text, 30,
             what="the duplicate to be processed (dropped)")
    with app.app_context():
        rt = runtime()
        assert rt.limiter.holders() == 1             # and the running copy's slot is still taken
    HeldSource.release.set()
    assert wait_status(client, task_id, "completed")["result_summary"] == {"ran": 1}
    with app.app_context():
        wait_for(lambda: runtime().limiter.holders() == 0, 10, what="the slot to be given back")
        assert db.session.scalar(select(Task.attempt).where(Task.id == task_id)) == 1
