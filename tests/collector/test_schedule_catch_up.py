"""The scheduler keeps its source schedules in Redis (a persistent job store), so a fire that came
due while it was down runs once when it starts again, if within COLLECTOR_SCHEDULE_GRACE_SECONDS."""
from __future__ import annotations

import threading

import time_machine
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from services.collector.models import Task, db
from services.collector.scheduler import build_scheduler

BEFORE_MIDNIGHT = "2026-03-01T23:50:00+09:00"   # the trials schedule fires daily at 00:00 Asia/Seoul


def run_once(app, at: str, job_id: str | None = None) -> str | None:
    """Start a scheduler at `at` (time-machine), wait for `job_id` to run or be missed, stop it.
    Returns "executed" or "missed" (None when `job_id` is None: the start only stores the schedules)."""
    outcome, seen = [], threading.Event()

    def listen(event):
        if event.job_id == job_id:
            outcome.append("executed" if event.code == EVENT_JOB_EXECUTED else "missed")
            seen.set()

    with time_machine.travel(at, tick=True):
        scheduler = build_scheduler(app, BackgroundScheduler)
        scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
        scheduler.start()
        if job_id is not None:
            assert seen.wait(30), f"{job_id} neither ran nor was missed"
        scheduler.shutdown(wait=True)
    return outcome[0] if outcome else None


def scheduled_trials(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Task.idempotency_key).where(Task.source == "trials")))


def test_a_fire_missed_while_down_runs_once_on_start_within_the_grace(app):
    app.config["COLLECTOR_SCHEDULE_GRACE_SECONDS"] = 3600
    run_once(app, BEFORE_MIDNIGHT)                                   # stores the next fire: 00:00
    # Down over midnight; back 30 minutes later.
    assert run_once(app, "2026-03-02T00:30:00+09:00", "collect-trials") == "executed"
    assert scheduled_trials(app) == ["schedule:trials:2026-03-02T00:00+09:00"]  # the slot it belongs to
    with time_machine.travel("2026-03-02T00:40:00+09:00", tick=True):
        job = build_scheduler(app, BackgroundScheduler)._jobstores["persistent"].lookup_job("collect-trials")
    assert job.next_run_time.isoformat() == "2026-03-03T00:00:00+09:00"  # caught up: the next fire is tomorrow's


def test_a_fire_missed_beyond_the_grace_is_skipped(app):
    app.config["COLLECTOR_SCHEDULE_GRACE_SECONDS"] = 3600
    run_once(app, BEFORE_MIDNIGHT)
    assert run_once(app, "2026-03-02T01:30:00+09:00", "collect-trials") == "missed"
    assert scheduled_trials(app) == []
