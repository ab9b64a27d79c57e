"""Connections to the user's databases, the input table's reflection, and error messages
about them that name the host but never show a password."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import pymysql
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    and_,
    func,
    inspect,
    literal,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from services.collector import database_urls
from services.collector.errors import SourceError
from services.collector.outbound import COULD_NOT_CONNECT, OutboundRefused, OutboundUnreachable, policy_from_config
from shared.redact import MASK, redact_text

log = logging.getLogger(__name__)

# A short password could be any few letters of a message: only longer ones are also searched for as text.
MIN_SCRUBBED_LENGTH = 8


def open_engine(url: str, config, one_shot: bool = False, sample: bool = False) -> Engine:
    """An engine on the user's database, connected to the address COLLECTOR_OUTBOUND_ALLOW allowed, under
    our timeouts (database_urls.py); `one_shot` (an API request) keeps no connection open after, and
    `sample` uses the API's short timeouts. Raises SourceError ("not allowed" / "could not connect")."""
    try:
        engine = database_urls.open_engine(url, policy_from_config(config),
                                           database_urls.timeouts_from_config(config, sample), one_shot)
    except database_urls.DatabaseUrlRefused as exc:   # a URL sealed before its option was refused
        raise SourceError(f"Cannot connect to the database ({where(url)}): {exc}") from None
    except OutboundRefused:
        raise SourceError(f"Cannot connect to the database ({where(url)}): not allowed "
                          "(COLLECTOR_OUTBOUND_ALLOW)") from None
    except OutboundUnreachable:
        raise SourceError(f"Cannot connect to the database ({where(url)}): {COULD_NOT_CONNECT}") from None
    engine.named_url = url   # messages name the host as given, not the address it was pinned to
    return engine


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
    """redact_text (URLs masked by their structure), then the job's passwords of MIN_SCRUBBED_LENGTH or
    more (and their URL-encoded forms) wherever a driver might have quoted them. A shorter one is not
    searched for: replacing every "a" of a message would mangle it and tell the password."""

    def __init__(self, passwords: list[str]):
        forms = {form for p in passwords if len(p) >= MIN_SCRUBBED_LENGTH
                 for form in (p, quote(p, safe=""), quote_plus(p)) if form}
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


def reason(exc: BaseException) -> str:
    """What a caller is told of a failure: the server's own refusal (wrong password, unknown database), or
    "could not connect" for any failure of the network, so that closed, filtered and silent ports look alike."""
    if database_urls.server_answered(exc):
        return explain(exc)
    log.info("caller's database unreachable: %s", explain(exc))   # the detail for the operator only
    return COULD_NOT_CONNECT


def connect(engine: Engine, what: str) -> Connection:
    try:
        return engine.connect()
    except Exception as exc:  # any failure to connect ends the job with the reason
        named = getattr(engine, "named_url", None) or str(engine.url)
        raise SourceError(f"Cannot connect to the {what} database ({where(named)}): {reason(exc)}") from None


def read_chunks(engine: Engine, query_after: Callable[[Any], Select], last_id, chunk_rows: int,
                stream: bool, between: Callable[[], None] | None = None) -> Iterator[Sequence[Row]]:
    """The rows of `query_after(last_id)` (ordered by id, the id first) in chunks of `chunk_rows`, then the
    rows added past the last id meanwhile, until none are left.

    `stream`: one query on a server-side cursor (a psycopg named cursor, PyMySQL's SSCursor) read
    `chunk_rows` at a time, then a query for the rows added meanwhile. Otherwise keyset paging, one short
    query per chunk until a short one: nothing stays open between chunks (SQLite, where a long read in the
    input file would hold off a writer to the same file, and a paced job, which may wait long between chunks),
    calling `between` before each query after the first (the source's pacing)."""
    if not stream:
        first = True
        while True:
            if not first and between is not None:
                between()
            first = False
            with engine.connect() as connection:
                rows = connection.execute(query_after(last_id).limit(chunk_rows)).all()
            if rows:
                last_id = rows[-1][0]
                yield rows
            if len(rows) < chunk_rows:
                return
    while True:
        found = 0
        with engine.connect() as connection:
            for rows in _stream(connection, query_after(last_id), chunk_rows):
                found += len(rows)
                last_id = rows[-1][0]
                yield rows
        if not found:
            return


def _stream(connection: Connection, query: Select, chunk_rows: int) -> Iterator[Sequence]:
    """The rows of `query` from a server-side cursor, `chunk_rows` at a time. When SQLAlchemy would change
    nothing (integer and string columns, parameters passed as they are), straight from the driver's own
    cursor (a psycopg named cursor, PyMySQL's SSCursor): SQLAlchemy's Row layer costs twice the driver's
    fetch, and this thread shares the interpreter with the labeling."""
    dialect = connection.dialect
    compiled = query.compile(dialect=dialect)
    direct = dialect.name in ("postgresql", "mysql", "mariadb") and not dialect.positional \
        and all(_passed_as_is(column.type, dialect, result=True) for column in query.selected_columns) \
        and all(_passed_as_is(bind.type, dialect, result=False) for bind in compiled.binds.values())
    if not direct:
        result = connection.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
        try:
            yield from result.partitions()
        except BaseException:
            connection.invalidate()     # stopped mid-stream: drop the connection rather than read the rest
            raise
        return
    driver = connection.connection.driver_connection
    cursor = driver.cursor(name=f"label_table_{uuid.uuid4().hex[:12]}") if dialect.name == "postgresql" \
        else driver.cursor(pymysql.cursors.SSCursor)
    try:
        cursor.execute(str(compiled), compiled.params)
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
    except BaseException:
        # Stopped or failed mid-stream: drop the connection rather than read the rest (PyMySQL's SSCursor
        # reads every remaining row to close).
        connection.invalidate()
        raise
    cursor.close()


def _passed_as_is(type_, dialect, result: bool) -> bool:
    """Whether SQLAlchemy hands a value of this type on as it is (results) or as given (parameters)."""
    impl = type_.dialect_impl(dialect)
    if result:
        return isinstance(type_, (Integer, String)) and impl.result_processor(dialect, None) is None
    return impl.bind_processor(dialect) is None


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
