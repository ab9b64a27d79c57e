"""Dumps: write a task's collected items into the analyst's own database, in the background.

`POST .../task/{id}/dump {"database_url", "table"}` validates the URL (PostgreSQL,
MySQL/MariaDB or SQLite only; a SQLite file only inside COLLECTOR_DUMP_SQLITE_DIR) and the
table name, stores the dump with the URL's password masked (the full URL is sealed with
the collector's secret key, as secret task params are) and enqueues a Dramatiq job. The
job creates the table if needed and upserts on (source, kind, external_id), so dumping
twice never duplicates rows. The password never reaches a response or a log line.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.collector import database_urls, items
from services.collector.api_keys import Caller
from services.collector.errors import DumpRefused, TaskFinished
from services.collector.models import ItemDump, db
from services.collector.runtime import runtime
from services.collector.sealing import seal, unseal
from services.collector.outbound import COULD_NOT_CONNECT, OutboundRefused, OutboundUnreachable, policy_from_config
from services.collector.user_databases import HOST_NOT_ALLOWED, TABLE_NAME, checked_url
from shared.redact import MASK, redact_text, redact_url
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH = 500
DUMP_NOT_QUEUED = "The task queue (Redis) is not available; the dump was not started."


def start_dump(task_id: str, database_url: str, table: str, config, by: Caller | None = None) -> ItemDump:
    if not TABLE_NAME.match(table or "") or table.lower().startswith("sqlite_"):
        raise DumpRefused("table", "A table name is 1 to 63 letters, digits or underscores, not starting "
                                   "with a digit or sqlite_.")
    url = checked_url(database_url, config)
    dump = ItemDump(id=str(uuid.uuid4()), task_id=task_id, status="pending", target=redact_url(url),
                    url_sealed=seal(config, {"database_url": url}), table_name=table, rows_written=0,
                    created_at=utcnow(), requested_by=by.audit() if by else None)
    db.session.add(dump)
    db.session.commit()
    return dump


def get_dump(dump_id: str) -> ItemDump | None:
    try:
        uuid.UUID(dump_id)  # dump ids are UUIDs; anything else (a NUL byte PostgreSQL refuses) is unknown
    except ValueError:
        return None
    return db.session.get(ItemDump, dump_id)


def dump_table(name: str) -> Table:
    return Table(
        name, MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("source", String(30), nullable=False), Column("kind", String(30), nullable=False),
        Column("external_id", String(100), nullable=False), Column("category", String(100)),
        Column("author", String(200)), Column("text", Text), Column("created_at", DateTime),
        Column("url", Text), Column("labels", JSON), Column("metrics", JSON), Column("raw", JSON),
        Column("task_id", String(36)), Column("dumped_at", DateTime),
        UniqueConstraint("source", "kind", "external_id", name=f"uq_{name}_item"[:63]),
    )


def _upsert(engine, table: Table, rows: list[dict]) -> None:
    updatable = [c.name for c in table.columns if c.name not in ("id", "source", "kind", "external_id")]
    dialect = engine.dialect.name
    if dialect == "mysql" or dialect == "mariadb":
        statement = mysql_insert(table)
        statement = statement.on_duplicate_key_update({c: statement.inserted[c] for c in updatable})
    else:
        statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        statement = statement.on_conflict_do_update(index_elements=["source", "kind", "external_id"],
                                                    set_={c: statement.excluded[c] for c in updatable})
    with engine.begin() as connection:
        connection.execute(statement, rows)


def run_dump(dump_id: str) -> None:
    """The job: take a slot of the cap (and of the dumps' share), claim the dump, write every item
    of its task with a heartbeat running, record the outcome. Over the cap it waits in its queue."""
    rt = runtime()
    member = f"dump:{dump_id}"
    share = rt.dump_limiter.acquire(member)
    slot = rt.limiter.acquire(member) if share else None
    if slot is None:
        if share:
            rt.dump_limiter.release(member, share)
        if db.session.scalar(select(ItemDump.status).where(ItemDump.id == dump_id)) == "pending":
            log.info("dump %s waits for a slot of the cap", dump_id)
            rt.enqueue_dump(dump_id, delay_ms=rt.config["COLLECTOR_CAP_RETRY_MS"])
        return
    try:
        rt.redis.set(rt.alive_key(dump_id), 1, px=int(rt.config["COLLECTOR_HEARTBEAT_TIMEOUT"] * 1000))
        claimed = db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "pending")
                                     .values(status="running", started_at=utcnow())).rowcount == 1
        db.session.commit()
        if not claimed:
            return
        heartbeat = DumpHeartbeat(current_app._get_current_object(), dump_id, member, slot, share)
        heartbeat.start()
        try:
            status, error, written = _write(dump_id, heartbeat)
        finally:
            heartbeat.stop()
        # Only a dump still running is ended here: one the reaper already failed stays failed.
        db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "running").values(
            status=status, error=error, rows_written=written, completed_at=utcnow()))
        db.session.commit()
    finally:
        rt.redis.delete(rt.alive_key(dump_id))
        rt.limiter.release(member, slot)
        rt.dump_limiter.release(member, share)


class DumpCancelled(Exception):
    pass


def _write(dump_id: str, heartbeat: DumpHeartbeat) -> tuple[str, str | None, int]:
    dump = db.session.get(ItemDump, dump_id)
    url = password = None
    written, status, error = 0, "completed", None
    try:
        url = unseal(current_app.config, dump.url_sealed)["database_url"]
        parsed = make_url(url)
        password = parsed.password
        if parsed.drivername == "sqlite":    # checked at start to lie inside COLLECTOR_DUMP_SQLITE_DIR
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The host checked and pinned, our timeouts, LOCAL INFILE off (database_urls.py).
        engine = database_urls.open_engine(url, policy_from_config(current_app.config),
                                           database_urls.timeouts_from_config(current_app.config))
        try:
            table = dump_table(dump.table_name)
            table.metadata.create_all(engine, checkfirst=True)
            batch: list[dict] = []
            now = utcnow().replace(tzinfo=None)
            for record in items.iter_items(dump.task_id):
                batch.append(_row(record, dump.task_id, now))
                if len(batch) >= BATCH:
                    heartbeat.checkpoint()
                    _upsert(engine, table, batch)
                    written += len(batch)
                    batch = []
                    _progress(dump_id, written)
            heartbeat.checkpoint()
            if batch:
                _upsert(engine, table, batch)
                written += len(batch)
        finally:
            engine.dispose()
    except DumpCancelled:
        status, error = "cancelled", None
        db.session.rollback()
    except Exception as exc:  # any failure of the analyst's database ends the dump, explained
        status, error = "failed", _clean(_failure(exc), password)
        log.warning("dump %s failed: %s", dump_id, error)
        db.session.rollback()
    return status, error, written


class DumpHeartbeat(threading.Thread):
    """While a dump runs: keeps its alive key and its leases fresh, and notices a cancel."""

    def __init__(self, app, dump_id: str, member: str, slot: str, share: str):
        super().__init__(name=f"dump-heartbeat-{dump_id[:8]}", daemon=True)
        self.app, self.dump_id, self.member, self.slot, self.share = app, dump_id, member, slot, share
        self.cancelled = threading.Event()
        self._stop_event = threading.Event()

    def run(self) -> None:
        with self.app.app_context():
            rt = runtime()
            while not self._stop_event.wait(rt.config["COLLECTOR_HEARTBEAT_SECONDS"]):
                try:
                    rt.redis.set(rt.alive_key(self.dump_id), 1, px=int(rt.config["COLLECTOR_HEARTBEAT_TIMEOUT"] * 1000))
                    rt.limiter.renew(self.member, self.slot)
                    rt.dump_limiter.renew(self.member, self.share)
                    if rt.cancel_requested(self.dump_id):
                        self.cancelled.set()
                except Exception as exc:  # a missed beat must not end the thread
                    log.warning("heartbeat of dump %s failed: %s", self.dump_id, exc)

    def checkpoint(self) -> None:
        if self.cancelled.is_set() or runtime().cancel_requested(self.dump_id):
            raise DumpCancelled(self.dump_id)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def cancel_dump(dump_id: str, by: Caller | None = None) -> str:
    """Cancel a pending dump at once; ask a running one to stop before its next batch. Returns the status
    `by`, the caller, is kept in the dump's audit trail. LookupError for an unknown dump, TaskFinished
    for one that has already ended."""
    status = db.session.scalar(select(ItemDump.status).where(ItemDump.id == dump_id))
    if status is None:
        raise LookupError(dump_id)
    if status not in ("pending", "running"):
        raise TaskFinished(f"Dump {dump_id} is already {status}; nothing to cancel.")
    if by is not None:
        db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status.in_(("pending", "running")))
                           .values(cancelled_by=by.audit()))
        db.session.commit()
    if db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "pending")
                          .values(status="cancelled", completed_at=utcnow())).rowcount:
        db.session.commit()
        return "cancelled"
    db.session.rollback()
    status = db.session.scalar(select(ItemDump.status).where(ItemDump.id == dump_id))
    if status == "running":
        runtime().request_cancel(dump_id)
    elif status != "cancelled":  # it ended between the two reads
        raise TaskFinished(f"Dump {dump_id} is already {status}; nothing to cancel.")
    return status


def reap_dumps() -> list[str]:
    """Fail running dumps whose worker stopped (no alive key: no heartbeat for COLLECTOR_HEARTBEAT_TIMEOUT),
    as the reaper does for tasks; their slots are freed. A dump is an upsert: running it again is safe."""
    rt = runtime()
    timeout = rt.config["COLLECTOR_HEARTBEAT_TIMEOUT"]
    handled = []
    for dump_id in db.session.scalars(select(ItemDump.id).where(ItemDump.status == "running")).all():
        if rt.redis.exists(rt.alive_key(dump_id)):
            continue
        error = f"Worker lost: no heartbeat for {timeout:g} s; dump it again to finish it"
        if db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "running")
                              .values(status="failed", error=error, completed_at=utcnow())).rowcount:
            handled.append(dump_id)
        db.session.commit()
        rt.limiter.release_all(f"dump:{dump_id}")
        rt.dump_limiter.release_all(f"dump:{dump_id}")
    if handled:
        log.warning("reaped %d dumps whose worker was lost: %s", len(handled), ", ".join(handled))
    return handled


def _progress(dump_id: str, written: int) -> None:
    db.session.execute(update(ItemDump).where(ItemDump.id == dump_id).values(rows_written=written))
    db.session.commit()


def _row(record: dict, task_id: str, now) -> dict:
    created = datetime.fromisoformat(record["created_at"]).replace(tzinfo=None)   # naive UTC, on every backend
    return {"source": record["source"], "kind": record["kind"], "external_id": record["external_id"],
            "category": record["category"], "author": record["author"], "text": record["text"],
            "created_at": created, "url": record["url"], "labels": record["labels"], "metrics": record["metrics"],
            "raw": record["raw"], "task_id": task_id, "dumped_at": now}


def _failure(exc: Exception) -> str:
    """What the dump's error says: "not allowed", "could not connect" for any failure of the network
    (closed, filtered and silent ports alike), or the database's own refusal."""
    if isinstance(exc, OutboundRefused):
        return HOST_NOT_ALLOWED
    if isinstance(exc, OutboundUnreachable) or (isinstance(exc, (DBAPIError, OSError))
                                                and not database_urls.server_answered(exc)):
        return f"Cannot connect to the database: {COULD_NOT_CONNECT}."
    return f"{type(exc).__name__}: {exc}"


def _clean(message: str, password: str | None) -> str:
    message = redact_text(message)[:1000]
    # A short password could be any few letters of the message: only a longer one is searched for as text.
    return message.replace(password, MASK) if password and len(password) >= 8 else message


def enqueue_dump(dump_id: str) -> None:
    """Hand the dump to a worker (the `collector_dump_items` actor, declared in actors.py)."""
    runtime().enqueue_dump(dump_id)


def fail_unqueued(dump_id: str) -> None:
    db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "pending").values(
        status="failed", error="Could not enqueue the dump (Redis unavailable).", completed_at=utcnow()))
    db.session.commit()
