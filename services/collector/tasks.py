"""Collection tasks: start, look up, list, cancel, summarise, purge, reap.

Views, the CLI, the scheduler and the actors share these functions; a task is enqueued by actor
name through the broker (runtime.py), so this module never imports the actors. Status changes are
conditional UPDATEs (`... WHERE status = <expected>`), so a cancel racing a worker's
claim, or two reapers, can never both win.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from urllib.parse import urlsplit
from datetime import timedelta
from functools import cache

import marshmallow as ma
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from services.collector.errors import EnqueueFailed, IdempotencyConflict, TaskFinished, UnknownSource
from services.collector.models import (
    ACTIVE,
    CANCELLED,
    CANCELLING,
    COMPLETED,
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    Task,
    TaskLog,
    db,
)
from services.collector.api_keys import Caller
from services.collector.outbound import OutboundRefused, policy_from_config
from services.collector.runtime import runtime
from services.collector.schemas import CommonStartSchema
from services.collector.sealing import seal, seal_callback_url
from services.collector.sources import SOURCES
from services.collector.sources.base import Source
from shared.redact import MASK, SECRET_KEYS, redact, redact_text
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

COMMON_FIELDS = ("countdown", "queue", "idempotency_key", "callback_url")
NOT_QUEUED_MESSAGE = "The task queue (Redis) is not available; the task was not started."


@cache
def start_schema(source_name: str) -> type[ma.Schema]:
    """The start body of `source_name`: its own fields plus the common ones; unknown fields are refused."""
    source = SOURCES[source_name]
    return type(f"{source_name.title()}StartSchema", (source.params_schema, CommonStartSchema),
                {"Meta": type("Meta", (), {"unknown": ma.RAISE})})


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownSource(f"Unknown source {name!r}; known: {', '.join(sorted(SOURCES))}.") from None


def secret_names(source: Source, params: dict) -> set[str]:
    return set(source.secret_params) | {key for key in params if SECRET_KEYS.search(key)}


def _request_hash(config, body: dict) -> str:
    # Keyed, because the body may hold secrets and the hash is stored.
    key = (config.get("COLLECTOR_SECRET_KEY") or config.get("SERVICE_TOKEN") or "collector").encode()
    return hmac.new(key, json.dumps(body, sort_keys=True, default=str).encode(), hashlib.sha256).hexdigest()


def start_task(source_name: str, body: dict, by: Caller | None = None) -> tuple[Task, bool]:
    """Validate, store and enqueue a task. Returns (task, created); created is False for a repeat
    of an idempotency key with the same body. `by` is the caller, kept in the task's audit trail.
    Raises ma.ValidationError, UnknownSource, IdempotencyConflict, EnqueueFailed."""
    source = get_source(source_name)
    config = runtime().config
    data = start_schema(source_name)().load(body)
    queues = config["COLLECTOR_QUEUES"]
    queue = data.pop("queue") or queues[0]
    if queue not in queues:
        raise ma.ValidationError({"queue": [f"Unknown queue {queue!r}; known: {', '.join(queues)}."]})
    countdown, key, callback_url = data.pop("countdown"), data.pop("idempotency_key"), data.pop("callback_url")
    check_callback_url(config, callback_url)
    request_hash = _request_hash(config, body)
    if key:
        existing = db.session.scalar(select(Task).where(Task.idempotency_key == key))
        if existing is not None:
            return _repeat(existing, request_hash), False
    secrets = {name: data.pop(name) for name in secret_names(source, data) if data.get(name) not in (None, "")}
    given = {key: value for key, value in body.items() if key not in COMMON_FIELDS}
    public = {**redact(_jsonable(given)), **{name: MASK for name in secrets}}
    now = utcnow()
    task = Task(id=str(uuid.uuid4()), source=source.name, status=PENDING, queue=queue, params=public,
                secrets_sealed=seal(config, secrets), idempotency_key=key, request_hash=request_hash,
                callback_url=seal_callback_url(config, callback_url), created_at=now,
                not_before=now + timedelta(seconds=countdown) if countdown else None,
                progress=0, result_summary={}, resume_state={}, rows_received=0, rows_written=0,
                rows_rejected=0, attempt=0, started_by=by.audit() if by else None)
    db.session.add(task)
    add_log(task.id, f"Task created on queue {queue}" + (f", starts in {countdown:g} s" if countdown else "")
            + (f"; started by {by.describe()}" if by else ""))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(Task).where(Task.idempotency_key == key)) if key else None
        if existing is None:
            raise
        return _repeat(existing, request_hash), False
    try:
        runtime().enqueue(task.id, queue, delay_ms=int(countdown * 1000) if countdown else None)
    except Exception as exc:  # the broker is down: the task must not stay pending forever
        log.error("enqueue of task %s failed: %s", task.id, exc)
        finish(task.id, FAILED, error=f"Could not enqueue the task: {type(exc).__name__}", expected=(PENDING,))
        raise EnqueueFailed(NOT_QUEUED_MESSAGE) from exc
    return task, True


def check_callback_url(config, url: str | None) -> None:
    """Refuse (422) a callback target COLLECTOR_OUTBOUND_ALLOW refuses, as far as no DNS lookup is needed;
    the callback itself checks the resolved address again (callbacks.py)."""
    if not url:
        return
    parts = urlsplit(url)
    try:
        policy_from_config(config).precheck(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (OutboundRefused, ValueError):
        raise ma.ValidationError({"callback_url": ["The host is not allowed (COLLECTOR_OUTBOUND_ALLOW)."]}) from None


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _repeat(existing: Task, request_hash: str) -> Task:
    if not hmac.compare_digest(existing.request_hash or "", request_hash):
        raise IdempotencyConflict(f"Idempotency key already used by task {existing.id} with another body.")
    return existing


def get_task(task_id: str) -> Task | None:
    try:
        uuid.UUID(task_id)
    except ValueError:
        return None
    return db.session.get(Task, task_id)


def recent_lines(task_id: str, limit: int) -> list[str]:
    rows = db.session.scalars(select(TaskLog).where(TaskLog.task_id == task_id)
                              .order_by(TaskLog.id.desc()).limit(limit)).all()
    return [row.line for row in reversed(rows)]


def with_recent_logs(task: Task) -> Task:
    task.logs = recent_lines(task.id, runtime().config["COLLECTOR_TASK_LOG_LINES"])
    return task


def tasks_query(statuses: list[str] | None = None, source: str | None = None):
    stmt = select(Task).order_by(Task.created_at.desc(), Task.id.desc())
    if statuses:
        stmt = stmt.where(Task.status.in_(statuses))
    if source:
        stmt = stmt.where(Task.source == source)
    return stmt


def logs_query(task_id: str):
    return select(TaskLog).where(TaskLog.task_id == task_id).order_by(TaskLog.id)


def add_log(task_id: str, message: str, level: str = "INFO") -> None:
    """Store a line for the task (the caller commits) and write it to the service log."""
    message = redact_text(message)
    db.session.add(TaskLog(task_id=task_id, at=utcnow(), level=level, message=message))
    log.log(logging.getLevelName(level) if isinstance(logging.getLevelName(level), int) else logging.INFO,
            "task %s: %s", task_id, message)


def finish(task_id: str, status: str, error: str | None = None, summary: dict | None = None,
           expected: tuple[str, ...] = ACTIVE, worker: str | None = None) -> bool:
    """Move a task to a final status if it is still in `expected` (and held by `worker`); commits."""
    values = {"status": status, "completed_at": utcnow()}
    if error is not None:
        values["error"] = redact_text(error)
    if summary is not None:
        values["result_summary"] = summary
    stmt = update(Task).where(Task.id == task_id, Task.status.in_(expected))
    if worker is not None:
        stmt = stmt.where(Task.worker == worker)
    changed = db.session.execute(stmt.values(**values)).rowcount == 1
    db.session.commit()
    return changed


def cancel_task(task_id: str, by: Caller | None = None) -> tuple[Task, str]:
    """Cancel at once if pending; ask a running task to stop at its next checkpoint. `by`, the caller,
    is kept in the task's audit trail."""
    task = get_task(task_id)
    if task is None:
        raise LookupError(task_id)
    if task.finished:
        raise TaskFinished(f"Task {task_id} is already {task.status}; nothing to cancel.")
    if by is not None:
        db.session.execute(update(Task).where(Task.id == task_id, Task.status.not_in(FINISHED))
                           .values(cancelled_by=by.audit()))
        db.session.commit()
    who = f" by {by.describe()}" if by else ""
    if task.status == PENDING:
        if finish(task_id, CANCELLED, expected=(PENDING,)):
            add_log(task_id, f"Cancelled before it started{who}")
            db.session.commit()
            notify_end(task)
            return _fresh(task), "Task cancelled; it will not run."
        task = _fresh(task)  # a worker claimed it meanwhile: cancel it as a running task
    if task.status in (RUNNING, CANCELLING):
        runtime().request_cancel(task_id)
        changed = db.session.execute(update(Task).where(Task.id == task_id, Task.status == RUNNING)
                                     .values(status=CANCELLING)).rowcount
        if changed:
            add_log(task_id, f"Cancel requested{who}; stopping at the next checkpoint")
        db.session.commit()
        return _fresh(task), "Cancel requested; the task stops at its next checkpoint."
    raise TaskFinished(f"Task {task_id} is already {task.status}; nothing to cancel.")


