"""Operational commands: `flask --app services.trials <command>`."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from services.trials import trials
from shared.connectors.odcloud import OdcloudClient, OdcloudError
from shared.http import session_from_config
from shared.timeutil import utcnow


@click.command("pull")
@with_appcontext
@click.option("--snapshot-id", default=None, help="Defaults to pull-<UTC timestamp>.")
@click.option("--force", is_flag=True, help="Complete the snapshot even if it holds few trials.")
def pull(snapshot_id, force):
    """Pull every page from odcloud as one full snapshot."""
    config = current_app.config
    snapshot_id = snapshot_id or "pull-" + utcnow().strftime("%Y%m%dT%H%M%SZ")
    try:
        client = OdcloudClient(config["ODCLOUD_BASE_URL"], config["ODCLOUD_SERVICE_KEY"],
                               session_from_config(config), per_page=config["ODCLOUD_PER_PAGE"])
        pages = (page.records for page in client.pages())
        result, _ = trials.load_snapshot(pages, snapshot_id, force=force,
                                         min_ratio=config["TRIALS_MIN_SNAPSHOT_RATIO"])
    except OdcloudError as exc:
        click.echo(f"pull failed: {exc}", err=True)
        sys.exit(1)
    except trials.SnapshotError as exc:
        click.echo(f"snapshot {snapshot_id} not completed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"snapshot {snapshot_id}: received {result.received}, created {result.created}, "
               f"updated {result.updated}, unchanged {result.unchanged}, restored {result.restored}, "
               f"withdrawn {result.withdrawn}, rejected {len(result.rejected)}")
    for rejected in result.rejected:
        click.echo(f"  rejected #{rejected['index']} {rejected['trial_id']}: {rejected['reason']}", err=True)
