"""Reading the trials fast without the micro-cache: exact totals kept per filter, pages read as
plain rows (on SQLite as their JSON), JSON written straight from the rows.

- **Totals.** A list's exact total is counted once per filter and kept (per process) under the
  table's revision (`models.Revision`), which every write moves in its own transaction. A request
  reads the revision before it counts, so a total counted is never older than the revision it is
  kept under; the page's own statement selects it (one round trip, one snapshot), unless the total
  last counted puts the page past the end, when revision and total come first and such a page is a
  404 without being read. The rolling window of /trials/recent also moves
  with the clock: its total is kept with the oldest `updated_at` it counted, and holds while the
  window's start has not passed that.
- **Rows.** The page is a Core select of the columns TrialSchema dumps (no ORM objects), built
  once per shape of filters with the values bound, and run straight on a pooled driver
  connection (`shared.db.DriverStatement`, `DriverConnection`).
- **JSON.** `TrialSchema` stays the documented contract; `RowSerialiser` is built from its
  fields and writes the same bytes Flask's JSON provider writes for the schema's dump (sorted
  keys, compact, UTF-8, a final newline). On SQLite a page's rows never come back as rows: SQLite
  writes their JSON array itself, under the same keys (`PageRead`). tests/trials/test_fast_json.py
  holds both to the schema's dump.
- **ETag.** A digest of those bytes: the body is not serialised a second time to tag it.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

import marshmallow as ma
import orjson
from flask import Response, current_app, request
from sqlalchemy import (
    DateTime, Integer, Select, String, bindparam, case, func, literal, literal_column, or_, select, type_coerce,
)

from services.trials import trials
from services.trials.models import Revision, Trial, db
from shared.db import DriverConnection, DriverStatement, UTCDateTime
from shared.pagination import counted, set_pagination_headers
from shared.timeutil import as_utc, utcnow

MAX_TOTALS = 4096


class Totals:
    """Exact counts by key, each valid for one table revision (and, optionally, while `still_valid`)."""

    def __init__(self, max_entries: int = MAX_TOTALS):
        self._entries: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._lock = Lock()
        self.max_entries = max_entries

    def latest(self, key: Hashable) -> Any:
        """The value last kept for `key`, at whichever revision (None if none)."""
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def get(self, key: Hashable, revision: int, compute: Callable[[], Any],
            still_valid: Callable[[Any], bool] = lambda _value: True) -> Any:
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] == revision and still_valid(entry[1]):
            return entry[1]
        value = compute()
        with self._lock:
            self._entries[key] = (revision, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC


class RowSerialiser:
    """A schema's dump of rows, without marshmallow per row: a row's values under the schema's
    keys, which orjson writes as the schema's dump would be written (aware date-times in ISO 8601,
    as marshmallow's DateTime fields and `isoformat` give them: tests/trials/test_fast_json.py)."""

    def __init__(self, schema: ma.Schema, columns: Sequence[str]):
        keys = {field.attribute or name: field.data_key or name for name, field in schema.dump_fields.items()}
        if set(keys) != set(columns):
            raise ValueError(f"The schema dumps {sorted(keys)}, the rows hold {sorted(columns)}.")
        self.columns = tuple(columns)
        self.keys = [keys[column] for column in columns]

    def record(self, row: Sequence) -> dict:
        return dict(zip(self.keys, row, strict=True))

    def array(self, rows: Sequence[Sequence]) -> bytes:
        """Rows of the columns as a JSON array; each row may carry trailing values (the table's
        revision, which `list_page` selects with them) that are not written."""
        keys = self.keys
        return orjson.dumps([dict(zip(keys, row, strict=False)) for row in rows], option=JSON_OPTIONS)

    def page(self, count: int, rows: Sequence[Sequence]) -> bytes:
        """A page's body: what `json_bytes` writes for {"count": count, "data": rows as records}."""
        return page_body(count, self.array(rows))


def page_body(count: int, data: bytes) -> bytes:
    """A page's body from its total and its JSON array, as `json_bytes` writes the page (the keys
    sorted, compact, a final newline)."""
    return b'{"count":%d,"data":%s}\n' % (count, data)


def json_bytes(obj) -> bytes:
    """What Flask's JSON provider (shared.api.ReadableJSONProvider) writes for `obj`, outside debug
    mode; a date-time without an offset is UTC (the read columns below give SQLite's as they are)."""
    return orjson.dumps(obj, option=JSON_OPTIONS) + b"\n"


def tagged_json(body: bytes) -> Response:
    """`body` as the response, its ETag a digest of the bytes; a matching If-None-Match is a 304."""
    etag = hashlib.blake2b(body, digest_size=16).hexdigest()
    asked = request.environ.get("HTTP_IF_NONE_MATCH") and etag in request.if_none_match
    response = Response(status=304) if asked else Response(body, content_type="application/json")
    response.set_etag(etag)
    return response


