"""Operational commands: `flask --app services.collector collector <command>`."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from services.collector import tasks


@click.group("collector", cls=AppGroup)
def collector_cli():
    """Collector maintenance."""


@collector_cli.command("reap")
def reap():
    """Re-run or fail tasks whose worker stopped sending heartbeats."""
    handled = tasks.reap()
    click.echo(f"reaped {len(handled)} tasks" + (": " + ", ".join(handled) if handled else ""))


@collector_cli.command("purge")
@click.option("--max-age-hours", type=float, default=None, help="Default: COLLECTOR_RETENTION_HOURS.")
def purge(max_age_hours):
    """Delete finished tasks older than the retention."""
    hours = current_app.config["COLLECTOR_RETENTION_HOURS"] if max_age_hours is None else max_age_hours
    click.echo(f"purged {tasks.purge(hours)} tasks")
