"""Retention purge, and a worker process killed mid-task."""
import os
import signal
from datetime import timedelta

import time_machine

from services.collector import tasks
from services.collector.runtime import runtime
from shared.timeutil import utcnow
from tests.support.collector import start, task_of, trials_count, wait_status
from tests.support.processes import collector_worker
from tests.support.waiting import wait_for

API = "/api/v1/async-collection"


def test_finished_tasks_older_than_the_retention_are_purged(wired, client, worker, app):
    running_worker = worker(threads=1)
    done = wait_status(client, start(client, per_page=100), "completed")["id"]
    running_worker.stop()  # time travel below would make the delayed messages due in its threads
    cancelled = start(client, countdown=600)
    client.delete(f"{API}/task/{cancelled}")
    waiting = start(client, countdown=600)  # pending: not finished, never purged
    runner = app.test_cli_runner()

    with time_machine.travel(utcnow() + timedelta(hours=23)):
        assert runner.invoke(args=["collector", "purge"]).output.strip() == "purged 0 tasks"
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        assert runner.invoke(args=["collector", "purge"]).output.strip() == "purged 2 tasks"

    assert client.get(f"{API}/task/{done}").status_code == 404
    assert client.get(f"{API}/task/{cancelled}/logs").status_code == 404
    assert task_of(client, waiting)["status"] == "pending"
    assert client.get(f"{API}/tasks").json["count"] == 1


def test_a_worker_killed_mid_task_is_reaped_and_the_rerun_resumes(wired, client, worker, live_process,
                                                                  collector_config, trials_service, sandbox):
    wired.config.update(COLLECTOR_HEARTBEAT_TIMEOUT=2.0, COLLECTOR_HEARTBEAT_SECONDS=0.5)
    env = {key: value for key, value in collector_config.items() if isinstance(value, (str, int, float))
           and key not in ("TESTING",)}
    env.update(COLLECTOR_DATABASE_URL=collector_config["SQLALCHEMY_DATABASE_URI"],
               ODCLOUD_BASE_URL=sandbox.url + "/api", TRIALS_URL=trials_service.url, COLLECTOR_PACING_TRIALS=0.3,
               COLLECTOR_HEARTBEAT_SECONDS=0.5,
               LOG_DIR=str(collector_config["LOG_DIR"]), VAR_DIR=str(collector_config["VAR_DIR"]))
    doomed = live_process(collector_worker(2),
                          env=env, name="worker")
    task_id = start(client, per_page=10)
    wait_for(lambda: task_of(client, task_id)["progress"] >= 3, what="three pages delivered")

    os.killpg(doomed.process.pid, signal.SIGKILL)  # the worker and its forked children, as a crash would
    doomed.kill()  # reaps the main process and closes its log
    stalled = task_of(client, task_id)
    assert stalled["status"] == "running" and stalled["attempt"] == 1

    with wired.app_context():
        wait_for(lambda: tasks.reap() == [task_id], timeout=30, interval=0.2, what="the reaper to see the lost worker")
        assert task_of(client, task_id)["status"] == "pending"
    worker(threads=1)
    task = wait_status(client, task_id, {"completed", "failed", "cancelled"})

    assert task["status"] == "completed", task
    assert task["attempt"] == 2
    lines = "\n".join(line["message"] for line in client.get(f"{API}/task/{task_id}/logs?per_page=100").json["data"])
    assert "lost: no heartbeat" in lines and "re-running (attempt 2)" in lines
    assert f"Resuming snapshot collector-{task_id} at page" in lines
    # Nothing delivered twice: every trial was created once, in one snapshot.
    assert task["result_summary"]["created"] == 145
    assert task["result_summary"]["received"] < 145 + 10  # at most the page in flight was re-sent
    assert trials_count(trials_service.url) == 145
    with wired.app_context():
        assert runtime().limiter.holders() == 0


def test_a_task_lost_too_often_fails_with_a_reason(wired, client, app):
    wired.config.update(COLLECTOR_HEARTBEAT_TIMEOUT=1.0, COLLECTOR_MAX_ATTEMPTS=1)
    task_id = start(client, countdown=600)
    with app.app_context():
        # A worker claimed it, then vanished without a heartbeat.
        from sqlalchemy import update

        from services.collector.models import Task, db
        db.session.execute(update(Task).where(Task.id == task_id).values(
            status="running", attempt=1, worker="gone:1", heartbeat_at=utcnow() - timedelta(seconds=5)))
        db.session.commit()
        assert tasks.reap() == [task_id]
    task = task_of(client, task_id)
    assert task["status"] == "failed"
    assert task["error"] == "Worker gone:1 lost: no heartbeat for 1 s (attempt 1)"
