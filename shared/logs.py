"""Logging: stdout plus `<log dir>/<service>-YYYY-MM-DD.log`, keeping the last N days.

Every line passes through the redactor, so a secret that reaches a log call
(a database URL with its password, a key in a query string) is masked.
"""
from __future__ import annotations

import logging
import re
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from shared.redact import redact_text

FORMAT = "%(asctime)s %(levelname)s [%(service)s] %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__(FORMAT)
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        record.service = self.service
        return redact_text(super().format(record))


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


def configure_logging(service: str, log_dir: Path, level: str = "INFO", keep_days: int = 3) -> None:
    """Install this process's handlers on the root logger (replacing ones installed before)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_shared_logs", False)]:
        root.removeHandler(handler)
        handler.close()
    formatter = RedactingFormatter(service)
    for handler in (logging.StreamHandler(sys.stdout), DailyFileHandler(log_dir, service, keep_days)):
        handler._shared_logs = True
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
