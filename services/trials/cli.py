"""Operational commands: `flask --app services.trials <command>`."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.trials import trials
from shared.connectors.odcloud import OdcloudClient, OdcloudError
from shared.http import session_from_config
from shared.timeutil import utcnow


@contextmanager
def page_progress():
    """`report(page, received)` for each page fetched: a progress bar on a terminal, else a plain line."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda page, received: click.echo(
            f"page {page.page}/{page.total_pages}: {received}/{page.total_count} trials received", err=True)
        return
    columns = (TextColumn("pull"), BarColumn(), MofNCompleteColumn(), TextColumn("trials, page {task.fields[page]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        handle = bar.add_task("pull", total=None, page="1")
        yield lambda page, received: bar.update(handle, completed=received, total=page.total_count,
                                                page=f"{page.page}/{page.total_pages}")


def reported(pages, report) -> Iterator[list[dict]]:
    received = 0
    for page in pages:
        received += len(page.records)
        report(page, received)
        yield page.records


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
        with page_progress() as report:
            result, _ = trials.load_snapshot(reported(client.pages(), report), snapshot_id, force=force,
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
