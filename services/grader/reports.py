"""The daily report: compute a day's statistics, publish them to each configured sink, record how it went.

A sink that is not configured is `skipped`; one that fails is `failed` with a short reason
(the report is still recorded and the other sink still runs). Secrets never reach the detail.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from services.grader.mailer import email_configured, send_report
from services.grader.models import Report, ReportLease, db
from services.grader.sheets import publish_daily_row, sheets_configured
from services.grader.stats import daily_stats
from shared.redact import redact_text
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
# Longer than a publication can take: each Sheets and SMTP call has a timeout (HTTP_TIMEOUT).
REPORT_LEASE = timedelta(minutes=10)


def _failure(sink: str, exc: Exception) -> str:
    # Library messages can quote request details; keep the type and a redacted, short message.
    detail = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    log.error("report %s failed: %s", sink, detail)
    return detail


def _publish(sink: str, configured: bool, action) -> tuple[str, str]:
    if not configured:
        return "skipped", f"{sink} is not configured"
    try:
        return "published", action()
    except Exception as exc:  # any failure of an outside system is reported, not raised
        return "failed", _failure(sink, exc)


class ReportInProgress(Exception):
    """Another publication of the same day holds its lease."""


def _take_lease(day: date, now: datetime) -> None:
    """Hold `day`'s lease (committed at once, so other processes see it), or raise ReportInProgress.
    A lease older than REPORT_LEASE belongs to a publication that died; it is taken over."""
    try:
        db.session.add(ReportLease(date=day, taken_at=now))
        db.session.commit()
        return
    except IntegrityError:
        db.session.rollback()
    taken_over = db.session.execute(
        update(ReportLease).where(ReportLease.date == day, ReportLease.taken_at < now - REPORT_LEASE)
        .values(taken_at=now)).rowcount
    db.session.commit()
    if taken_over != 1:
        raise ReportInProgress(f"A report for {day.isoformat()} is being published right now; "
                               "try again when it is done.")


def _release_lease(day: date, now: datetime) -> None:
    db.session.execute(delete(ReportLease).where(ReportLease.date == day, ReportLease.taken_at == now))


def publish_daily_report(config, day: date) -> Report:
    """Compute `day`, send it to Google Sheets and e-mail, and add the Report (the caller commits).
    Raises ReportInProgress while another publication of the same day runs."""
    now = utcnow()
    _take_lease(day, now)
    try:
        stats = daily_stats(day)
        sheets = _publish("Google Sheets", sheets_configured(config),
                          lambda: publish_daily_row(config, stats, now.isoformat(timespec="seconds")))
        email = _publish("e-mail", email_configured(config), lambda: send_report(config, stats))
    except BaseException:
        db.session.rollback()
        _release_lease(day, now)
        db.session.commit()
        raise
    report = Report(date=day, created_at=now, stats=stats, sheets_status=sheets[0], sheets_detail=sheets[1],
                    email_status=email[0], email_detail=email[1])
    db.session.add(report)
    _release_lease(day, now)  # with the report, in the caller's commit
    log.info("report %s: %d attempts; sheets %s (%s); e-mail %s (%s)", day, stats["attempts"], *sheets, *email)
    return report


def reports_query(day: date | None = None):
    stmt = select(Report)
    if day is not None:
        stmt = stmt.where(Report.date == day)
    return stmt.order_by(Report.created_at.desc(), Report.id.desc())