class Statements:
    """Reads built once per shape and reused, per process.

    Building a select and looking it up in SQLAlchemy's compiled cache cost ~130 µs of a 230 µs
    lookup by id (measured): a statement whose values are bound parameters is built (and, as a
    `DriverStatement`, compiled) once."""

    def __init__(self):
        self._built: dict[Hashable, Any] = {}
        self._lock = Lock()

    def get(self, key: Hashable, build: Callable[[], Select]) -> DriverStatement:
        return self.kept(key, lambda: DriverStatement(build()))

    def kept(self, key: Hashable, make: Callable[[], Any]) -> Any:
        read = self._built.get(key)
        if read is None:
            with self._lock:
                read = self._built.get(key) or self._built.setdefault(key, make())
        return read


_statements = Statements()
LIMIT, OFFSET = bindparam("page_limit", type_=Integer), bindparam("page_offset", type_=Integer)
_REVISION = DriverStatement(select(Revision.revision).where(Revision.id == 1))
_EVERYTHING = DriverStatement(select(func.count(Trial.trial_id)))
# The columns the reads select: the date-times as the driver's (SQLite: naive, in UTC; PostgreSQL:
# aware, in UTC, which the read engine's sessions are set to), without UTCDateTime making each of
# a page's 60 values aware again; `json_bytes` writes both as the schema does.
READ_COLUMNS = tuple(type_coerce(column, DateTime(timezone=True)).label(column.name)
                     if isinstance(column.type, UTCDateTime) else column for column in trials.TRIAL_COLUMNS)
_BY_ID = DriverStatement(select(*READ_COLUMNS).where(Trial.trial_id == bindparam("trial_id", type_=String)))


_REVISION_COLUMN = select(Revision.revision).where(Revision.id == 1).scalar_subquery().label("table_revision")


def _page(stmt: Select) -> Select:
    """One page of `stmt`, each row followed by the table's revision."""
    return stmt.add_columns(_REVISION_COLUMN).limit(LIMIT).offset(OFFSET)


def _sqlite_isoformat(column):
    """What `isoformat()` writes for one of SQLite's date-times as SQLAlchemy stores them
    ('YYYY-MM-DD HH:MM:SS.ffffff', UTC): a 'T', the fraction only when it is not zero, '+00:00'."""
    fraction = func.substr(column, 21)
    whole = or_(fraction == literal_column("''"), fraction == literal_column("'000000'"))
    return (func.replace(func.substr(column, 1, 19), literal_column("' '"), literal_column("'T'"), type_=String)
            .concat(case((whole, literal_column("''")), else_=literal_column("'.'").concat(fraction)))
            .concat(literal_column("'+00:00'")))


class PageRead:
    """A page of a select of `serialiser`'s columns, read as the JSON array of its rows and the
    table's revision (None for an empty page).

    Elsewhere the rows come back and `RowSerialiser` writes them. On SQLite the page's JSON is
    written by SQLite's own json_object and json_group_array, one result row: each row sqlite3
    steps to lets go of the interpreter lock, and under a threaded server each let-go hands it to
    another thread and back (a page of 20 was 71 context switches a request against 19 for bare
    Flask). json_group_array takes the rows in the order the page's subquery (its ORDER BY and
    LIMIT) hands them over, which SQLite keeps though it does not promise it before 3.44's ORDER
    BY in aggregates: tests/trials/test_queries.py and test_search_index.py check the order of
    the sorts, test_fast_json.py the bytes against the schema's dump."""

    def __init__(self, stmt: Select, serialiser: RowSerialiser, dialect: str):
        self.serialiser = serialiser
        page = _page(stmt)
        if dialect != "sqlite":
            self.json, self.statement = False, DriverStatement(page)
            return
        rows = page.subquery()
        keyed = sorted(zip(serialiser.keys, serialiser.columns, strict=True))
        fields = [part for key, name in keyed for part in (
            literal(key), _sqlite_isoformat(rows.c[name]) if isinstance(Trial.__table__.c[name].type, UTCDateTime)
            else rows.c[name])]
        self.json, self.statement = True, DriverStatement(
            select(func.json_group_array(func.json_object(*fields)), func.max(rows.c.table_revision)))

    def read(self, conn: DriverConnection, params: dict) -> tuple[bytes, int | None]:
        if self.json:
            data, revision = self.statement.first(conn, params)
            return data.encode(), revision
        rows = self.statement.rows(conn, params)
        return self.serialiser.array(rows), rows[0][-1] if rows else None


