"""Running one task inside a worker: claim it, give its source a context, record the outcome.

The claim is a conditional UPDATE (pending -> running), so a message delivered twice, or a
task cancelled while its message waited, never runs twice or at all. While the source runs,
a heartbeat thread stamps the row and renews the task's slot in the concurrency cap; the
reaper (scheduler) re-runs or fails a task whose heartbeat stops.
"""
from __future__ import annotations

import logging
import os
import resource
import socket
import sys
import threading
import time
import uuid

from flask import current_app
from sqlalchemy import select, update

from services.collector import tasks
from services.collector.models import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    Task,
    db,
)
from services.collector.errors import SealingUnavailable, SourceError, TaskCancelled, TaskLost
from services.collector.runtime import runtime
from services.collector.sealing import unseal
from shared.http import session_from_config
from shared.redact import MASK, redact_text
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


class RunningTask:
    """The `TaskContext` a source gets (see sources/base.py)."""

    def __init__(self, task: Task, worker: str, secrets: dict, slot: str | None = None):
        self.app = current_app._get_current_object()
        self.rt = runtime()
        self.task_id = task.id
        self.attempt = task.attempt
        self.config = self.app.config
        self.http = session_from_config(self.config)
        self.state = dict(task.resume_state or {})
        self.total = task.total
        self.worker = worker
        self.slot = slot              # this delivery's lease in the cap (limiter.py), renewed by the heartbeat
        self.source = tasks.get_source(task.source)
        self._secret_values = [str(v) for v in secrets.values() if v not in (None, "") and len(str(v)) >= 4]
        self._cancelled = threading.Event()

    # --- writes to the task row (each commits: the row is what the API shows) ---------------
    def _update(self, **values) -> None:
        values["heartbeat_at"] = utcnow()
        changed = db.session.execute(update(Task).where(Task.id == self.task_id, Task.worker == self.worker,
                                                        Task.status.in_(ACTIVE)).values(**values)).rowcount
        db.session.commit()
        if changed != 1:
            raise TaskLost(self.task_id)

    def set_total(self, total: float) -> None:
        self.total = total
        self._update(total=total)

    def progress(self, done: float, total: float | None = None, step: str | None = None) -> None:
        values = {"progress": done}
        if total is not None:
            self.total = values["total"] = total
        if step is not None:
            values["current_step"] = self._clean(step)
        self._update(**values)

    def log(self, message: str, level: str = "INFO") -> None:
        tasks.add_log(self.task_id, self._clean(message), level)
        db.session.commit()

    def count(self, received: int = 0, written: int = 0, rejected: int = 0) -> None:
        self._update(rows_received=Task.rows_received + received, rows_written=Task.rows_written + written,
                     rows_rejected=Task.rows_rejected + rejected)

    def save_state(self, state: dict) -> None:
        self.state = dict(state)
        self._update(resume_state=self.state)

    # --- cancellation and pacing -------------------------------------------------------------
    def cancel_requested(self) -> bool:
        if not self._cancelled.is_set() and self.rt.cancel_requested(self.task_id):
            self._cancelled.set()
        return self._cancelled.is_set()

    def checkpoint(self) -> None:
        if self.cancel_requested():
            raise TaskCancelled(self.task_id)

    def pace(self, seconds: float | None = None) -> None:
        """Wait before the next upstream request: by default for the source's turn, shared by every
        task of the source on every worker (pacing.py); `seconds` is a pause of this task's own (a
        backoff)."""
        if seconds is not None:
            self._sleep(seconds)
            return
        interval = self.source.pacing(self.config)
        self.checkpoint()
        while (wait := self.rt.pacing.take_turn(self.source.name, interval)) > 0:
            self._sleep(wait)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.checkpoint()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Wake at least every 100 ms to notice a cancel.
            self._cancelled.wait(min(remaining, 0.1))

    # --- other services ------------------------------------------------------------------------
    def service_call(self, method, url_key, path, json=None, params=None):
        url = self.config[url_key].rstrip("/") + path
        response = self.http.request(method, url, json=json, params=params,
                                     headers={"Authorization": f"Bearer {self.config['SERVICE_TOKEN']}"})
        if response.status_code >= 400:
            try:
                detail = response.json().get("message") or response.text[:300]
            except ValueError:
                detail = response.text[:300]
            raise SourceError(f"{method} {path} answered HTTP {response.status_code}: {detail}")
        return response.json() if response.content else None

    def _clean(self, text: str) -> str:
        text = redact_text(str(text))
        for value in self._secret_values:
            text = text.replace(value, MASK)
        return text


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:6]}"


