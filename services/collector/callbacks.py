"""The end-of-task callback: POST a JSON summary to the task's `callback_url`.

Runs as its own actor, so a slow or failing receiver never holds a collection worker;
Dramatiq's Retries middleware retries it (COLLECTOR_CALLBACK_RETRIES, with backoff). The target
must be allowed by COLLECTOR_OUTBOUND_ALLOW (outbound.py); a URL with credentials is stored sealed.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from flask import current_app

from services.collector.errors import CallbackFailed
from services.collector.models import Task, db
from services.collector.tasks import add_log
from services.collector.outbound import (
    COULD_NOT_CONNECT,
    NOT_ALLOWED,
    OutboundRefused,
    OutboundUnreachable,
    policy_from_config,
)
from services.collector.sealing import unseal_callback_url
from shared.http import HttpSession
from shared.redact import redact_text, redact_url

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


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
    url = unseal_callback_url(config, task.callback_url)   # sealed when it holds credentials
    target = redact_text(redact_url(url))  # user:password@ and token=... in the query
    retry = True
    try:
        # The host is checked against COLLECTOR_OUTBOUND_ALLOW and resolved once; the POST goes to that
        # address (no DNS rebinding), never follows a redirect, and ignores proxy settings.
        parts = urlsplit(url)
        pinned = policy_from_config(config).pin(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])
        # One attempt per delivery: the retries are Dramatiq's, so they survive a worker restart.
        session = HttpSession(timeout=config["HTTP_TIMEOUT"], retries=0, pin_address=pinned.address)
        response = session.post(url, json=callback_body(task), allow_redirects=False)
        ok = 200 <= response.status_code < 300
        outcome = f"HTTP {response.status_code}"
    except OutboundRefused:
        ok, outcome, retry = False, NOT_ALLOWED, False   # refused now, refused on every retry
    except (OutboundUnreachable, requests.RequestException, ValueError):
        # Refused, reset, timed out or unresolvable: one answer, so the log cannot tell ports apart.
        ok, outcome = False, COULD_NOT_CONNECT
    add_log(task.id, f"Callback to {target}: {outcome}", "INFO" if ok else "WARNING")
    db.session.commit()
    if not ok and retry:
        raise CallbackFailed(f"callback of task {task_id} to {target}: {outcome}")