def _fresh(task: Task) -> Task:
    db.session.refresh(task)
    return task


def notify_end(task: Task) -> None:
    if task.callback_url:
        try:
            runtime().enqueue_callback(task.id)
        except Exception as exc:  # the task has ended; a lost callback is logged
            log.error("could not enqueue the callback of task %s: %s", task.id, exc)


def summary() -> dict:
    counts = dict(db.session.execute(select(Task.status, func.count()).group_by(Task.status)).all())
    return {
        "total_tasks": sum(counts.values()),
        "pending": counts.get(PENDING, 0),
        "running": counts.get(RUNNING, 0) + counts.get(CANCELLING, 0),
        "completed": counts.get(COMPLETED, 0),
        "failed": counts.get(FAILED, 0),
        "cancelled": counts.get(CANCELLED, 0),
        "timestamp": utcnow(),
    }


def purge(max_age_hours: float) -> int:
    """Delete finished tasks (and their logs) that ended more than `max_age_hours` ago."""
    cutoff = utcnow() - timedelta(hours=max_age_hours)
    old = select(Task.id).where(Task.status.in_(FINISHED), Task.completed_at < cutoff)
    db.session.execute(delete(TaskLog).where(TaskLog.task_id.in_(old)))
    deleted = db.session.execute(delete(Task).where(Task.id.in_(old.scalar_subquery()))).rowcount
    db.session.commit()
    if deleted:
        log.info("purged %d finished tasks older than %g h", deleted, max_age_hours)
    return deleted


