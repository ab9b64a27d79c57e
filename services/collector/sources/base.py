"""The collector source contract: what a source implements and what a running task gives it.

A source is one kind of collection ("trials", "grader", "babitalk", ...). It declares its
start-body schema and secrets, and `run(ctx, params)` does the work through `ctx`:

    class TrialsSource(Source):
        name = "trials"
        params_schema = TrialsParamsSchema
        pacing_seconds = 1.0
        schedule = Schedule("0 0 * * *", timezone="Asia/Seoul")

        def run(self, ctx, params):
            for page in pages:
                ctx.checkpoint()          # raises TaskCancelled if a cancel was asked for
                ...                       # one upstream request, one sink request
                ctx.count(received=n, written=m)
                ctx.progress(done, step="page 3/7")
                ctx.pace()                # the source's pacing, cut short by a cancel
            return {"created": 3, ...}    # becomes result_summary

Connector code (paging an upstream, parsing its records) lives in `services/collector/connectors/`
(odcloud's and the grader's in `shared/connectors/`) with no Flask dependency; the source only
glues it to this contract. A source talks to other services over HTTP with the service token
(`ctx.service_call`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import marshmallow as ma

from services.collector.errors import SourceError, TaskCancelled
from shared.http import HttpSession

__all__ = ["Schedule", "Source", "SourceError", "TaskCancelled", "TaskContext"]  # the contract, errors included


@dataclass(frozen=True)
class Schedule:
    """When the scheduler starts this source: a crontab line in `timezone`, with start params."""

    cron: str                     # "minute hour day month day_of_week", e.g. "0 0 * * *"
    timezone: str = "UTC"
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"cron": self.cron, "timezone": self.timezone, "params": dict(self.params)}


class TaskContext(Protocol):
    """What a running task offers its source (implemented by services/collector/runner.py)."""

    task_id: str
    attempt: int                  # 1 on the first run, 2+ when re-run after a lost worker
    config: Any                   # the Flask app config (a mapping)
    http: HttpSession             # timeouts + bounded retries; 429 honours Retry-After
    state: dict                   # what the previous attempt saved with save_state ({} on attempt 1)

    def set_total(self, total: float) -> None: ...
    def progress(self, done: float, total: float | None = None, step: str | None = None) -> None: ...
    def log(self, message: str, level: str = "INFO") -> None: ...
    def checkpoint(self) -> None: ...
    def pace(self, seconds: float | None = None) -> None: ...
    def count(self, received: int = 0, written: int = 0, rejected: int = 0) -> None: ...
    def save_state(self, state: dict) -> None: ...
    def service_call(self, method: str, url_key: str, path: str, json: Any = None,
                     params: dict | None = None) -> Any: ...


class Source:
    """Subclass, set the class attributes, implement `run`, and register an instance in
    `services/collector/sources/__init__.py`.

    `save_state` exists so a re-run (after the worker died) resumes where the first run
    stopped instead of delivering the same data twice: save after each delivered unit.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    params_schema: ClassVar[type[ma.Schema]] = ma.Schema
    # Param names whose values are secrets: kept encrypted, never stored in clear,
    # returned or logged (keys matching shared.redact.SECRET_KEYS are masked anyway).
    secret_params: ClassVar[tuple[str, ...]] = ()
    # Default delay between upstream requests; config COLLECTOR_PACING_<NAME> overrides it.
    pacing_seconds: ClassVar[float] = 1.0
    schedule: ClassVar[Schedule | None] = None

    @property
    def task_type(self) -> str:
        return f"{self.name}_collect"

    def pacing(self, config) -> float:
        configured = config.get(f"COLLECTOR_PACING_{self.name.upper()}")  # None: not set (config.py)
        return float(self.pacing_seconds if configured is None else configured)

    def run(self, ctx: TaskContext, params: dict) -> dict:
        """Do the collection; return the `result_summary` (a flat JSON-able dict)."""
        raise NotImplementedError
