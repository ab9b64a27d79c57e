"""Operational commands: `flask --app services.grader <command>`."""
from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

import marshmallow as ma

from services.grader import etl, reports, watermarks
from services.grader.models import db
from services.grader.stats import daily_stats
from shared.timeutil import utcnow

DAY = click.DateTime(formats=["%Y-%m-%d"])
MOMENT = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"])


def _day(value) -> date:
    return value.date() if value else utcnow().date() - timedelta(days=1)


@click.command("report")
@click.option("--date", "day", type=DAY, default=None, help="UTC day YYYY-MM-DD; default yesterday.")
@with_appcontext
def report(day):
    """Compute a day's figures and publish them to Google Sheets and e-mail."""
    try:
        published = reports.publish_daily_report(current_app.config, _day(day))
    except reports.ReportInProgress as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"report {published.date}: {published.stats['attempts']} attempts; "
               f"sheets {published.sheets_status} ({published.sheets_detail}); "
               f"e-mail {published.email_status} ({published.email_detail})")


@click.command("stats")
@click.option("--date", "day", type=DAY, default=None, help="UTC day YYYY-MM-DD; default yesterday.")
@with_appcontext
def stats(day):
    """Print a day's figures as JSON."""
    click.echo(json.dumps(daily_stats(_day(day)), indent=2))


@click.command("watermark-move-back")
@click.argument("name")
@click.argument("position", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]))
@click.option("--by", required=True, help="Who asks (a name for the audit line).")
@click.option("--reason", required=True, help="Why (kept in the audit line).")
@with_appcontext
def watermark_move_back(name, position, by, reason):
    """Move a pull watermark back to POSITION (UTC unless an offset is given); audited in the log.

    The HTTP API only moves a watermark forward; this is the repair for one that got ahead of
    the data (the next scheduled pull starts from POSITION). Whoever can run flask commands on
    the grader host may do it: the deployment's administrators.
    """
    try:
        watermarks.check_not_future(position, current_app.config["GRADER_WATERMARK_MAX_SKEW_SECONDS"])
    except ma.ValidationError as exc:
        raise click.ClickException(" ".join(exc.messages)) from None
    old, stored = watermarks.move_back(name, position, by=by, reason=reason)
    db.session.commit()
    click.echo(f"watermark {name}: {old.isoformat() if old else 'none'} -> {stored.position.isoformat()}")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Lines:
    """Progress as plain lines (a log, a pipe, cron's mail)."""

    def __call__(self, done: int, total: int, what: str) -> None:
        if done:
            click.echo(f"window {done}/{total} loaded ({what})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Bar:
    """Progress as a bar (rich) on a terminal."""

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("[bold]pull"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), TimeRemainingColumn())
        self.progress.__enter__()
        self.task = self.progress.add_task("starting", total=None)
        return self

    def __call__(self, done: int, total: int, what: str) -> None:
        self.progress.update(self.task, completed=done, total=total, description=what)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


@click.command("pull")
@click.option("--date", "day", type=DAY, default=None, help="One UTC day YYYY-MM-DD (default: yesterday).")
@click.option("--start", type=MOMENT, default=None, help="Range start (UTC unless an offset is given), with --end.")
@click.option("--end", type=MOMENT, default=None, help="Range end, excluded (--end 2024-03-03 stops at 3 March 00:00).")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Publish each whole day pulled to Google Sheets and e-mail (those configured).")
@click.option("--progress/--no-progress", "bar", default=None,
              help="A progress bar (default: on a terminal only; plain lines otherwise).")
@with_appcontext
def pull(day, start, end, report, bar):
    """Run the whole grader ETL: statistics API -> validation -> database -> report.

    Needs only the database and the statistics API (GRADER_API_URL, GRADER_CLIENT,
    GRADER_CLIENT_KEY). Every stage is logged to LOG_DIR/grader-etl-<date>.log (3 days kept).
    """
    if (start is None) != (end is None):
        raise click.UsageError("--start and --end go together.")
    if start is not None and day is not None:
        raise click.UsageError("Give --date, or --start and --end, not both.")
    if start is not None:
        low, high = _utc(start), _utc(end)
        if low >= high:
            raise click.UsageError("--start must be before --end.")
    else:
        low, high = etl.day_bounds(_day(day))
    progress = _Bar() if (sys.stdout.isatty() if bar is None else bar) else _Lines()
    try:
        with progress:
            result = etl.run(current_app.config, low, high, report=report, on_window=progress)
    except etl.EtlFailed as exc:
        raise click.ClickException(f"{exc} (see {etl.LOG_NAME} log in {current_app.config['LOG_DIR']})") from None
    totals = result.totals
    click.echo(f"pulled {low.isoformat()} .. {high.isoformat()}: {result.windows} windows, "
               f"{totals['received']} received, {totals['skipped']} skipped, {totals['inserted']} inserted, "
               f"{totals['duplicates']} already stored; {len(result.reports)} reports; log {result.log_file}")
