"""The integration's loop: rounds every ORDERS_SYNC_INTERVAL seconds, backing off while the peer is down."""
from __future__ import annotations

import logging
import os
import threading

from flask import current_app
from sqlalchemy.exc import OperationalError

from services.orders.models import db
from services.orders.sync import ledger as ledgers
from services.orders.sync.engine import SyncEngine
from services.orders.sync.peer import HttpPeer, PeerUnavailable
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


def engine_from_config(config) -> SyncEngine:
    if not config["ORDERS_PEER_URL"]:
        raise SystemExit("ORDERS_PEER_URL is not set: the integration needs the peer's base URL.")
    peer = HttpPeer(config["ORDERS_PEER_URL"], config["SERVICE_TOKEN"], timeout=config["ORDERS_SYNC_TIMEOUT"],
                    connections=config["ORDERS_SYNC_PUSH_CONCURRENCY"])
    before_checkpoint = None
    if config["ORDERS_SYNC_FAULT"] == "crash-before-checkpoint":
        def before_checkpoint():
            log.warning("ORDERS_SYNC_FAULT: exiting after applying a page, before saving the checkpoint")
            os._exit(3)
    return SyncEngine(peer, config["ORDERS_SYNC_POLICY"], config["ORDERS_SYNC_PAGE_SIZE"],
                      config["ORDERS_SYNC_MAX_BACKOFF"], before_checkpoint, config["ORDERS_SYNC_PUSH_CONCURRENCY"])


def peer_health() -> str | None:
    """The /health check of the instance the integration runs beside: the peer's /health, once,
    within HEALTH_CHECK_TIMEOUT. An optional check (see docs/two-way-sync.md, "Health")."""
    config = current_app.config
    peer = HttpPeer(config["ORDERS_PEER_URL"], config["SERVICE_TOKEN"], timeout=config["HEALTH_CHECK_TIMEOUT"],
                    retries=0)
    try:
        peer.health()
    except PeerUnavailable as exc:
        return f"does not answer ({exc})"
    finally:
        peer.close()
    return None


def _note(success: bool, error: str | None) -> None:
    stamp = utcnow().isoformat()
    ledgers.set_value("last_round_at", stamp)
    if success:
        ledgers.set_value("last_success_at", stamp)
    ledgers.set_value("last_error", error)
    db.session.commit()


def run_forever(engine: SyncEngine, stop: threading.Event) -> None:
    config = current_app.config
    interval, max_backoff = config["ORDERS_SYNC_INTERVAL"], config["ORDERS_SYNC_MAX_BACKOFF"]
    failures = 0
    log.info("sync with %r every %.2fs, policy %s", engine.peer, interval, engine.policy)
    while not stop.is_set():
        try:
            report = engine.run_round()
        except (PeerUnavailable, OperationalError) as exc:
            db.session.rollback()
            failures += 1
            delay = min(max_backoff, interval * 2 ** failures)
            message = str(exc).splitlines()[0][:500]
            log.warning("sync round failed (%s); next try in %.1fs", message, delay)
            _safe_note(False, message)
            stop.wait(delay)
            continue
        if failures or report.pulled or report.pushed or report.collisions or report.errors:
            log.info("sync round: pulled %d, applied %d, pushed %d, collisions %d, errors %d",
                     report.pulled, report.applied, report.pushed, report.collisions, report.errors)
        failures = 0
        _safe_note(True, None)
        if not report.busy:
            stop.wait(interval)


def _safe_note(success: bool, error: str | None) -> None:
    try:
        _note(success, error)
    except OperationalError:
        db.session.rollback()
