"""One sync round: pull the peer's change feed since the checkpoint, then push local changes.

Decisions per order compare three things: the local order, the peer's order, and the
ledger (the versions both sides had when they last agreed). Equal content always counts
as agreement, so a lost acknowledgement never locks an order: the next look at the peer
finds it already holds our content and simply records that.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import or_, select

from services.orders import orders
from services.orders.models import CONTENT_FIELDS, Order, SyncLedger, db
from services.orders.sync import ledger as ledgers
from services.orders.sync.peer import PeerUnavailable
from shared.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

POLICIES = ("manual", "newest-wins")


class StaleLocal(Exception):
    """A local write raced the integration; the change is retried next round."""


class Pending(NamedTuple):
    """One local change to send, and what the ledger knows of the order."""

    uuid: str
    version: int
    content: dict
    peer_version: int | None  # None: never synced, so a POST; else the If-Match of a PUT
    known: bool  # the ledger has a row for it
    earlier: tuple[int | None, str | None]  # a write of ours still unanswered from before (version, hash)


@dataclass
class RoundReport:
    pulled: int = 0
    applied: int = 0
    pushed: int = 0
    collisions: int = 0
    errors: int = 0
    peer_remaining: int = 0
    more_to_push: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """More work is probably waiting: run the next round at once."""
        return self.peer_remaining > 0 or self.more_to_push


class SyncEngine:
    def __init__(self, peer, policy: str = "manual", page_size: int = 500, max_backoff: float = 30.0,
                 before_checkpoint: Callable[[], None] | None = None, push_concurrency: int = 1):
        if policy not in POLICIES:
            raise ValueError(f"ORDERS_SYNC_POLICY must be one of {POLICIES}, got {policy!r}")
        self.peer, self.policy, self.page_size, self.max_backoff = peer, policy, page_size, max_backoff
        self.before_checkpoint = before_checkpoint
        # Pushes are independent orders: sent in parallel, their outcomes recorded in order.
        self.push_concurrency = push_concurrency

    def run_round(self) -> RoundReport:
        report = RoundReport()
        try:
            self.pull(report)
            self.push(report)
        finally:
            db.session.rollback()
        return report

    # --- pull ---------------------------------------------------------------------------

    def pull(self, report: RoundReport) -> None:
        since = ledgers.checkpoint()
        changes, remaining = self.peer.feed(since, self.page_size)
        report.pulled = len(changes)
        report.peer_remaining = max(0, remaining - len(changes))
        if not changes:
            return
        # One page is one local transaction: its ledgers and orders are read in a few queries, its
        # feed positions reserved in one statement. Our own writes coming back (the ledger holds
        # their peer version: every change of a page after a push) are told apart on plain rows
        # and need no ledger object, no order, no feed position.
        agreed = {row.uuid: row for row in db.session.execute(
            select(SyncLedger.uuid, SyncLedger.state, SyncLedger.peer_version)
            .where(SyncLedger.uuid.in_([change["uuid"] for change in changes])))}
        todo = [change["uuid"] for change in changes if not _echo(change, agreed.get(change["uuid"]))]
        known = {row.uuid: row for row in db.session.scalars(
            select(SyncLedger).where(SyncLedger.uuid.in_([uuid for uuid in todo if uuid in agreed])))} if todo else {}
        local = {row.uuid: row for row in db.session.scalars(
            select(Order).where(Order.uuid.in_(todo)).with_for_update())} if todo else {}
        seqs = orders.reserve_seqs(len(todo)) if todo else iter(())
        last_applied = since
        try:
            for peer_order in changes:
                if not _echo(peer_order, agreed.get(peer_order["uuid"])):
                    self.apply_peer_order(peer_order, known.get(peer_order["uuid"]), local.get(peer_order["uuid"]),
                                          seqs, report)
                last_applied = peer_order["seq"]
        except StaleLocal as exc:
            report.notes.append(str(exc))
            report.peer_remaining = max(report.peer_remaining, 1)
        db.session.commit()
        if last_applied != since:
            if self.before_checkpoint:
                self.before_checkpoint()
            ledgers.set_value("peer_checkpoint", last_applied)
            ledgers.set_value("peer_remaining", report.peer_remaining)
            db.session.commit()

    def apply_peer_order(self, peer_order: dict, ledger: SyncLedger | None, local: Order | None, seqs,
                         report: RoundReport) -> None:
        uuid, peer_version = peer_order["uuid"], peer_order["version"]
        if _echo(peer_order, ledger):
            return  # our own write coming back, or a change already applied before a crash
        peer_content = orders.normalise_content(peer_order)
        if local is not None and orders.content_of(local) == peer_content:
            ledgers.close_converged(uuid, local, peer_version, ledger or ledgers.new_ledger(uuid))
        elif ledger is not None and ledger.state == "COLLISION":
            ledgers.record_collision(local, peer_order, peer_content)  # keep the peer's latest side
        elif local is not None and (landed := ledgers.landed_write(ledger, peer_content)) is not None:
            # Our earlier write landed although its answer was lost, and the order has moved on
            # here since: agree on that write; the newer local version is pushed as usual.
            ledgers.record_synced(uuid, landed, peer_version, peer_content["deleted"], ledger)
        elif local is None:
            created = orders.write_content(uuid, peer_content, existing=None, seqs=seqs).order
            ledgers.record_synced(uuid, created.version, peer_version, created.deleted,
                                  ledger or ledgers.new_ledger(uuid))
            report.applied += 1
        elif ledger is not None and ledger.local_version == local.version:
            try:
                written = orders.write_content(uuid, peer_content, expected_version=local.version, existing=local,
                                               seqs=seqs).order
            except orders.PreconditionFailed as exc:
                raise StaleLocal(str(exc)) from None
            ledgers.record_synced(uuid, written.version, peer_version, written.deleted, ledger)
            report.applied += 1
        else:
            self.collide(local, peer_order, peer_content, report)

    # --- collisions ---------------------------------------------------------------------

    def collide(self, local: Order, peer_order: dict, peer_content: dict, report: RoundReport) -> None:
        ledgers.record_collision(local, peer_order, peer_content)
        report.collisions += 1
        log.info("collision on order %s (local v%s, peer v%s)", local.uuid, local.version, peer_order["version"])
        if self.policy == "newest-wins":
            take = "local" if as_utc(local.updated_at) >= _peer_time(peer_order) else "peer"
            ledgers.resolve(local.uuid, take, how=f"auto-{take}")

    # --- push ---------------------------------------------------------------------------

    def dirty_orders(self) -> list[Pending]:
        """Local changes the peer has not got yet, oldest first (collisions and backed-off errors wait).

        One row per order (the order's primary key, outer-joined on the ledger's): a batch never
        holds two writes of one order, so sending a batch in parallel cannot reorder them.
        """
        stmt = (
            select(Order.uuid, Order.version, *(getattr(Order, name) for name in CONTENT_FIELDS),
                   SyncLedger.uuid.label("ledger_uuid"), SyncLedger.peer_version, SyncLedger.pushing_version,
                   SyncLedger.pushing_hash)
            .select_from(Order)
            .outerjoin(SyncLedger, SyncLedger.uuid == Order.uuid)
            .where(or_(SyncLedger.uuid.is_(None), SyncLedger.local_version.is_(None),
                       SyncLedger.local_version != Order.version))
            .where(or_(SyncLedger.uuid.is_(None), SyncLedger.state != "COLLISION"))
            .where(or_(SyncLedger.uuid.is_(None), SyncLedger.next_retry_at.is_(None),
                       SyncLedger.next_retry_at <= utcnow()))
            .order_by(Order.seq)
            .limit(self.page_size)
        )
        rows = [Pending(row.uuid, row.version, {name: row._mapping[name] for name in CONTENT_FIELDS},
                        row.peer_version, row.ledger_uuid is not None, (row.pushing_version, row.pushing_hash))
                for row in db.session.execute(stmt)]
        db.session.rollback()  # no transaction stays open across the HTTP calls
        return rows

    def push(self, report: RoundReport) -> None:
        dirty = self.dirty_orders()
        report.more_to_push = len(dirty) == self.page_size
        if not dirty:
            return
        # Every write is noted (one commit) before any is sent: an answer lost on the wire or
        # in a crash is then recognised later by the peer showing exactly that content.
        ledgers.note_pushes((pending.uuid, pending.version, pending.content, pending.known) for pending in dirty)
        db.session.commit()
        outcomes = self._send_all(dirty)
        # The ledger moves only for writes whose answer came back, all in the one commit below.
        done, unavailable = [], None
        for pending, outcome in zip(dirty, outcomes, strict=True):
            try:
                if outcome is None or isinstance(outcome, PeerUnavailable):
                    unavailable = unavailable or outcome
                    continue
                accepted, reply = outcome
                if accepted:
                    done.append((pending.uuid, pending.version, reply.body["version"], pending.content["deleted"]))
                    report.pushed += 1
                elif reply.status in (409, 412):
                    self.reconcile(pending.uuid, report, pending.earlier)
                else:
                    message = reply.body.get("message") if isinstance(reply.body, dict) else None
                    ledgers.record_error(pending.uuid, f"peer answered {reply.status}: {message}", self.max_backoff)
                    report.errors += 1
            except PeerUnavailable as exc:
                unavailable = unavailable or exc
        ledgers.record_pushed(done)
        db.session.commit()
        if unavailable is not None:
            raise unavailable

    def _send(self, row: Pending, give_up: threading.Event):
        """One POST or PUT: (accepted, reply), or PeerUnavailable, or None if not sent."""
        if give_up.is_set():
            return None
        try:
            if row.peer_version is None:
                reply = self.peer.create(row.uuid, row.content)
                return reply.status == 201, reply
            reply = self.peer.replace(row.uuid, row.content, row.peer_version)
            return reply.status == 200, reply
        except PeerUnavailable as exc:
            give_up.set()  # the peer is away: do not knock on its door 500 times
            return exc

    def _send_all(self, rows: list[Pending]) -> list:
        give_up = threading.Event()
        if self.push_concurrency <= 1 or len(rows) == 1:
            return [self._send(row, give_up) for row in rows]
        with ThreadPoolExecutor(self.push_concurrency, thread_name_prefix="push") as pool:
            return list(pool.map(lambda row: self._send(row, give_up), rows))

    def reconcile(self, uuid: str, report: RoundReport, earlier: tuple | None = None) -> None:
        """The peer refused our write as stale or conflicting: look at what it holds now."""
        peer_order = self.peer.get(uuid)
        local = orders.get_order(uuid, for_update=True)
        if peer_order is None:  # the peer lost the order (e.g. restored from backup): create it again
            ledger = ledgers.ledger_for(uuid)
            ledger.peer_version, ledger.local_version = None, None
            return
        peer_content = orders.normalise_content(peer_order)
        if orders.content_of(local) == peer_content:
            ledgers.close_converged(uuid, local, peer_order["version"])  # our earlier write did land
        elif (landed := ledgers.landed_write(None, peer_content, earlier)) is not None:
            # An earlier, unanswered write of ours landed; the next round pushes the newer version.
            ledgers.record_synced(uuid, landed, peer_order["version"], peer_content["deleted"])
        else:
            self.collide(local, peer_order, peer_content, report)


def _echo(peer_order: dict, ledger) -> bool:
    """The ledger (a SyncLedger, or a row of its state and peer_version) already holds this peer
    version: nothing to apply."""
    return ledger is not None and ledger.state != "COLLISION" and ledger.peer_version == peer_order["version"]


def _peer_time(peer_order: dict) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(peer_order["updated_at"]))
    except (KeyError, TypeError, ValueError):
        return utcnow()


__all__ = ["POLICIES", "PeerUnavailable", "RoundReport", "SyncEngine"]
