"""Unit tests of `tasks` and `runner` on Dramatiq's StubBroker and Worker: the messages the
domain enqueues (by actor name) and what a delivery of them does. The same paths over a real
Redis broker are the integration tests beside this file (test_happy_path.py, ...)."""
from __future__ import annotations

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

from services.collector import tasks
from services.collector.actors import declare_actors
from services.collector.broker import AppContextMiddleware
from services.collector.models import Task, db
from services.collector.runner import run_task
from services.collector.runtime import DUMP_ITEMS, RUN_TASK, SEND_CALLBACK, runtime


@pytest.fixture
def broker(app):
    """The app's runtime on a StubBroker with the collector's actors declared on it; messages
    run inside the app context, as on the Redis broker. No worker consumes it yet."""
    stub = StubBroker()
    stub.add_middleware(AppContextMiddleware(app))
    with app.app_context():
        runtime().broker = stub  # replaces the cached Redis broker before anything is sent
        declare_actors(stub, app.config)
    yield stub
    # The app fixture closes the runtime's broker, this one, at its teardown.


@pytest.fixture
def stub_worker(broker):
    """`stub_worker()`: one Dramatiq worker thread consuming the stub broker, stopped afterwards."""
    started = []

    def start() -> Worker:
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def queued(broker: StubBroker, queue: str) -> list[dramatiq.Message]:
    return [dramatiq.Message.decode(data) for data in list(broker.queues[queue].queue)]


def start_trials_task(app) -> Task:
    with app.app_context():
        task, created = tasks.start_task("trials", {"per_page": 10})
        assert created
        db.session.expunge(task)
        return task


def task_row(app, task_id: str) -> Task:
    with app.app_context():
        task = db.session.get(Task, task_id)
        db.session.expunge(task)
        return task


def test_the_actors_are_declared_on_the_broker_by_name(broker, app):
    assert {RUN_TASK, SEND_CALLBACK, DUMP_ITEMS} <= set(broker.get_declared_actors())
    assert set(app.config["COLLECTOR_QUEUES"]) | {app.config["COLLECTOR_DUMP_QUEUE"]} <= broker.get_declared_queues()


def test_starting_a_task_enqueues_one_run_message_naming_the_actor(broker, app):
    task = start_trials_task(app)
    [message] = queued(broker, task.queue)
    assert (message.actor_name, message.args, message.queue_name) == (RUN_TASK, (task.id,), task.queue)
    assert task_row(app, task.id).status == "pending"


def test_a_countdown_puts_the_message_on_the_delay_queue(broker, app):
    with app.app_context():
        task, _ = tasks.start_task("trials", {"per_page": 10, "countdown": 30})
        queue = task.queue
    assert queued(broker, queue) == []
    [message] = queued(broker, dq_name(queue))
    assert message.actor_name == RUN_TASK and message.options["eta"] > 0


def test_a_delivery_runs_the_task_to_its_end_and_a_second_delivery_is_dropped(broker, stub_worker, app):
    # The odcloud URL of the test config refuses connections: the task fails, the worker lives on.
    task = start_trials_task(app)
    stub_worker()
    broker.join(task.queue, timeout=60_000)
    failed = task_row(app, task.id)
    assert (failed.status, failed.attempt) == ("failed", 1)
    assert failed.error and failed.completed_at is not None
    with app.app_context():
        lines = tasks.recent_lines(task.id, 100)
        runtime().enqueue(task.id, task.queue)  # the same message again, as a redelivery would
    broker.join(task.queue, timeout=60_000)
    again = task_row(app, task.id)
    assert (again.status, again.attempt, again.completed_at) == ("failed", 1, failed.completed_at)
    with app.app_context():
        assert tasks.recent_lines(task.id, 100) == lines
    assert broker.dead_letters == []


def test_a_task_cancelled_while_queued_is_never_run(broker, stub_worker, app):
    task = start_trials_task(app)
    with app.app_context():
        cancelled, _ = tasks.cancel_task(task.id)
        assert cancelled.status == "cancelled"
    stub_worker()
    broker.join(task.queue, timeout=60_000)
    after = task_row(app, task.id)
    assert (after.status, after.attempt, after.started_at) == ("cancelled", 0, None)


def test_over_the_cap_the_message_waits_on_the_delay_queue_not_in_a_worker(broker, app):
    app.config.update(COLLECTOR_MAX_RUNNING=1, COLLECTOR_CAP_RETRY_MS=60_000)
    task = start_trials_task(app)
    # No worker: this test delivers the message itself, as a worker thread would.
    with app.app_context():
        limiter = runtime().limiter
        slot = limiter.acquire("another-task")  # the cap's only slot, held by another task
        assert slot is not None
        try:
            run_task(task.id)
        finally:
            limiter.release("another-task", slot)
        assert limiter.holders() == 0
    [retry] = queued(broker, dq_name(task.queue))
    assert (retry.actor_name, retry.args) == (RUN_TASK, (task.id,))
    assert retry.options["eta"] > 0
    waiting = task_row(app, task.id)
    assert (waiting.status, waiting.attempt) == ("pending", 0)