def _page_read(shape: Hashable, build: Callable[[], Select]) -> PageRead:
    dialect = db.engine.dialect.name
    return _statements.kept((dialect, shape), lambda: PageRead(build(), current_app.extensions["trials_json"], dialect))


def _counted_page(conn: DriverConnection, read: PageRead, params: dict, within: bool,
                  count_at: Callable[[int], int]) -> bytes:
    """A page with its total (`count_at(revision)`, which also answers a page past the end with a
    404), as the response's body. `within`: the total last counted puts the page inside the list,
    so the page is read first and the revision taken with it (see the module's docstring)."""
    if within:
        data, revision = read.read(conn, params)
        count = count_at((_REVISION.scalar(conn) if revision is None else revision) or 0)
    else:
        count = count_at(_REVISION.scalar(conn) or 0)
        data, _revision = read.read(conn, params)
    return page_body(count, data)


def _use_index(filters: dict, count: int | None, everything: int | None, reach: int) -> bool:
    """Whether a search reads its matches through the search index, from the totals last counted.

    Most rows match (e.g. `q=registry`): walking the primary key and testing LIKE finds a page
    after about `reach * everything / count` rows, while the index hands over every match before
    the first row is returned. Take whichever reads fewer (either gives the same rows)."""
    if not filters.get("q") or filters.get("sort", "trial_id") != "trial_id" or not count or everything is None:
        return True
    return count < math.ceil(reach * everything / count)


def _count(conn: DriverConnection, filters: dict, values: dict) -> int:
    """The exact total for `filters` (the order does not change it: one statement for every sort)."""
    shape = ("count", trials.filter_shape({**filters, "sort": "trial_id"}))
    return _statements.get(shape, lambda: counted(trials.filtered_select(shape[1]))).scalar(conn, values)


def _totals() -> Totals:
    return current_app.extensions["trials_totals"]


def filter_key(filters: dict) -> tuple:
    """The filters that decide which trials are counted (not the order, not the page)."""
    return tuple(sorted((name, value) for name, value in filters.items() if name != "sort" and value is not None))


def list_page(filters: dict, page: int, per_page: int) -> bytes:
    """The body of one page of the trials matching `filters`, with their total."""
    values = trials.filter_values(filters)
    totals, key, offset = _totals(), ("list", filter_key(filters)), (page - 1) * per_page
    last = totals.latest(key)
    use_index = _use_index(filters, last, totals.latest(("all",)), offset + per_page)
    shape = ("page", trials.filter_shape(filters, use_index))
    read = _page_read(shape, lambda: trials.filtered_select(shape[1], READ_COLUMNS))
    with DriverConnection(db.engine) as conn:
        def count_at(revision: int) -> int:
            count = totals.get(key, revision, lambda: _count(conn, filters, values))
            if filters.get("q"):  # what the next search's _use_index weighs its total against
                totals.get(("all",), revision, lambda: _EVERYTHING.scalar(conn))
            set_pagination_headers(page, per_page, count)
            return count

        return _counted_page(conn, read, {**values, "page_limit": per_page, "page_offset": offset},
                             last is not None and offset < last, count_at)


def recent_page(include_withdrawn: bool, days: int, page: int, per_page: int) -> bytes:
    """The body of one page of the trials changed within the last `days` (newest first), with their total."""
    since = utcnow() - timedelta(days=days)
    totals, key, offset = _totals(), ("recent", include_withdrawn, days), (page - 1) * per_page
    last = totals.latest(key)
    read = _page_read(("recent", include_withdrawn), lambda: trials.recent_select(include_withdrawn, READ_COLUMNS))
    with DriverConnection(db.engine) as conn:
        def compute() -> tuple[int, datetime | None]:
            def build():
                window = trials.recent_select(include_withdrawn).order_by(None).subquery()
                return select(func.count(), func.min(window.c.updated_at))

            count, oldest = _statements.get(("recent count", include_withdrawn), build).first(conn, {"since": since})
            return count, None if oldest is None else as_utc(oldest)

        def count_at(revision: int) -> int:
            # Still exact while the window's start has not passed the oldest trial counted in it.
            count, _ = totals.get(key, revision, compute, lambda value: value[1] is None or since <= value[1])
            set_pagination_headers(page, per_page, count)
            return count

        return _counted_page(conn, read, {"since": since, "page_limit": per_page, "page_offset": offset},
                             last is not None and offset < last[0], count_at)


def trial_row(trial_id: str):
    """One trial as a row of `trials.TRIAL_COLUMNS`, or None."""
    if "\x00" in trial_id:  # no trial id holds a NUL, and PostgreSQL cannot even compare one
        return None
    with DriverConnection(db.engine) as conn:
        return _BY_ID.first(conn, {"trial_id": trial_id})
