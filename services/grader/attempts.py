"""The attempts domain: validating a batch, storing it in bulk without duplicates, queries.

The batch endpoint, the CLI and the benchmark all go through `load_batch`. Validation is
hand-written rather than a marshmallow schema per record: a daily load is millions of rows
and the per-record cost of a schema would dominate it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Select, select

from services.grader.models import ATTEMPT_COLUMNS, NATURAL_KEY, Attempt, db
from shared.connectors.grader import (
    ATTEMPT_TYPES,
    RecordRejected,
    course_and_block,
    normalize_record,
    parse_created_at,
    parse_is_correct,
)
from shared.text import UNSTORABLE

TEXT_LIMITS = {"user_id": 128, "oauth_consumer_key": 255, "lis_result_sourcedid": 2000,
               "lis_outcome_service_url": 2000}


@dataclass
class BatchResult:
    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _text(record: dict, key: str, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise RecordRejected(f"{key} is missing")
        return None
    if not isinstance(value, str):
        raise RecordRejected(f"{key} must be a string")
    if unstorable := UNSTORABLE.search(value):
        what = "a NUL character" if unstorable[0] == "\x00" else "an unpaired surrogate"
        raise RecordRejected(f"{key} contains {what}")
    if len(value) > TEXT_LIMITS[key]:
        raise RecordRejected(f"{key} is longer than {TEXT_LIMITS[key]} characters")
    return value


def validate_attempt(record) -> tuple:
    """One record (our attempt shape, or the upstream's raw shape with `passback_params`)
    as a row in ATTEMPT_COLUMNS order, created_at an aware UTC datetime."""
    try:
        return _attempt_row(record)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00: its offset moves it out of range in UTC
        raise RecordRejected("created_at lies outside years 1 to 9999 in UTC") from None


def _attempt_row(record) -> tuple:
    if not isinstance(record, dict):
        raise RecordRejected("a record must be a JSON object")
    if "passback_params" in record or "lti_user_id" in record:
        record = normalize_record(record)
    user_id = _text(record, "user_id", required=True).strip()
    if not user_id:
        raise RecordRejected("user_id is empty")
    attempt_type = record.get("attempt_type")
    if attempt_type not in ATTEMPT_TYPES:
        raise RecordRejected(f"attempt_type must be run or submit, got {attempt_type!r}")
    is_correct = parse_is_correct(attempt_type, record.get("is_correct"))
    created_at = record.get("created_at")
    if not isinstance(created_at, datetime):
        created_at = parse_created_at(created_at)
    elif created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    sourcedid = _text(record, "lis_result_sourcedid")
    course_id, block_id = course_and_block(sourcedid)
    return (user_id, _text(record, "oauth_consumer_key"), sourcedid, _text(record, "lis_outcome_service_url"),
            is_correct, attempt_type, created_at, course_id, block_id)


def validate_batch(records: list, result: BatchResult) -> list[tuple]:
    rows = []
    for index, record in enumerate(records):
        try:
            rows.append(validate_attempt(record))
        except RecordRejected as exc:
            result.rejected.append({"index": index, "reason": str(exc)})
    return rows


def load_batch(records: list) -> BatchResult:
    """Validate and store a batch in the session's transaction (the caller commits).
    A record already stored (same natural key) is counted as a duplicate, not an error."""
    result = BatchResult(received=len(records))
    rows = validate_batch(records, result)
    result.inserted = store_rows(rows)
    result.duplicates = len(rows) - result.inserted
    return result


def store_rows(rows: list[tuple]) -> int:
    """Insert rows (ATTEMPT_COLUMNS order) that are not stored yet; returns how many were new."""
    if not rows:
        return 0
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return _store_postgres(connection.connection.driver_connection, rows)
    return _store_sqlite(connection.connection.driver_connection, rows)


_COLUMNS_SQL = ", ".join(ATTEMPT_COLUMNS)
_STAGING_TYPES = ["text", "text", "text", "text", "bool", "text", "timestamptz", "text", "text"]


_CREATED = ATTEMPT_COLUMNS.index("created_at")
_KEY_POSITIONS = tuple(ATTEMPT_COLUMNS.index(column) for column in NATURAL_KEY)


def _first_of_each_key(rows: list[tuple]) -> list[tuple]:
    seen, unique = set(), []
    for row in rows:
        key = tuple(row[i] for i in _KEY_POSITIONS)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _copy_rows(cursor, table: str, rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({_COLUMNS_SQL}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_STAGING_TYPES)
        for row in rows:
            copy.write_row(row)


def _store_postgres(conn, rows: list[tuple]) -> int:
    """Binary COPY straight into `attempts` when nothing is stored in the batch's time span yet
    (the usual first load of a window); otherwise, or if a concurrent load got there first,
    COPY into a temporary staging table and one INSERT ... SELECT ... ON CONFLICT DO NOTHING."""
    unique = _first_of_each_key(rows)
    with conn.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM attempts WHERE created_at BETWEEN %s AND %s)",
                       (min(r[_CREATED] for r in unique), max(r[_CREATED] for r in unique)))
        if not cursor.fetchone()[0]:
            try:
                with conn.transaction():  # a savepoint: a unique violation undoes this COPY only
                    _copy_rows(cursor, "attempts", unique)
                return len(unique)
            except psycopg.errors.UniqueViolation:
                pass  # another loader stored some of these rows meanwhile: take the slower, safe path
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS attempts_staging ("
            "user_id text, oauth_consumer_key text, lis_result_sourcedid text, lis_outcome_service_url text, "
            "is_correct boolean, attempt_type text, created_at timestamptz, course_id text, block_id text"
            ") ON COMMIT DELETE ROWS")
        cursor.execute("TRUNCATE attempts_staging")
        _copy_rows(cursor, "attempts_staging", unique)
        cursor.execute(f"INSERT INTO attempts ({_COLUMNS_SQL}) SELECT {_COLUMNS_SQL} FROM attempts_staging "
                       f"ON CONFLICT ({', '.join(NATURAL_KEY)}) DO NOTHING")
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE attempts_staging")
        return inserted


def _sqlite_timestamp(value: datetime) -> str:
    """As SQLAlchemy's SQLite DateTime stores it: `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the year in 4 digits
    (strftime's %Y writes year 1 as "1", which SQLAlchemy then cannot read back)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _store_sqlite(conn, rows: list[tuple]) -> int:
    """executemany of INSERT OR IGNORE; SQLite counts the rows actually inserted."""
    prepared = [(*row[:_CREATED], _sqlite_timestamp(row[_CREATED]), *row[_CREATED + 1:]) for row in rows]
    cursor = conn.cursor()
    try:
        cursor.executemany(f"INSERT OR IGNORE INTO attempts ({_COLUMNS_SQL}) "
                           f"VALUES ({', '.join('?' * len(ATTEMPT_COLUMNS))})", prepared)
        return cursor.rowcount
    finally:
        cursor.close()


def filtered_attempts(args: dict) -> Select:
    """Attempts matching the GET /attempts filters, oldest first (id breaks ties)."""
    stmt = select(Attempt)
    for key in ("user_id", "course_id", "attempt_type", "is_correct"):
        if args.get(key) is not None:
            stmt = stmt.where(getattr(Attempt, key) == args[key])
    if args.get("start") is not None:
        stmt = stmt.where(Attempt.created_at >= args["start"])
    if args.get("end") is not None:
        stmt = stmt.where(Attempt.created_at < args["end"])
    return stmt.order_by(Attempt.created_at, Attempt.id)
