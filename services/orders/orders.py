"""Order domain logic shared by the API, the admin page and the sync integration.

Every write goes through `write_content`: it derives the total, moves `version` only
when the content really changes, and hands out the next feed `seq` last, just before
the caller commits (the counter row lock then orders seq by commit time).
"""
from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.orders.models import CONTENT_FIELDS, FeedCounter, Order, db
from shared.db import DriverStatement, SqliteWriteTurn
from shared.timeutil import utcnow

CENT = Decimal("0.01")


# The hot writes as Core statements built once, run on the session's connection: no ORM flush,
# no bulk-update bookkeeping, no reload of the new row after commit. The counter's update is the
# one that takes the write lock, so little happens between it and the commit. A create's two run
# straight on the session's DBAPI connection, in its transaction (`DriverStatement.first_in`).
_ORDERS, _COUNTER = Order.__table__, FeedCounter.__table__
_EXISTS = select(_ORDERS.c.uuid).where(_ORDERS.c.uuid == bindparam("uuid"))
_RESERVE = (update(_COUNTER).where(_COUNTER.c.id == 1).values(value=_COUNTER.c.value + bindparam("count"))
            .returning(_COUNTER.c.value))
_INSERT = insert(_ORDERS).returning(_ORDERS.c.seq)
# A create is an INSERT that does nothing when the uuid exists, where the backend has one: the
# look-up before it is then not needed (a retried create rolls back and compares instead).
# RETURNING says whether a row went in (rowcount is not reliable after an INSERT on every driver).
_INSERT_IF_ABSENT = {name: DriverStatement(dialect.insert(_ORDERS).on_conflict_do_nothing(index_elements=["uuid"])
                                        .returning(_ORDERS.c.seq))
                     for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}
_RESERVE_ONE = DriverStatement(_RESERVE)


# SQLite has one writer at a time: the writes of every process serving this database take turns
# (shared.db.SqliteWriteTurn) instead of polling SQLite's lock with millisecond sleeps.
_WRITE_TURN = SqliteWriteTurn()


@contextmanager
def write_turn() -> Iterator[None]:
    """Wrap a write transaction up to its commit: on SQLite, hold the database's write turn for it
    (elsewhere writers lock rows, not the database). A write that fails is rolled back before the
    turn passes on, so the next writer does not find the database locked by it."""
    with _WRITE_TURN.taken(db.engine):
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise


class PreconditionFailed(Exception):
    """If-Match named a version that is not the current one."""


class ContentConflict(Exception):
    """A create named an existing uuid with different content."""


@dataclass
class WriteResult:
    order: Order | SimpleNamespace  # a new order's values as written, from `create_order`
    created: bool
    changed: bool


def now():
    skew = current_app.config.get("ORDERS_CLOCK_SKEW_SECONDS", 0.0) if current_app else 0.0
    return utcnow() + timedelta(seconds=skew)


def money(value) -> str:
    amount = Decimal(str(value)).quantize(CENT)
    return str(amount.copy_abs() if amount.is_zero() else amount)  # "-0" is 0.00, never "-0.00"


def normalise_items(items: list[dict]) -> list[dict]:
    return [{"sku": str(item["sku"]), "name": str(item.get("name") or ""), "qty": int(item["qty"]),
             "unit_price": money(item["unit_price"])} for item in items]


def total_of(items: list[dict]) -> str:
    return money(sum((Decimal(item["unit_price"]) * item["qty"] for item in items), Decimal(0)))


def normalise_content(data: dict, default_currency: str = "EUR", fallback_number: str = "") -> dict:
    """The canonical content of an order: what is compared, stored and synced."""
    return {
        "number": data.get("number") or fallback_number,
        "customer_name": data["customer_name"],
        "customer_email": data["customer_email"],
        "items": normalise_items(data.get("items") or []),
        "currency": (data.get("currency") or default_currency).upper(),
        "status": data.get("status") or "new",
        "note": data.get("note") or "",
        "deleted": bool(data.get("deleted", False)),
    }


def content_of(order: Order) -> dict:
    return {field: getattr(order, field) for field in CONTENT_FIELDS}


def content_hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def reserve_seqs(count: int):
    """Reserve `count` feed positions at once (one statement); yields them in order.

    The counter row stays locked until the caller's transaction ends, so every position
    handed out is above anything committed before and below anything committed after.
    Unused positions are gaps, which the feed does not mind.
    """
    last = db.session.connection().execute(_RESERVE, {"count": count}).scalar_one()
    return iter(range(last - count + 1, last + 1))


def next_seq() -> int:
    return next(reserve_seqs(1))


_UNKNOWN = object()


def get_order(uuid: str, for_update: bool = False) -> Order | None:
    stmt = select(Order).where(Order.uuid == uuid)
    if for_update:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first()


def _matches(expected: int | frozenset[int], version: int) -> bool:
    return version in expected if isinstance(expected, frozenset) else version == expected


def _named(expected: int | frozenset[int]) -> str:
    if not isinstance(expected, frozenset):
        return str(expected)
    return " or ".join(map(str, sorted(expected))) or "a version If-Match names"


