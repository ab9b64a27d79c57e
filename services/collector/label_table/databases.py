"""Connections to the user's databases, the input table's reflection, and error messages
about them that name the host but never show a password."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    func,
    inspect,
    literal,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from services.collector.errors import SourceError
from shared.redact import MASK, redact_text

CONNECT_TIMEOUT_SECONDS = 10


def open_engine(url: str, one_shot: bool = False) -> Engine:
    """An engine on the user's database; `one_shot` (an API request) keeps no connection open after."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    elif backend in ("mysql", "mariadb"):
        # TIMESTAMP columns convert from the session's time zone: make it UTC, like our bounds.
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "init_command": "SET time_zone = '+00:00'"}
    else:
        connect_args = {"timeout": 30}
    if one_shot:
        return create_engine(url, connect_args=connect_args, poolclass=NullPool)
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def where(url: str) -> str:
    """How messages name a database: host, port and name (or the SQLite file), never the password."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"SQLite file {parsed.database}"
    port = f":{parsed.port}" if parsed.port else ""
    user = f" as {parsed.username}" if parsed.username else ""
    return f"{backend} {parsed.host}{port}/{parsed.database}{user}"


class Scrubber:
    """Removes the job's passwords (and their URL-encoded forms) from any text, on top of redact_text."""

    def __init__(self, passwords: list[str]):
        forms = {form for p in passwords for form in (p, quote(p, safe=""), quote_plus(p)) if form}
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = redact_text(str(text))
        for form in self.forms:
            text = text.replace(form, MASK)
        return text


def explain(exc: BaseException) -> str:
    """The driver's own words, on one line, without SQLAlchemy's statement dump and links."""
    detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return " ".join(str(detail).split())[:500] or type(exc).__name__


def connect(engine: Engine, what: str) -> Connection:
    try:
        return engine.connect()
    except Exception as exc:  # any failure to connect ends the job with the reason
        raise SourceError(f"Cannot connect to the {what} database ({where(str(engine.url))}): {explain(exc)}") \
            from None


def _named(names, wanted: str) -> str | None:
    """`wanted` itself, or the one name equal to it ignoring case (PostgreSQL folds unquoted names)."""
    if wanted in names:
        return wanted
    matches = [name for name in names if name.lower() == wanted.lower()]
    return matches[0] if len(matches) == 1 else None


def reflect_table(connection: Connection, name: str) -> Table:
    actual = _named(inspect(connection).get_table_names(), name)
    if actual is None:
        raise SourceError(f"Table {name!r} not found in {where(str(connection.engine.url))}.")
    return Table(actual, MetaData(), autoload_with=connection)


def column_of(table: Table, name: str, field: str) -> Column:
    actual = _named(table.columns.keys(), name)
    if actual is None:
        raise SourceError(f"Column {name!r} ({field}) not found in table {table.name}; "
                          f"it has {', '.join(table.columns.keys())}.")
    return table.columns[actual]


def in_time_range(column: Column, backend: str, start: datetime, end: datetime):
    """start <= column < end, comparing instants in UTC on every backend."""
    if backend == "sqlite":
        # SQLite keeps times as text ('2026-01-01 10:00:00', '...T...', with or without an offset);
        # julianday() reads all of these, so the comparison is on instants, not on strings.
        def day(value: datetime):
            return func.julianday(literal(_naive_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f"), String))

        return and_(func.julianday(column) >= day(start), func.julianday(column) < day(end))
    if isinstance(column.type, DateTime) and column.type.timezone:
        return and_(column >= start, column < end)
    if isinstance(column.type, (DateTime, Date)):
        # A column without time zone holds UTC (house rule, and our MySQL sessions run in UTC).
        return and_(column >= _naive_utc(start), column < _naive_utc(end))
    raise SourceError(f"Column {column.name!r} (time_column) is {column.type}, not a date/time column.")


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
