"""The integration's durable memory: per-order ledger, collisions, checkpoint and status values.

Stored states: OK, DEL_SYNCED (both sides agree), COLLISION (both changed; waits for a
decision), ERROR (the peer refused a write; retried with backoff), UPD (a collision was
resolved for the local side and waits to be pushed). NEW / UPD / DEL are also derived for
orders whose local version moved past the ledger (see `effective_state`).
"""
from __future__ import annotations

from datetime import timedelta

from collections.abc import Iterable

from sqlalchemy import bindparam, func, insert, select, update

from services.orders import orders
from services.orders.models import Collision, Order, SyncLedger, SyncValue, db
from shared.timeutil import utcnow

STATES = ("NEW", "UPD", "OK", "DEL", "DEL_SYNCED", "COLLISION", "ERROR")


class NoOpenCollision(Exception):
    pass


def get_value(name: str, default: str | None = None) -> str | None:
    row = db.session.get(SyncValue, name)
    return default if row is None or row.value is None else row.value


def set_value(name: str, value) -> None:
    row = db.session.get(SyncValue, name)
    if row is None:
        db.session.add(SyncValue(name=name, value=None if value is None else str(value)))
    else:
        row.value = None if value is None else str(value)


def checkpoint() -> int:
    return int(get_value("peer_checkpoint", "0"))


def ledger_for(uuid: str) -> SyncLedger:
    return db.session.get(SyncLedger, uuid) or new_ledger(uuid)


def new_ledger(uuid: str) -> SyncLedger:
    ledger = SyncLedger(uuid=uuid, state="NEW", attempts=0, updated_at=utcnow())
    db.session.add(ledger)
    return ledger


def record_synced(uuid: str, local_version: int | None, peer_version: int, deleted: bool,
                  ledger: SyncLedger | None = None) -> SyncLedger:
    """Both sides now hold the same content at these versions."""
    ledger = ledger or ledger_for(uuid)
    ledger.local_version, ledger.peer_version = local_version, peer_version
    ledger.state = "DEL_SYNCED" if deleted else "OK"
    ledger.last_error, ledger.attempts, ledger.next_retry_at = None, 0, None
    ledger.pushing_version, ledger.pushing_hash = None, None
    ledger.updated_at = utcnow()
    return ledger


_LEDGER = SyncLedger.__table__
# A push batch's bookkeeping, one executemany each instead of an ORM flush of 500 objects.
_NOTE_PUSH = (update(_LEDGER).where(_LEDGER.c.uuid == bindparam("b_uuid"))
              .values(pushing_version=bindparam("b_version"), pushing_hash=bindparam("b_hash")))
_NEW_PUSH = insert(_LEDGER)
_SYNCED = (update(_LEDGER).where(_LEDGER.c.uuid == bindparam("b_uuid"))
           .values(local_version=bindparam("b_local"), peer_version=bindparam("b_peer"), state=bindparam("b_state"),
                   last_error=None, attempts=0, next_retry_at=None, pushing_version=None, pushing_hash=None,
                   updated_at=bindparam("b_now")))


def note_pushes(batch: Iterable[tuple[str, int, dict, bool]]) -> None:
    """Remember the writes about to be sent, (uuid, version, content, has a ledger row) each: the
    write in flight, whose content the peer showing later proves it landed. Two statements."""
    noted, new, stamp = [], [], utcnow()
    for uuid, version, content, known in batch:
        digest = orders.content_hash(content)
        if known:
            noted.append({"b_uuid": uuid, "b_version": version, "b_hash": digest})
        else:
            new.append({"uuid": uuid, "state": "NEW", "attempts": 0, "updated_at": stamp,
                        "pushing_version": version, "pushing_hash": digest})
    connection = db.session.connection()
    if noted:
        connection.execute(_NOTE_PUSH, noted)
    if new:
        connection.execute(_NEW_PUSH, new)


def record_pushed(batch: Iterable[tuple[str, int, int, bool]]) -> None:
    """`record_synced` for a batch of accepted writes (uuid, local version, peer version, deleted)."""
    stamp = utcnow()
    rows = [{"b_uuid": uuid, "b_local": local_version, "b_peer": peer_version,
             "b_state": "DEL_SYNCED" if deleted else "OK", "b_now": stamp}
            for uuid, local_version, peer_version, deleted in batch]
    if rows:
        db.session.connection().execute(_SYNCED, rows)


