"""Operational commands: `flask --app services.grader <command>`."""
from __future__ import annotations

import json
from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from services.grader import reports
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
