"""The grader ETL as one run (`flask --app services.grader pull`): statistics API -> validation
-> PostgreSQL -> the day's report (Google Sheets, e-mail), with its own log file.

The same code as the collector's `grader` source, minus the collector: the statistics client,
the windows and the record parser are `shared.connectors.grader`, the load is
`attempts.load_batch` (what `POST /attempts/batch` runs), the report `reports.publish_daily_report`
(what `POST /reports/daily` runs), and the `grader-statistics` watermark moves as it does there.
Nothing else needs to run: only the database and the upstream API.

Every stage writes a timestamped INFO or ERROR line to `<LOG_DIR>/grader-etl-<UTC date>.log`
(files older than the last GRADER_ETL_LOG_DAYS days, 3 by default, are deleted): download
start and end with row counts and seconds, each API error with its status code, validation
with the skipped records counted by reason, load start and end, the watermark, the reports.
"""
from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.grader import attempts, reports, watermarks
from services.grader.models import db
from shared.connectors.grader import (
    GraderApiError,
    GraderClient,
    attempt_to_json,
    day_bounds,
    parse_records,
    windows,
)
from shared.http import session_from_config
from shared.logs import DailyFileHandler, RedactingFormatter

LOG_NAME = "grader-etl"
WATERMARK = "grader-statistics"          # the collector's grader source moves the same one
FATAL_STATUSES = (400, 401, 403, 404)    # retrying the same window cannot help
LOAD_CHUNK = 5000
SKIPPED_LOGGED = 100                     # each skipped record gets a line, up to this many per run


class EtlFailed(Exception):
    """The run stopped (an API error that retries did not cure); the log says where."""


@dataclass
class EtlResult:
    start: datetime
    end: datetime
    windows: int = 0
    totals: Counter = field(default_factory=Counter)
    skipped_reasons: Counter = field(default_factory=Counter)
    reports: list = field(default_factory=list)
    log_file: Path | None = None


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def reason_kind(reason: str) -> str:
    """A skip reason without the record's own values, so equal causes count together."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|\b\d+\b", "…", reason)


def etl_logger(config) -> tuple[logging.Logger, DailyFileHandler]:
    """The run's own logger: its file only (not the service log), named by the date."""
    handler = DailyFileHandler(Path(config["LOG_DIR"]), LOG_NAME, keep_days=config["GRADER_ETL_LOG_DAYS"])
    handler.setFormatter(RedactingFormatter(LOG_NAME))
    logger = logging.getLogger(f"services.grader.{LOG_NAME}")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, handler


