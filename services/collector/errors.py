"""The exceptions the collector's layers raise, in the lowest layer so that any of them may
raise or catch one without importing the layer that usually does (see README.md)."""
from __future__ import annotations


# --- a running task (raised by the runner's context, caught by the runner) -------------------
class TaskCancelled(Exception):
    """Raised by `ctx.checkpoint()` / `ctx.pace()` once a cancel was requested; let it propagate."""


class TaskLost(Exception):
    """The row no longer belongs to this worker (the reaper gave the task to another run)."""


class SourceError(Exception):
    """A failure the source explains in words (upstream refused, sink answered 4xx...).

    The task ends `failed` with this message as its `error` (redacted)."""


# --- starting and cancelling tasks (tasks.py, turned into 4xx/503 by the views) ---------------
class UnknownSource(LookupError):
    pass


class IdempotencyConflict(Exception):
    pass


class TaskFinished(Exception):
    pass


class EnqueueFailed(Exception):
    pass


# --- secrets, dumps, callbacks -----------------------------------------------------------------
class SealingUnavailable(RuntimeError):
    """Neither COLLECTOR_SECRET_KEY nor SERVICE_TOKEN is configured."""


class DumpRefused(ValueError):
    """The URL or table name is not acceptable; `field` names which."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class CallbackFailed(Exception):
    pass
