"""Log files are named <service>-YYYY-MM-DD.log and only the last 3 days are kept."""
import logging
from datetime import UTC, datetime

import time_machine

from shared.logs import DailyFileHandler, RedactingFormatter, configure_logging


def make_logger(tmp_path, keep_days=3):
    handler = DailyFileHandler(tmp_path, "grader", keep_days)
    handler.setFormatter(RedactingFormatter("grader"))
    logger = logging.getLogger(f"test.logs.{tmp_path.name}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, handler


def test_file_per_utc_day_and_three_day_retention(tmp_path):
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        (tmp_path / f"grader-{day}.log").write_text("old\n")
    (tmp_path / "trials-2026-01-01.log").write_text("another service's file\n")
    (tmp_path / "grader-notes.txt").write_text("not a log file\n")
    logger, handler = make_logger(tmp_path)
    try:
        with time_machine.travel(datetime(2026, 1, 4, 23, 59, tzinfo=UTC), tick=False):
            logger.info("run started")
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "grader-2026-01-02.log", "grader-2026-01-03.log", "grader-2026-01-04.log",
            "grader-notes.txt", "trials-2026-01-01.log"]
        with time_machine.travel(datetime(2026, 1, 5, 0, 0, 1, tzinfo=UTC), tick=False):
            logger.info("next day")
        assert sorted(p.name for p in tmp_path.glob("grader-*.log")) == [
            "grader-2026-01-03.log", "grader-2026-01-04.log", "grader-2026-01-05.log"]
        assert "run started" in (tmp_path / "grader-2026-01-04.log").read_text()
        assert "next day" in (tmp_path / "grader-2026-01-05.log").read_text()
        assert "INFO [grader]" in (tmp_path / "grader-2026-01-05.log").read_text()
    finally:
        handler.close()


def test_secrets_are_masked_in_log_lines(tmp_path):
    logger, handler = make_logger(tmp_path)
    try:
        with time_machine.travel(datetime(2026, 1, 4, tzinfo=UTC), tick=False):
            logger.info("connecting to postgresql://app:s3cr3t@db:5432/grader")
            logger.info("GET /api/statistics?client=sf&client_key=abc123&start=x")
            logger.info("header Authorization: Bearer tok-987")
        text = (tmp_path / "grader-2026-01-04.log").read_text()
        assert "s3cr3t" not in text and "abc123" not in text and "tok-987" not in text
        assert "postgresql://app:***@db:5432/grader" in text
        assert "client_key=***" in text
    finally:
        handler.close()


def test_configure_logging_replaces_its_own_handlers_only(tmp_path):
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        configure_logging("svc", tmp_path, "INFO")
        configure_logging("svc", tmp_path, "INFO")
        ours = [h for h in root.handlers if getattr(h, "_shared_logs", False)]
        assert len(ours) == 2
        assert foreign in root.handlers
        logging.getLogger("x").warning("hello")
        assert list(tmp_path.glob("svc-*.log"))
    finally:
        root.removeHandler(foreign)
        for handler in [h for h in root.handlers if getattr(h, "_shared_logs", False)]:
            root.removeHandler(handler)
            handler.close()


def test_a_line_after_close_does_not_reopen_the_file(tmp_path):
    logger, handler = make_logger(tmp_path)
    handler.close()
    logger.info("late line from a background thread")
    assert list(tmp_path.iterdir()) == []