def report_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days lying wholly inside start..end."""
    days, day = [], start.date()
    while day_bounds(day)[1] <= end:
        if day_bounds(day)[0] >= start:
            days.append(day)
        day += timedelta(days=1)
    return days


def run(config, start: datetime, end: datetime, report: bool = True,
        on_window: Callable[[int, int, str], None] | None = None) -> EtlResult:
    """Pull start..end window by window into the database, then the report of each whole day.
    `on_window(done, total, what)` follows the progress (a bar, or plain lines)."""
    log, handler = etl_logger(config)
    result = EtlResult(start, end, log_file=handler.path_for(datetime.now(UTC).date()))
    try:
        _run(config, log, result, report, on_window or (lambda done, total, what: None))
    finally:
        log.handlers = []
        handler.close()
    return result


def _run(config, log: logging.Logger, result: EtlResult, report: bool, on_window) -> None:
    window = timedelta(minutes=config["GRADER_WINDOW_MINUTES"])
    parts = list(windows(result.start, result.end, window))
    log.info("ETL run %s .. %s UTC: %d windows of %s", _stamp(result.start), _stamp(result.end), len(parts), window)
    try:
        client = GraderClient(config["GRADER_API_URL"], config["GRADER_CLIENT"], config["GRADER_CLIENT_KEY"],
                              session_from_config(config))
    except GraderApiError as exc:
        log.error("Not configured: %s (and GRADER_API_URL)", exc)
        raise EtlFailed(str(exc)) from exc
    if not config["GRADER_API_URL"]:
        log.error("Not configured: GRADER_API_URL is empty")
        raise EtlFailed("GRADER_API_URL must be configured")
    watermark = watermarks.get_watermark(WATERMARK).position
    on_window(0, len(parts), "starting")
    for number, (low, high) in enumerate(parts, 1):
        _window(config, log, client, low, high, result)
        if watermark is None or low <= watermark < high:   # contiguous with what is loaded
            watermark = watermarks.advance_watermark(WATERMARK, high).position
        db.session.commit()
        result.windows += 1
        on_window(number, len(parts), f"{_stamp(low)} .. {_stamp(high)}")
    totals = result.totals
    log.info("Pull finished: %d received, %d skipped, %d inserted, %d already stored; watermark %s",
             totals["received"], totals["skipped"], totals["inserted"], totals["duplicates"],
             watermark.isoformat() if watermark else "none")
    if report:
        _reports(config, log, result)


def _download(config, log, client: GraderClient, low: datetime, high: datetime):
    tries = max(1, config["GRADER_ETL_WINDOW_ATTEMPTS"])
    for attempt in range(1, tries + 1):
        log.info("Download %s .. %s started", _stamp(low), _stamp(high))
        try:
            download = client.fetch_window(low, high)
        except GraderApiError as exc:
            status = f"HTTP {exc.status}" if exc.status else "no HTTP answer"
            log.error("API error (%s, try %d/%d): %s", status, attempt, tries, exc)
            if exc.status in FATAL_STATUSES or attempt == tries:
                raise EtlFailed(f"window {_stamp(low)} .. {_stamp(high)}: {exc}") from exc
            time.sleep(config["GRADER_ETL_RETRY_SECONDS"] * attempt)
            continue
        log.info("Download %s .. %s finished: %d rows in %.2f s", _stamp(low), _stamp(high),
                 len(download.records), download.seconds)
        return download
    raise AssertionError("unreachable")


def _window(config, log, client: GraderClient, low: datetime, high: datetime, result: EtlResult) -> None:
    download = _download(config, log, client, low, high)
    reasons = Counter()

    def skipped(index: int, reason: str) -> None:
        reasons[reason_kind(reason)] += 1
        if result.totals["skipped_logged"] < SKIPPED_LOGGED:
            result.totals["skipped_logged"] += 1
            log.info("Skipped row %d of %s: %s", index, _stamp(low), reason)

    parsed = parse_records(download.records, on_reject=skipped)
    why = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common()) or "none"
    log.info("Validation %s: %d received, %d valid, %d skipped (%s)", _stamp(low), parsed.received,
             len(parsed.attempts), len(parsed.rejected), why)
    if parsed.warnings:
        log.info("Validation %s: accepted with warnings: %s", _stamp(low),
                 ", ".join(f"{name} {count}" for name, count in sorted(parsed.warnings.items())))
    log.info("Load %s started: %d attempts", _stamp(low), len(parsed.attempts))
    began = time.perf_counter()
    loaded = Counter(inserted=0, duplicates=0, refused=0)
    for offset in range(0, len(parsed.attempts), LOAD_CHUNK):
        batch = attempts.load_batch([attempt_to_json(a) for a in parsed.attempts[offset:offset + LOAD_CHUNK]])
        loaded.update(inserted=batch.inserted, duplicates=batch.duplicates, refused=len(batch.rejected))
        for refused in batch.rejected:
            reasons[reason_kind(refused["reason"])] += 1
            log.info("Skipped at load (%s): %s", _stamp(low), refused["reason"])
    log.info("Load %s finished: %d inserted, %d already stored, %d refused, in %.2f s", _stamp(low),
             loaded["inserted"], loaded["duplicates"], loaded["refused"], time.perf_counter() - began)
    result.skipped_reasons.update(reasons)
    result.totals.update(received=parsed.received, skipped=len(parsed.rejected) + loaded["refused"],
                         inserted=loaded["inserted"], duplicates=loaded["duplicates"])


def _reports(config, log, result: EtlResult) -> None:
    for day in report_days(result.start, result.end):
        log.info("Report %s started", day)
        try:
            published = reports.publish_daily_report(config, day)
        except reports.ReportInProgress as exc:
            log.error("Report %s: %s", day, exc)
            continue
        db.session.commit()
        level = logging.ERROR if "failed" in (published.sheets_status, published.email_status) else logging.INFO
        log.log(level, "Report %s: %d attempts; Google Sheets %s (%s); e-mail %s (%s)", day,
                published.stats["attempts"], published.sheets_status, published.sheets_detail,
                published.email_status, published.email_detail)
        result.reports.append(published)
