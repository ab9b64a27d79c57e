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
    update,
)
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.collector import database_urls, items
from services.collector.errors import DumpRefused
from services.collector.models import ItemDump, db
from services.collector.runtime import DUMP_ITEMS, runtime
from services.collector.sealing import seal, unseal
from services.collector.outbound import COULD_NOT_CONNECT, OutboundRefused, OutboundUnreachable, policy_from_config
from services.collector.user_databases import HOST_NOT_ALLOWED, TABLE_NAME, checked_url
from shared.redact import MASK, redact_text, redact_url
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH = 500
DUMP_NOT_QUEUED = "The task queue (Redis) is not available; the dump was not started."


def start_dump(task_id: str, database_url: str, table: str, config) -> ItemDump:
    if not TABLE_NAME.match(table or "") or table.lower().startswith("sqlite_"):
        raise DumpRefused("table", "A table name is 1 to 63 letters, digits or underscores, not starting "
                                   "with a digit or sqlite_.")
    url = checked_url(database_url, config)
    dump = ItemDump(id=str(uuid.uuid4()), task_id=task_id, status="pending", target=redact_url(url),
                    url_sealed=seal(config, {"database_url": url}), table_name=table, rows_written=0,
                    created_at=utcnow())
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
    """The job: claim the dump, write every item of its task, record the outcome."""
    claimed = db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "pending")
                                 .values(status="running", started_at=utcnow())).rowcount == 1
    db.session.commit()
    if not claimed:
        return
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
                    _upsert(engine, table, batch)
                    written += len(batch)
                    batch = []
                    _progress(dump_id, written)
            if batch:
                _upsert(engine, table, batch)
                written += len(batch)
        finally:
            engine.dispose()
    except Exception as exc:  # any failure of the analyst's database ends the dump, explained
        status, error = "failed", _clean(_failure(exc), password)
        log.warning("dump %s failed: %s", dump_id, error)
        db.session.rollback()
    db.session.execute(update(ItemDump).where(ItemDump.id == dump_id).values(
        status=status, error=error, rows_written=written, completed_at=utcnow()))
    db.session.commit()


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
    runtime().send(DUMP_ITEMS, dump_id)


def fail_unqueued(dump_id: str) -> None:
    db.session.execute(update(ItemDump).where(ItemDump.id == dump_id, ItemDump.status == "pending").values(
        status="failed", error="Could not enqueue the dump (Redis unavailable).", completed_at=utcnow()))
    db.session.commit()
