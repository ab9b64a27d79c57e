"""Logging: stdout plus `<log dir>/<service>-YYYY-MM-DD.log`, keeping the last N days.

Every line passes through the redactor, so a secret that reaches a log call
(a database URL with its password, a key in a query string) is masked.
LOG_FORMAT=text (the default) writes `time LEVEL [service request-id] logger: message`;
LOG_FORMAT=json one JSON object a line (time, level, service, logger, message, request_id, exc_info).

The request id: taken from a request's `X-Request-ID` (when it is a short plain token) or made up,
echoed in the response, kept in a context variable for the request's log lines, and sent on by
shared/http.py's session on every call the request makes; the collector's messages carry it to
the task's worker (services/collector/broker.py).
"""
from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import Flask, g, request

from shared.redact import redact_text

FORMAT = "%(asctime)s %(levelname)s [%(service)s] %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the header as WSGI hands it on
# What a client may choose as its request id: anything else (a newline, 10 kB) is replaced by one of ours.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or task message) this code runs for, if any."""
    return _request_id.get()


@contextmanager
def request_id_scope(request_id: str | None) -> Iterator[None]:
    """Run a block (e.g. a worker's message) under `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def new_request_id() -> str:
    """32 random hex digits. An id tells requests apart in the logs; it guards nothing, so it comes
    from `random` (reseeded in every forked worker) rather than the kernel: os.urandom's syscall
    lets go of the GIL, and under gunicorn's threads each let-go hands it to another thread and back
    (context switches a request: bench/results.md)."""
    return random.randbytes(16).hex()


def accepted_request_id(value: str | None) -> str:
    """The client's id when it is a plain token, else a new one."""
    return value if value and REQUEST_ID_PATTERN.match(value) else new_request_id()


def _begin_request() -> None:
    g.request_id_token = _request_id.set(accepted_request_id(request.environ.get(_REQUEST_ID_ENVIRON)))


def _echo_request_id(response):
    request_id = _request_id.get()  # the request's own: _begin_request set it in this context
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _end_request(exc=None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        _request_id.reset(token)


def init_request_ids(app: Flask) -> None:
    """Give every request of `app` an id (see the module's docstring)."""
    app.before_request(_begin_request)
    app.after_request(_echo_request_id)
    app.teardown_request(_end_request)


class RedactingFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__(FORMAT)
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        request_id = current_request_id()
        record.service = f"{self.service} {request_id}" if request_id else self.service
        return redact_text(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line; every text field redacted as the text lines are."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "service": self.service, "logger": record.name,
                "message": redact_text(record.getMessage())}
        request_id = current_request_id()
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc_info"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc_info"] = redact_text(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


class DailyFileHandler(logging.Handler):
    """Appends to `<service>-<UTC date>.log`; on a new day opens the next file and
    deletes this service's files older than the last `keep_days` days."""

    def __init__(self, directory: Path, service: str, keep_days: int = 3):
        super().__init__()
        self.directory = Path(directory)
        self.service = service
        self.keep_days = keep_days
        self._pattern = re.compile(rf"^{re.escape(service)}-(\d{{4}}-\d{{2}}-\d{{2}})\.log$")
        self._day: date | None = None
        self._stream = None
        self._closed = False
        self._switch_lock = threading.Lock()

    def path_for(self, day: date) -> Path:
        return self.directory / f"{self.service}-{day.isoformat()}.log"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            day = datetime.fromtimestamp(record.created, UTC).date()
            line = self.format(record) + "\n"
            with self._switch_lock:
                if self._closed:  # a late line from a background thread after shutdown
                    return
                if day != self._day:
                    self._open(day)
                self._stream.write(line)
                self._stream.flush()
        except Exception:
            self.handleError(record)

    def _open(self, day: date) -> None:
        if self._stream is not None:
            self._stream.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stream = open(self.path_for(day), "a", encoding="utf-8")
        self._day = day
        self.prune(day)

    def prune(self, today: date) -> list[Path]:
        """Delete this service's log files dated before the last `keep_days` days."""
        oldest_kept = today - timedelta(days=self.keep_days - 1)
        removed = []
        for path in self.directory.iterdir():
            match = self._pattern.match(path.name)
            if match and date.fromisoformat(match.group(1)) < oldest_kept:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def close(self) -> None:
        with self._switch_lock:
            self._closed = True
            if self._stream is not None:
                self._stream.close()
                self._stream = None
                self._day = None
        super().close()


def configure_logging(service: str, log_dir: Path, level: str = "INFO", keep_days: int = 3,
                      log_format: str = "text") -> None:
    """Install this process's handlers on the root logger (replacing ones installed before).

    A handler someone else put on the root that writes to this process's stdout or stderr is
    removed too: Dramatiq's CLI installs one (`logging.basicConfig`) on the pipe it reads both
    streams from, so with ours every worker line was written twice.
    """
    root = logging.getLogger()
    streams = {id(sys.stdout), id(sys.stderr), id(sys.__stdout__), id(sys.__stderr__)}
    for handler in list(root.handlers):
        ours = getattr(handler, "_shared_logs", False)
        same_stream = type(handler) is logging.StreamHandler and id(getattr(handler, "stream", None)) in streams
        if ours or same_stream:
            root.removeHandler(handler)
            if ours:
                handler.close()
    formatter = JsonFormatter(service) if log_format == "json" else RedactingFormatter(service)
    for handler in (logging.StreamHandler(sys.stdout), DailyFileHandler(log_dir, service, keep_days)):
        handler._shared_logs = True
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