def reap() -> list[str]:
    """Tasks whose worker stopped sending heartbeats: re-run them (resuming), or fail them
    once they have had COLLECTOR_MAX_ATTEMPTS attempts. Returns the ids handled."""
    config = runtime().config
    timeout = config["COLLECTOR_HEARTBEAT_TIMEOUT"]
    stale = db.session.scalars(select(Task).where(Task.status.in_(ACTIVE),
                                                  Task.heartbeat_at < utcnow() - timedelta(seconds=timeout))).all()
    handled = []
    for task in stale:
        lost = f"Worker {task.worker} lost: no heartbeat for {timeout:g} s"
        guard = update(Task).where(Task.id == task.id, Task.status == task.status,
                                   Task.heartbeat_at == task.heartbeat_at)
        if task.status == CANCELLING:
            values, line, requeue = {"status": CANCELLED, "completed_at": utcnow(), "error": lost}, lost, False
        elif task.attempt < config["COLLECTOR_MAX_ATTEMPTS"]:
            values = {"status": PENDING, "worker": None}
            line, requeue = f"{lost}; re-running (attempt {task.attempt + 1})", True
        else:
            values = {"status": FAILED, "completed_at": utcnow(), "error": f"{lost} (attempt {task.attempt})"}
            line, requeue = values["error"], False
        if db.session.execute(guard.values(**values)).rowcount != 1:
            db.session.rollback()
            continue
        add_log(task.id, line, "WARNING")
        db.session.commit()
        runtime().limiter.release_all(task.id)
        if requeue:
            runtime().enqueue(task.id, task.queue)
        else:
            notify_end(task)
        handled.append(task.id)
    return handled
