"""Health routes: `/health/live` (the process answers), `/health/ready` and `/health` (every
dependency the service needs answers too; else 503 naming the ones that do not).

Each dependency is a check in `app.extensions["health_checks"]`: the database for every service,
added by `build_service_app`; a service adds its own with `add_check(app, name, check)`, where
`check()` runs inside an app context and raises (or returns a message) when the dependency is down.
A check runs in a thread of its own and counts as down after HEALTH_CHECK_TIMEOUT seconds, so a
dependency that accepts connections and never answers cannot hang the route; while a check is
stuck past its timeout it is not started again (reported down straight away), so stuck threads
stay one per check.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import marshmallow as ma
import redis
from flask import Flask, current_app
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import text

from shared.api import Blueprint, ErrorSchema, error_example
from shared.timeutil import utcnow

EXTENSION = "health_checks"
OK = "ok"
NOT_READY_ERRORS = {"database": "ok", "redis": "does not answer (ConnectionError)"}

blp = Blueprint("health", __name__, description="Liveness and readiness")


@dataclass(eq=False)  # compared by identity: each app's own
class Check:
    name: str
    run: Callable[[], str | None]
    required: bool = True  # a failing optional check is reported but leaves the service ready


def add_check(app: Flask, name: str, check: Callable[[], str | None], required: bool = True) -> None:
    """Register a readiness check: `check()` raises, or returns a message, when `name` is down."""
    app.extensions.setdefault(EXTENSION, {})[name] = Check(name, check, required)


def database_check() -> None:
    db = current_app.extensions["sqlalchemy"]
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def redis_check(url_key: str = "REDIS_URL") -> Callable[[], None]:
    """A check that PINGs the Redis at `current_app.config[url_key]`, with short socket timeouts."""

    def check() -> None:
        timeout = current_app.config["HEALTH_CHECK_TIMEOUT"]
        client = redis.Redis.from_url(current_app.config[url_key], socket_connect_timeout=timeout,
                                      socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()

    return check


@dataclass
class _Run:
    check: Check
    outcome: str | None = None
    done: bool = False
    stuck: bool = False


STILL_STUCK = "does not answer (an earlier check of it is still running)"
_lock = threading.Lock()
_stuck: set[Check] = set()  # checks still running past their timeout


def _start(app: Flask, run: _Run) -> threading.Thread | None:
    with _lock:
        if run.check in _stuck:
            run.outcome = STILL_STUCK
            return None

    def target():
        try:
            with app.app_context():
                message = run.check.run()
            run.outcome = message or OK
        except Exception as exc:  # the full error goes to the log, never its text to the caller (URLs, passwords)
            app.logger.warning("health check %s failed", run.check.name, exc_info=True)
            run.outcome = f"does not answer ({type(exc).__name__})"
        finally:
            with _lock:
                run.done = True
                if run.stuck:
                    _stuck.discard(run.check)

    thread = threading.Thread(target=target, name=f"health-{run.check.name}", daemon=True)
    thread.start()
    return thread


def run_checks() -> tuple[dict[str, str], list[str]]:
    """Every check's outcome by name (in parallel, one timeout for all), and the failing required ones."""
    app = current_app._get_current_object()
    timeout = app.config["HEALTH_CHECK_TIMEOUT"]
    runs = [_Run(check) for check in app.extensions.get(EXTENSION, {}).values()]
    deadline = time.monotonic() + timeout
    threads = [(run, _start(app, run)) for run in runs]
    outcomes: dict[str, str] = {}
    for run, thread in threads:
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        with _lock:
            if thread is None or run.done:
                outcomes[run.check.name] = run.outcome
                continue
            run.stuck = True
            _stuck.add(run.check)
        app.logger.warning("health check %s did not finish in %g s", run.check.name, timeout)
        outcomes[run.check.name] = f"does not answer within {timeout:g} s"
    failing = [run.check.name for run in runs if run.check.required and outcomes[run.check.name] != OK]
    return outcomes, failing


class LiveSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    service = ma.fields.String(metadata={"example": "trials"})
    time = ma.fields.AwareDateTime(metadata={"example": "2026-11-22T09:30:00+00:00"})


class HealthSchema(LiveSchema):
    database = ma.fields.String(metadata={"description": "The database check (kept for older callers)",
                                          "example": "ok"})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), metadata={
        "description": "Each dependency: `ok`, or why it is down (an optional one does not make a 503)",
        "example": {"database": "ok", "redis": "ok"}})


def _ready_report() -> dict:
    outcomes, failing = run_checks()
    if failing:
        reasons = "; ".join(f"{name} ({outcomes[name]})" for name in failing)
        abort(503, message=f"Not ready: {reasons}.", errors=outcomes)
    return {"status": "ok", "service": current_app.config["SERVICE_NAME"], "database": outcomes.get("database", OK),
            "checks": outcomes, "time": utcnow()}


NOT_READY = {"schema": ErrorSchema,
             "description": "A dependency the service needs is down (`errors` holds every check's outcome)",
             "example": error_example(503, "Not ready: redis (does not answer (ConnectionError)).",
                                      errors=NOT_READY_ERRORS)}


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, **NOT_READY)
    def get(self):
        """Readiness with every dependency's state (the route `make up` and tests wait on)"""
        return _ready_report()


@blp.route("/health/ready")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, **NOT_READY)
    def get(self):
        """Readiness: the database and every other dependency answer"""
        return _ready_report()


@blp.route("/health/live")
class Live(MethodView):
    @blp.response(200, LiveSchema)
    @blp.error(500, "The process cannot answer at all", "An unexpected error occurred; it has been logged.")
    def get(self):
        """Liveness: the process answers (no dependency is checked)"""
        return {"status": "ok", "service": current_app.config["SERVICE_NAME"], "time": utcnow()}
