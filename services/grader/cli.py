"""Operational commands: `flask --app services.grader <command>`."""
from __future__ import annotations

import json
from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

import marshmallow as ma

from services.grader import reports, watermarks
from services.grader.models import db
from services.grader.stats import daily_stats
from shared.timeutil import utcnow

DAY = click.DateTime(formats=["%Y-%m-%d"])


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