def write_content(uuid: str, content: dict, expected_version: int | frozenset[int] | None = None, *,
                  existing=_UNKNOWN, seqs=None) -> WriteResult:
    """Create or fully replace an order's content; no-op (same version) if nothing changes.

    `expected_version` is an If-Match (one version, or the set an If-Match list names, empty
    when it names none of this API's ETags): a mismatch raises PreconditionFailed, unless the
    order already holds exactly this content (a retried write that had been applied).
    `existing` (the order, or None when absent) and `seqs` (from `reserve_seqs`) let a
    batch writer skip the per-order look-up and counter update.
    """
    order = get_order(uuid, for_update=True) if existing is _UNKNOWN else existing
    if order is None:
        if expected_version is not None:
            raise PreconditionFailed(f"Order {uuid} does not exist.")
        stamp = now()
        order = Order(uuid=uuid, created_at=stamp, updated_at=stamp, version=1, total=total_of(content["items"]),
                      **content)
        order.seq = next(seqs) if seqs is not None else next_seq()
        db.session.add(order)
        return WriteResult(order, created=True, changed=True)
    same = content_of(order) == content
    if expected_version is not None and not _matches(expected_version, order.version) and not same:
        raise PreconditionFailed(f"Order {uuid} is at version {order.version}, not {_named(expected_version)}.")
    if same:
        return WriteResult(order, created=False, changed=False)
    for field, value in content.items():
        setattr(order, field, value)
    order.total = total_of(content["items"])
    order.updated_at = now()
    order.version += 1
    order.seq = next(seqs) if seqs is not None else next_seq()
    return WriteResult(order, created=False, changed=True)


def create_order(data: dict) -> WriteResult:
    """POST: a retried create with identical content returns the existing order; different content conflicts.

    The first write of its transaction: a create of a uuid that exists rolls the session back
    (the feed position it reserved is given back) before comparing.
    """
    uuid = str(data.get("uuid") or uuidlib.uuid4())
    content = normalise_content(data, current_app.config["ORDERS_DEFAULT_CURRENCY"], default_number(uuid))
    values = _new_row(uuid, content)
    connection = db.session.connection()
    insert_if_absent = _INSERT_IF_ABSENT.get(connection.dialect.name)
    if insert_if_absent is None:  # no INSERT ... ON CONFLICT here: look first
        if connection.execute(_EXISTS, {"uuid": uuid}).first() is not None:
            return _existing(uuid, content)
        # Absent a moment ago: a second look-up (FOR UPDATE) could lock nothing. A concurrent create
        # of the same uuid loses at the primary key instead (IntegrityError, answered 409).
        values["seq"] = connection.execute(_RESERVE, {"count": 1}).scalar_one()
        connection.execute(_INSERT, values)
        return WriteResult(_written(values), created=True, changed=True)
    # The counter's update takes the write lock (SQLite) or the counter row's (PostgreSQL): the
    # values are ready before it, so the lock is held for two statements and the commit.
    values["seq"] = _RESERVE_ONE.first_in(connection, {"count": 1})[0]
    if insert_if_absent.first_in(connection, values) is not None:
        return WriteResult(_written(values), created=True, changed=True)
    db.session.rollback()  # the uuid exists (or a concurrent create just committed it)
    return _existing(uuid, content)


def _new_row(uuid: str, content: dict) -> dict:
    stamp = now()
    return {"uuid": uuid, "created_at": stamp, "updated_at": stamp, "version": 1, "total": total_of(content["items"]),
            **content}


def _written(values: dict) -> SimpleNamespace:
    """The order as written, for the answer: not an ORM object, so the commit that follows neither
    flushes nor expires it, and answering with it reads nothing back."""
    return SimpleNamespace(**values)


def _existing(uuid: str, content: dict) -> WriteResult:
    existing = get_order(uuid)
    if content_of(existing) != content:
        raise ContentConflict(f"Order {uuid} already exists with different content.")
    return WriteResult(existing, created=False, changed=False)


def replace_order(uuid: str, data: dict, expected_version: int | frozenset[int] | None) -> WriteResult:
    existing = get_order(uuid)
    fallback = existing.number if existing else default_number(uuid)
    content = normalise_content(data, current_app.config["ORDERS_DEFAULT_CURRENCY"], fallback)
    return write_content(uuid, content, expected_version)


def delete_order(uuid: str, expected_version: int | frozenset[int] | None) -> WriteResult | None:
    order = get_order(uuid)
    if order is None:
        return None
    return write_content(uuid, {**content_of(order), "deleted": True}, expected_version)


def default_number(uuid: str) -> str:
    return "ORD-" + uuid.replace("-", "")[:8].upper()


def filtered_orders(status=None, customer=None, include_deleted=False):
    stmt = select(Order)
    if status:
        stmt = stmt.where(Order.status == status)
    if customer:
        pattern = f"%{customer.lower()}%"
        stmt = stmt.where(or_(db.func.lower(Order.customer_name).like(pattern),
                              db.func.lower(Order.customer_email).like(pattern)))
    if not include_deleted:
        stmt = stmt.where(Order.deleted.is_(False))
    return stmt.order_by(Order.created_at.desc(), Order.uuid)


def changes_since(since: int, status=None, customer=None):
    """The change feed: every order whose latest change is after `since`, tombstones included, by seq."""
    stmt = filtered_orders(status, customer, include_deleted=True).order_by(None)
    return stmt.where(Order.seq > since).order_by(Order.seq)
