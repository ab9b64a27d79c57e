"""The end-of-task callback: POST a JSON summary to the task's `callback_url`.

Runs as its own actor, so a slow or failing receiver never holds a collection worker;
Dramatiq's Retries middleware retries it (COLLECTOR_CALLBACK_RETRIES, with backoff).
"""
from __future__ import annotations

import logging

import requests
from flask import current_app

from services.collector.errors import CallbackFailed
from services.collector.models import Task, db
from services.collector.tasks import add_log
from shared.http import HttpSession
from shared.redact import redact_text, redact_url

log = logging.getLogger(__name__)


def callback_body(task: Task) -> dict:
    """Shaped like the legacy job API's callback (status success|error), plus the task's fields."""
    return {
        "task_id": task.id,
        "type": task.type,
        "platform": task.source,
        "status": "success" if task.status == "completed" else "error",
        "task_status": task.status,
        "timestamp": task.completed_at.isoformat() if task.completed_at else None,
        "execution_time": _run_time(task),
        "result_summary": task.result_summary or {},
        "rows_received": task.rows_received,
        "rows_written": task.rows_written,
        "rows_rejected": task.rows_rejected,
        **({"error_message": task.error} if task.error else {}),
    }


def _run_time(task: Task) -> float | None:
    if task.started_at and task.completed_at:
        return round((task.completed_at - task.started_at).total_seconds(), 3)
    return None


def send_callback(task_id: str) -> None:
    task = db.session.get(Task, task_id)
    if task is None or not task.callback_url:
        return
    config = current_app.config
    # One attempt per delivery: the retries are Dramatiq's, so they survive a worker restart.
    session = HttpSession(timeout=config["HTTP_TIMEOUT"], retries=0)
    target = redact_text(redact_url(task.callback_url))  # user:password@ and token=... in the query
    try:
        response = session.post(task.callback_url, json=callback_body(task))
        ok = 200 <= response.status_code < 300
        outcome = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        ok, outcome = False, type(exc).__name__
    add_log(task.id, f"Callback to {target}: {outcome}", "INFO" if ok else "WARNING")
    db.session.commit()
    if not ok:
        raise CallbackFailed(f"callback of task {task_id} to {target}: {outcome}")
