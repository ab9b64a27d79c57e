"""Database setup shared by the services: Flask-SQLAlchemy, Flask-Migrate, SQLite in WAL mode.

Each service owns its own `SQLAlchemy` instance (so its metadata, migrations and
`create_all` only ever touch its own tables); this module builds them alike.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

from shared.timeutil import as_utc

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's own locking alone decides between processes
    fcntl = None

# How long a SQLite writer waits for the database's write lock (PRAGMA busy_timeout), and for a
# write turn (`SqliteWriteTurn`), before its request is answered 503.
SQLITE_BUSY_SECONDS = 10

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
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
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
        options.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_SECONDS)
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    migrate.init_app(app, db, directory=str(migrations_dir), render_as_batch=True, compare_type=True)
    with app.app_context():
        engine = db.engine
        _ENGINE_OPTIONS[engine] = options
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


class SqliteWriteTurn:
    """One writer at a time on a SQLite database, among this process's threads and every process
    that takes its turn on the same file: `with turn.taken(engine):` around a write transaction up
    to its commit. A no-op on other backends, whose writers lock rows, not the database.

    SQLite has one writer at a time, and a writer that finds the database locked polls for it with
    sleeps of 1, 2, 5, 10 ms ...: two gunicorn processes writing one file each lose whole
    milliseconds to that whenever their writes meet (the orders push of 10,000 took 4 % longer).
    Here the threads wait on a lock and the processes on an flock(2) of a file beside the
    database (`<database>-turn`), tried again after 20 µs, doubling up to 1 ms: a turn passes on
    within tens of microseconds of its release. A process that dies holding the turn lets go of
    it with its file; one that holds it past `timeout` seconds (stopped, say) makes the waiter
    raise OperationalError ("database is locked", answered 503) as SQLite's busy timeout would.
    """

    def __init__(self, timeout: float = SQLITE_BUSY_SECONDS):
        self.timeout = timeout
        self._threads = threading.Lock()
        self._files: dict[tuple[int, str], int] = {}  # (pid, lock file) -> its descriptor, opened per process

    @contextmanager
    def taken(self, engine: Engine) -> Iterator[None]:
        if engine.dialect.name != "sqlite":
            yield
            return
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise _locked(f"no write turn in {self.timeout:g} s (this process's writers)")
        try:
            fd = self._lock_file(engine.url.database)
            if fd is not None:
                self._flock(fd, deadline)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self, database: str | None) -> int | None:
        """This process's descriptor of the database's lock file (None for an in-memory database).
        Opened per process: a descriptor inherited across a fork shares its flock with the parent."""
        if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
            return None
        key = (os.getpid(), database + "-turn")
        fd = self._files.get(key)  # under self._threads
        if fd is None:
            fd = self._files[key] = os.open(key[1], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return fd

    def _flock(self, fd: int, deadline: float) -> None:
        delay = 20e-6
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _locked(f"no write turn in {self.timeout:g} s (another process holds it)") from None
                time.sleep(delay)
                delay = min(delay * 2, 1e-3)


def _locked(detail: str) -> OperationalError:
    return OperationalError(None, None, sqlite3.OperationalError(f"database is locked: {detail}"))


class DriverStatement:
    """A statement that returns rows (a select, or a write with RETURNING) run straight on a DBAPI
    cursor, for the hottest reads and writes.

    Compiled once per dialect; its parameters and its rows pass through the column types' own
    processors, as SQLAlchemy's execution passes them, and a driver error is raised as the
    SQLAlchemy error it would have been (an OperationalError stays a 503, a duplicate key an
    IntegrityError). What it saves is SQLAlchemy's per-execution machinery (execution context,
    result metadata, Row objects): ~35 µs a statement on SQLite, where a lookup by primary key
    costs the driver ~5 µs. Reads run on a `DriverConnection` (`rows`, `first`, `scalar`), a write
    on an SQLAlchemy connection inside its transaction (`first_in`, e.g. `db.session.connection()`).
    Plain bound parameters only: a statement needing SQLAlchemy's post-compile rendering
    (IN lists, literal LIMIT on some backends) is refused when it is compiled."""

    def __init__(self, stmt):
        self.stmt = stmt
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled.setdefault(key, _Compiled(self.stmt, dialect))
        return compiled

    def rows(self, connection: DriverConnection, params: dict | None = None) -> list[tuple]:
        compiled = self._for(connection.dialect)
        rows = connection.execute(compiled.sql, compiled.parameters(params or {}))
        return compiled.processed(rows, connection.cursor)

    def first(self, connection: DriverConnection, params: dict | None = None) -> tuple | None:
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: DriverConnection, params: dict | None = None):
        row = self.first(connection, params)
        return None if row is None else row[0]

    def first_in(self, connection: Connection, params: dict | None = None) -> tuple | None:
        """The first row (None when none), run on `connection`'s DBAPI connection in its transaction
        (never again on another: a transaction cannot be taken over)."""
        dialect = connection.dialect
        compiled = self._for(dialect)
        parameters = compiled.parameters(params or {})
        pooled = connection.connection
        cursor = pooled.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
            rows = compiled.processed(cursor.fetchall(), cursor)
        except dialect.loaded_dbapi.Error as exc:
            gone = dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
            if gone:
                connection.invalidate(exc)
            raise DBAPIError.instance(compiled.sql, parameters, exc, dialect.loaded_dbapi.Error, dialect=dialect,
                                      connection_invalidated=gone) from exc
        finally:
            cursor.close()
        return rows[0] if rows else None


class _Compiled:
    def __init__(self, stmt, dialect):
        compiled = stmt.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
            raise ValueError("DriverStatement runs plain bound parameters only")
        self.dialect = dialect
        self.sql = compiled.string
        self.order = list(compiled.positiontup) if compiled.positional else None
        self.defaults = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        self.binds = [(name, processor) for name, bind in compiled.binds.items()
                      if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))]
        self.types = [column.type.dialect_impl(dialect) for column in stmt.exported_columns]
        self.results: list[tuple[int, Any]] | None = None  # from the first cursor.description

    def parameters(self, params: dict):
        values = {**self.defaults, **params}
        for name, processor in self.binds:
            values[name] = processor(values[name])
        return values if self.order is None else tuple(values[name] for name in self.order)

    def processed(self, rows: list, cursor) -> list[tuple]:
        if self.results is None:  # once: psycopg builds the description's objects afresh at each read
            self.results = [(index, processor) for index, (type_, described) in
                            enumerate(zip(self.types, cursor.description, strict=True))
                            if (processor := type_.result_processor(self.dialect, described[1]))]
        if not self.results:
            return rows
        processed = []
        for row in rows:
            values = list(row)
            for index, processor in self.results:
                values[index] = processor(values[index])
            processed.append(tuple(values))
        return processed


class DriverConnection:
    """A pooled DBAPI connection of `read_engine(engine)` and one cursor, for `DriverStatement`s:
    `with DriverConnection(engine) as conn`. A statement that finds its connection gone (the
    server restarted, a proxy closed it) is run again, once, on a new one."""

    def __init__(self, engine: Engine):
        self._engine = read_engine(engine)
        self.dialect = self._engine.dialect
        self._dbapi_error = self.dialect.loaded_dbapi.Error

    def __enter__(self) -> DriverConnection:
        self._connect()
        return self

    def _connect(self) -> None:
        try:  # the pool hands on the driver's own error, which Engine.connect would have wrapped
            self._connection = self._engine.raw_connection()
        except self._dbapi_error as exc:
            raise DBAPIError.instance(None, None, exc, self._dbapi_error, dialect=self.dialect) from exc
        self.cursor = self._connection.cursor()

    def execute(self, sql: str, parameters) -> list:
        """The rows of `sql` (its description is on `self.cursor`)."""
        for attempt in (1, 2):
            try:
                self.cursor.execute(sql, parameters)
                return self.cursor.fetchall()
            except self._dbapi_error as exc:
                gone = self.dialect.is_disconnect(exc, self._connection.dbapi_connection, self.cursor)
                if gone:
                    self._connection.invalidate(exc)
                if not gone or attempt == 2:
                    raise DBAPIError.instance(sql, parameters, exc, self._dbapi_error, dialect=self.dialect,
                                              connection_invalidated=gone) from exc
                self._connection.close()
                self._connect()
        raise AssertionError("unreachable")

    def __exit__(self, *exc_info) -> None:
        try:
            self.cursor.close()
        finally:
            self._connection.close()  # back to the pool (rolled back where a transaction is open)


# Per engine, the engine that DriverConnection reads through (see `read_engine`), and the options
# init_db built the engine with, which it is built with too.
_READ_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_ENGINE_OPTIONS: weakref.WeakKeyDictionary[Engine, dict] = weakref.WeakKeyDictionary()
_read_engines_lock = threading.Lock()


def read_engine(engine: Engine) -> Engine:
    """The engine for reads that need no transaction: on a server database a second pool of the
    same URL and options, in autocommit and without a ping at each checkout. On PostgreSQL the
    ping and the BEGIN/ROLLBACK around a lookup by id were two round trips of its three: 741 ->
    213 µs a request, measured. A dead connection is found by the statement that meets it
    instead (DriverConnection runs it again). Its PostgreSQL sessions are in UTC. SQLite has
    neither cost: it is its own engine."""
    if engine.dialect.name == "sqlite":
        return engine
    with _read_engines_lock:
        reader = _READ_ENGINES.get(engine)
        if reader is None:
            options = {**_ENGINE_OPTIONS.get(engine, {}), "pool_pre_ping": False, "isolation_level": "AUTOCOMMIT"}
            reader = _READ_ENGINES[engine] = create_engine(engine.url, **options)
            if reader.dialect.name == "postgresql":
                event.listen(reader, "connect", _utc_session)
            if not event.contains(engine, "engine_disposed", dispose_read_engine):
                event.listen(engine, "engine_disposed", dispose_read_engine)  # the reader goes with it
        return reader


def _utc_session(dbapi_connection, _record) -> None:
    """Date-times come back in UTC from a read engine's sessions, whatever the server's TimeZone."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")


def dispose_read_engine(engine: Engine) -> None:
    """Close the connections of `engine`'s read engine; `engine.dispose()` calls it."""
    with _read_engines_lock:
        reader = _READ_ENGINES.pop(engine, None)
    if reader is not None:
        reader.dispose()