def landed_write(ledger: SyncLedger | None, peer_content: dict, earlier: tuple | None = None) -> int | None:
    """The local version whose unanswered write the peer now shows, if it shows one."""
    digest = orders.content_hash(peer_content)
    if ledger is not None and ledger.pushing_hash == digest:
        return ledger.pushing_version
    if earlier and earlier[1] == digest:
        return earlier[0]
    return None


def record_error(uuid: str, message: str, max_backoff: float) -> None:
    ledger = ledger_for(uuid)
    ledger.state = "ERROR"
    ledger.last_error = message[:2000]
    ledger.attempts += 1
    ledger.next_retry_at = utcnow() + timedelta(seconds=min(max_backoff, 2 ** ledger.attempts))
    ledger.updated_at = utcnow()


def open_collision(uuid: str) -> Collision | None:
    return db.session.scalars(select(Collision).where(Collision.uuid == uuid, Collision.resolved_at.is_(None))
                              .order_by(Collision.id.desc())).first()


def record_collision(local: Order, peer_order: dict, peer_content: dict) -> Collision:
    """Keep both versions; the order waits (no push, no pull-apply) until someone decides."""
    collision = open_collision(local.uuid)
    if collision is None:
        collision = Collision(uuid=local.uuid, detected_at=utcnow())
        db.session.add(collision)
    collision.local_version, collision.local_content = local.version, orders.content_of(local)
    collision.peer_version, collision.peer_content = peer_order["version"], peer_content
    collision.peer_updated_at = peer_order.get("updated_at")
    ledger = ledger_for(local.uuid)
    ledger.state = "COLLISION"
    ledger.last_error, ledger.next_retry_at = None, None
    ledger.updated_at = utcnow()
    db.session.flush()
    return collision


def resolve(uuid: str, take: str, how: str | None = None) -> Collision:
    """Take one side of an open collision; the other side's content is kept on the record.

    Taking the peer's side writes it locally now; taking the local side re-arms the push,
    which replaces the peer's version with If-Match on the version seen in the collision.
    """
    collision = open_collision(uuid)
    if collision is None:
        raise NoOpenCollision(f"Order {uuid} has no open collision.")
    local = orders.get_order(uuid, for_update=True)
    ledger = ledger_for(uuid)
    if take == "peer":
        collision.losing_content = orders.content_of(local)
        result = orders.write_content(uuid, collision.peer_content)
        record_synced(uuid, result.order.version, collision.peer_version, result.order.deleted)
    else:
        collision.losing_content = collision.peer_content
        ledger.local_version, ledger.peer_version = None, collision.peer_version
        ledger.state, ledger.attempts, ledger.next_retry_at, ledger.updated_at = "UPD", 0, None, utcnow()
    collision.resolution = how or take
    collision.resolved_at = utcnow()
    db.session.flush()
    return collision


def close_converged(uuid: str, local: Order, peer_version: int, ledger: SyncLedger | None = None) -> None:
    """Both sides hold the same content (edited alike, or our write landed unacknowledged)."""
    ledger = ledger or ledger_for(uuid)
    if ledger.state == "COLLISION":
        collision = open_collision(uuid)
        if collision is not None:
            collision.resolution, collision.resolved_at = "converged", utcnow()
    record_synced(uuid, local.version, peer_version, local.deleted, ledger)


def effective_state(order: Order, ledger: SyncLedger | None) -> str:
    if ledger is None:
        return "DEL" if order.deleted else "NEW"
    if ledger.state in ("OK", "DEL_SYNCED") and ledger.local_version != order.version:
        return "DEL" if order.deleted else "UPD"
    return ledger.state


def state_counts() -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    rows = db.session.execute(select(Order, SyncLedger).outerjoin(SyncLedger, SyncLedger.uuid == Order.uuid))
    for order, ledger in rows:
        counts[effective_state(order, ledger)] += 1
    return counts


def open_collision_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Collision).where(Collision.resolved_at.is_(None)))
