"""Database setup shared by the services: Flask-SQLAlchemy, Flask-Migrate, SQLite in WAL mode.

Each service owns its own `SQLAlchemy` instance (so its metadata, migrations and
`create_all` only ever touch its own tables); this module builds them alike.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

from shared.timeutil import as_utc

# Stable constraint names, so Alembic can alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else as_utc(value)


def make_db() -> SQLAlchemy:
    """A service's own SQLAlchemy extension with its own declarative base."""

    class Base(DeclarativeBase):
        registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                            type_annotation_map={datetime: UTCDateTime()})

    return SQLAlchemy(model_class=Base)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whichever spelling the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    # WAL lets API and worker processes read while one writes; busy_timeout waits for the lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_db(app: Flask, db: SQLAlchemy, migrate: Migrate, migrations_dir: Path) -> None:
    url = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    parsed = make_url(url)
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {}).setdefault("timeout", 10)
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    migrate.init_app(app, db, directory=str(migrations_dir), render_as_batch=True, compare_type=True)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
            event.listen(engine, "connect", _sqlite_pragmas)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def take_write_lock(session) -> None:
    """On SQLite, take the database's write lock now (`BEGIN IMMEDIATE`), before this transaction
    reads what it is about to rewrite: pysqlite otherwise begins only at the first write, and a
    concurrent writer can commit between the read and the write. A no-op elsewhere: PostgreSQL
    callers lock the rows they read (`SELECT ... FOR UPDATE`)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    sqlite = connection.connection.dbapi_connection
    if not sqlite.in_transaction:
        sqlite.execute("BEGIN IMMEDIATE")