def _claim(task_id: str, worker: str) -> Task | None:
    now = utcnow()
    claimed = db.session.execute(
        update(Task).where(Task.id == task_id, Task.status == PENDING)
        .values(status=RUNNING, worker=worker, attempt=Task.attempt + 1, heartbeat_at=now,
                started_at=db.func.coalesce(Task.started_at, now), current_step="starting")
    ).rowcount == 1
    db.session.commit()
    return db.session.get(Task, task_id) if claimed else None


def run_task(task_id: str) -> None:
    """The actor's body: run the task if it can be claimed and a slot in the cap is free."""
    rt = runtime()
    status = db.session.scalar(select(Task.status).where(Task.id == task_id))
    if status != PENDING:
        log.info("task %s is %s; message dropped", task_id, status)
        return
    slot = rt.limiter.acquire(task_id)
    if slot is None:
        # Over the cap: wait as pending, in the queue, not in a worker thread.
        task_queue = db.session.scalar(select(Task.queue).where(Task.id == task_id))
        rt.enqueue(task_id, task_queue, delay_ms=rt.config["COLLECTOR_CAP_RETRY_MS"])
        return
    try:
        worker = worker_name()
        task = _claim(task_id, worker)
        if task is None:
            return  # another delivery runs it: give back this delivery's lease only (below)
        _execute(task, worker, slot)
    finally:
        rt.limiter.release(task_id, slot)


def _execute(task: Task, worker: str, slot: str | None = None) -> None:
    config = current_app.config
    try:
        secrets = unseal(config, task.secrets_sealed)
    except SealingUnavailable as exc:
        tasks.add_log(task.id, f"Failed: {exc}", "ERROR")
        tasks.finish(task.id, FAILED, error=str(exc), worker=worker)
        tasks.notify_end(task)
        return
    ctx = RunningTask(task, worker, secrets, slot)
    params = {**task.params, **secrets}
    ctx.log(f"Started {task.type} (attempt {task.attempt}) on {worker.rsplit(':', 2)[0]}")
    heartbeat = Heartbeat(ctx)
    heartbeat.start()
    status, error, summary = COMPLETED, None, None
    try:
        ctx.pace()  # the source's first request takes its turn too (pacing is shared, see pace())
        summary = ctx.source.run(ctx, params) or {}
        if ctx.cancel_requested():
            # The work is done (and delivered): saying "cancelled" now would be untrue.
            ctx.log("A cancel arrived after the work had finished; the task completed")
    except TaskCancelled:
        status = CANCELLED
    except TaskLost:
        log.warning("task %s was taken from this worker; stopping", task.id)
        return
    except SourceError as exc:
        status, error = FAILED, ctx._clean(str(exc))
    except Exception as exc:  # a bug or an unexpected upstream answer: fail the task, keep the worker
        log.exception("task %s crashed", task.id)
        status, error = FAILED, ctx._clean(f"{type(exc).__name__}: {exc}")
    finally:
        heartbeat.stop()
        db.session.rollback()
    line = {COMPLETED: "Completed", CANCELLED: "Cancelled", FAILED: f"Failed: {error}"}[status]
    try:
        ctx.log(line, "ERROR" if status == FAILED else "INFO")
    except Exception:  # the outcome below must still be recorded
        db.session.rollback()
    db.session.execute(update(Task).where(Task.id == task.id).values(
        peak_memory=_peak_rss_bytes(), progress=Task.total if status == COMPLETED and task.total else Task.progress))
    if tasks.finish(task.id, status, error=error, summary=summary, worker=worker):
        tasks.notify_end(db.session.get(Task, task.id))


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class Heartbeat(threading.Thread):
    """Stamps `heartbeat_at` and renews the cap lease while the source works between updates."""

    def __init__(self, ctx: RunningTask):
        super().__init__(name=f"heartbeat-{ctx.task_id[:8]}", daemon=True)
        self.ctx = ctx
        self._stop_event = threading.Event()

    def run(self) -> None:
        interval = self.ctx.config["COLLECTOR_HEARTBEAT_SECONDS"]
        with self.ctx.app.app_context():
            while not self._stop_event.wait(interval):
                try:
                    db.session.execute(update(Task).where(Task.id == self.ctx.task_id, Task.worker == self.ctx.worker)
                                       .values(heartbeat_at=utcnow()))
                    db.session.commit()
                    if self.ctx.slot:
                        self.ctx.rt.limiter.renew(self.ctx.task_id, self.ctx.slot)
                    if self.ctx.rt.cancel_requested(self.ctx.task_id):
                        self.ctx._cancelled.set()
                except Exception as exc:  # a missed beat must not end the thread
                    db.session.rollback()
                    log.warning("heartbeat of task %s failed: %s", self.ctx.task_id, exc)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)
