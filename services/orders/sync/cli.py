"""`flask --app services.orders sync ...`: run the integration, one round, resolve a collision."""
from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from services.orders.models import db
from services.orders.sync import ledger as ledgers
from services.orders.sync.peer import PeerUnavailable
from services.orders.sync.runner import engine_from_config, run_forever

sync = AppGroup("sync", help="The two-way sync integration with ORDERS_PEER_URL.")


@sync.command("run")
def run():
    """Sync with the peer until SIGTERM / Ctrl-C."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_forever(engine_from_config(current_app.config), stop)


@sync.command("once")
def once():
    """Run one round and print what it did."""
    try:
        report = engine_from_config(current_app.config).run_round()
    except PeerUnavailable as exc:
        raise click.ClickException(f"peer unavailable: {exc}") from None
    click.echo(f"pulled {report.pulled}, applied {report.applied}, pushed {report.pushed}, "
               f"collisions {report.collisions}, errors {report.errors}, peer remaining {report.peer_remaining}")


@sync.command("resolve")
@click.argument("uuid")
@click.argument("take", type=click.Choice(["local", "peer"]))
def resolve(uuid, take):
    """Resolve an order's open collision by taking one side."""
    try:
        ledgers.resolve(uuid, take)
    except ledgers.NoOpenCollision as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"order {uuid}: took the {take} side")
