"""The trials domain: upserting records with change tracking, snapshots, queries.

Views, the `pull` command and the benchmarks all go through these functions.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from services.trials.models import (
    CONTENT_FIELDS, POSTGRES_LOWER_COLUMNS, SQLITE_SEARCH_ROWIDS, SQLITE_SEARCH_TABLE, Revision, Snapshot, Trial,
    TrialChange, db,
)
from services.trials.records import RecordError, normalise_record, record_id
from shared.csvfile import csv_chunks
from shared.db import take_write_lock
from shared.timeutil import as_utc, utcnow

# Keep IN (...) lists well under every backend's bound-parameter limit.
ID_CHUNK = 900
# The columns of an export, in order (CSV header, JSON lines keys).
EXPORT_COLUMNS = ("trial_id", *CONTENT_FIELDS, "created_at", "updated_at", "withdrawn_at")
# What list pages and exports read: plain rows of these columns, not ORM objects (nothing changes them).
TRIAL_COLUMNS = tuple(Trial.__table__.c[name] for name in EXPORT_COLUMNS)
# The trigram index finds substrings of at least this many characters; shorter ones are a LIKE scan.
TRIGRAM = 3


class SnapshotError(Exception):
    """A snapshot cannot take this operation (unknown, already completed, too small)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass
class BatchResult:
    snapshot_id: str | None = None
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    withdrawn: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def bump_revision() -> None:
    """Mark the table changed, in the caller's transaction (see `Revision`)."""
    if not db.session.execute(update(Revision).where(Revision.id == 1)
                              .values(revision=Revision.revision + 1)).rowcount:
        db.session.add(Revision(id=1, revision=1))  # a database built by create_all rather than migrated


def content_hash(content: dict) -> str:
    return hashlib.sha256(json.dumps([content[f] for f in CONTENT_FIELDS], ensure_ascii=False).encode()).hexdigest()


def validate_records(records: list, result: BatchResult) -> dict[str, dict]:
    """Valid records by trial_id; the rest are added to `result.rejected` with the reason."""
    valid: dict[str, dict] = {}
    for index, raw in enumerate(records):
        try:
            record = normalise_record(raw)
        except RecordError as exc:
            result.rejected.append({"index": index, "trial_id": record_id(raw), "reason": str(exc)})
            continue
        trial_id = record.pop("trial_id")
        if trial_id in valid:
            result.rejected.append({"index": index, "trial_id": trial_id,
                                    "reason": "trial_id appears earlier in the same batch"})
            continue
        valid[trial_id] = record
    return valid


def _chunks(items: list, size: int = ID_CHUNK) -> Iterator[list]:
    """Id lists small enough for SQLite's bound-parameter limit; PostgreSQL takes one array."""
    if db.engine.dialect.name == "postgresql":
        size = max(size, len(items))
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _id_in(ids: list[str]):
    """`trial_id IN ids`: one array parameter on PostgreSQL instead of thousands of placeholders."""
    if db.engine.dialect.name == "postgresql":
        return Trial.trial_id == any_(bindparam("ids", ids, type_=ARRAY(String)))
    return Trial.trial_id.in_(ids)


def _snapshot_order(snapshot: Snapshot):
    """Snapshots are ordered by when their first batch arrived, ties by id."""
    return tuple_(Snapshot.started_at, Snapshot.snapshot_id), (snapshot.started_at, snapshot.snapshot_id)


def _older_snapshots(snapshot: Snapshot, snapshot_ids: set[str | None]) -> set[str]:
    """Those of `snapshot_ids` that name a snapshot started before `snapshot`."""
    snapshot_ids = {i for i in snapshot_ids if i is not None and i != snapshot.snapshot_id}
    if not snapshot_ids:
        return set()
    order, this = _snapshot_order(snapshot)
    return set(db.session.scalars(select(Snapshot.snapshot_id).where(Snapshot.snapshot_id.in_(snapshot_ids),
                                                                      order < this)))


def _open_snapshot(snapshot_id: str, now: datetime) -> Snapshot:
    snapshot = db.session.get(Snapshot, snapshot_id)
    if snapshot is None:
        snapshot = Snapshot(snapshot_id=snapshot_id, started_at=now, received=0, created=0, updated=0,
                            unchanged=0, rejected=0, withdrawn=0)
        db.session.add(snapshot)
    elif snapshot.completed_at is not None:
        raise SnapshotError(f"Snapshot {snapshot_id} was completed at {snapshot.completed_at.isoformat()}; "
                            "start a new snapshot id.", 409)
    return snapshot


def upsert_records(records: list, snapshot_id: str | None = None, now: datetime | None = None) -> BatchResult:
    """Create, update or leave each record; `updated_at` moves only when the content changes.
    The caller commits."""
    now = now or utcnow()
    result = BatchResult(snapshot_id=snapshot_id, received=len(records))
    take_write_lock(db.session)
    snapshot = _open_snapshot(snapshot_id, now) if snapshot_id else None
    valid = validate_records(records, result)
    ids = list(valid)

    # Plain rows, not ORM objects: they are only compared; the bulk statements below write.
    # Locked, in trial id order, before anything is compared: a concurrent load of the same trials
    # then waits and compares against what that load committed, and two loads (or a load and a
    # snapshot's withdrawal) that lock in one order cannot deadlock.
    columns = [Trial.trial_id, Trial.content_hash, Trial.withdrawn_at, Trial.last_snapshot_id,
               *(getattr(Trial, f) for f in CONTENT_FIELDS)]
    existing = {}
    for chunk in _chunks(sorted(ids)):
        query = select(*columns).where(_id_in(chunk)).order_by(Trial.trial_id).with_for_update()
        for row in db.session.execute(query):
            existing[row.trial_id] = row
    # A trial's last snapshot only ever moves to a newer one: an older snapshot still loading
    # must not take back trials a newer one has seen (see `complete_snapshot`).
    older = _older_snapshots(snapshot, {row.last_snapshot_id for row in existing.values()}) if snapshot else set()

    def last_snapshot(current: str | None) -> str | None:
        return snapshot_id if snapshot_id and (current is None or current in older) else current

    new_rows, changed_rows, history, unchanged_ids, claimed_ids = [], [], [], [], []
    for trial_id, content in sorted(valid.items()):  # writes in lock order too
        digest = content_hash(content)
        trial = existing.get(trial_id)
        if trial is None:
            new_rows.append({"trial_id": trial_id, **content, "content_hash": digest, "created_at": now,
                             "updated_at": now, "withdrawn_at": None, "last_snapshot_id": snapshot_id})
            history.append({"trial_id": trial_id, "changed_at": now, "kind": "created", "snapshot_id": snapshot_id,
                            "changes": [{"field": f, "old": None, "new": v}
                                        for f, v in content.items() if v is not None]})
        elif trial.content_hash != digest:
            old = {f: getattr(trial, f) for f in CONTENT_FIELDS}
            changed_rows.append({"trial_id": trial_id, **content, "content_hash": digest, "updated_at": now,
                                 "withdrawn_at": None, "last_snapshot_id": last_snapshot(trial.last_snapshot_id)})
            history.append({"trial_id": trial_id, "changed_at": now, "kind": "updated", "snapshot_id": snapshot_id,
                            "changes": [{"field": f, "old": old[f], "new": content[f]}
                                        for f in CONTENT_FIELDS if old[f] != content[f]]})
        else:
            unchanged_ids.append(trial_id)
            if last_snapshot(trial.last_snapshot_id) != trial.last_snapshot_id:
                claimed_ids.append(trial_id)
            if trial.withdrawn_at is not None:
                result.restored += 1
                history.append({"trial_id": trial_id, "changed_at": now, "kind": "restored",
                                "snapshot_id": snapshot_id, "changes": []})

    if new_rows:
        db.session.execute(insert(Trial), new_rows)
    if changed_rows:
        db.session.execute(update(Trial), changed_rows)
    restored_ids = [h["trial_id"] for h in history if h["kind"] == "restored"]
    for chunk in _chunks(restored_ids):
        db.session.execute(update(Trial).where(_id_in(chunk)).values(withdrawn_at=None))
    for chunk in _chunks(claimed_ids):
        db.session.execute(update(Trial).where(_id_in(chunk)).values(last_snapshot_id=snapshot_id)
                           .execution_options(synchronize_session=False))
    if history:
        db.session.execute(insert(TrialChange), history)
    if new_rows or changed_rows or restored_ids:
        bump_revision()

    result.created, result.updated, result.unchanged = len(new_rows), len(changed_rows), len(unchanged_ids)
    if snapshot is not None:
        snapshot.received += result.received
        snapshot.created += result.created
        snapshot.updated += result.updated
        snapshot.unchanged += result.unchanged
        snapshot.rejected += len(result.rejected)
    return result


def store_batch(records: list, snapshot_id: str | None = None) -> BatchResult:
    """`upsert_records` and commit. When a concurrent load inserted one of the same new
    trials (or opened the same snapshot) first, the insert fails on the primary key: the
    batch is then redone once, and now sees those rows as existing."""
    for attempt in (1, 2):
        try:
            result = upsert_records(records, snapshot_id)
            db.session.commit()
            return result
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def complete_snapshot(snapshot_id: str, force: bool = False, min_ratio: float = 0.5,
                      now: datetime | None = None) -> Snapshot:
    """Withdraw every active trial that neither this snapshot nor one started after it holds.

    Snapshots may overlap (a scheduled pull and a manual one): an older one completing last
    leaves alone what a newer one has seen, and a newer one is not held back by an older one.
    Completing twice is harmless."""
    now = now or utcnow()
    take_write_lock(db.session)
    # A snapshot id never holds a NUL (the batch refuses one), and PostgreSQL cannot even compare it.
    snapshot = None if "\x00" in snapshot_id else db.session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise SnapshotError(f"Snapshot {snapshot_id} is unknown: send its batches first.", 404)
    if snapshot.completed_at is not None:
        return snapshot
    active = Trial.withdrawn_at.is_(None)
    order, this = _snapshot_order(snapshot)
    held_here = Trial.last_snapshot_id.in_(select(Snapshot.snapshot_id).where(order >= this))
    missing = and_(active, or_(Trial.last_snapshot_id.is_(None), ~held_here))
    active_count = db.session.scalar(select(func.count()).where(active))
    held = db.session.scalar(select(func.count()).where(active, held_here))
    if not force and active_count and held < min_ratio * active_count:
        raise SnapshotError(
            f"Snapshot {snapshot_id} holds {held} of {active_count} active trials, under the safety ratio "
            f"{min_ratio}; completing it would withdraw the rest. Pass force=true if that is intended.", 409)
    # Locked in trial id order, as a batch locks its trials: see `upsert_records`.
    withdrawn_ids = list(db.session.scalars(
        select(Trial.trial_id).where(missing).order_by(Trial.trial_id).with_for_update()))
    for chunk in _chunks(withdrawn_ids):
        db.session.execute(update(Trial).where(_id_in(chunk)).values(withdrawn_at=now)
                           .execution_options(synchronize_session=False))
    if withdrawn_ids:
        db.session.execute(insert(TrialChange), [
            {"trial_id": trial_id, "changed_at": now, "kind": "withdrawn", "snapshot_id": snapshot_id, "changes": []}
            for trial_id in withdrawn_ids])
        bump_revision()
    snapshot.withdrawn = len(withdrawn_ids)
    snapshot.completed_at = now
    return snapshot


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_mode(q: str, use_index: bool) -> str:
    """"index" (SQLite: the trigram table narrows, then LIKE), "like" (SQLite: LIKE alone) or
    "ilike" (PostgreSQL: ILIKE over the stored lower() columns, which its pg_trgm indexes serve)."""
    if db.engine.dialect.name != "sqlite":
        return "ilike"
    return "index" if use_index and len(q) >= TRIGRAM else "like"


def _text_clause(mode: str):
    """`q` (the parameter `q_like`, its LIKE pattern) as a case-insensitive substring of title,
    institution or department, with LIKE semantics.

    On SQLite the trigram FTS5 table (the parameter `q_phrase`) narrows the rows first: its case
    folding covers more than LIKE's ASCII-only one, so it never misses a LIKE match, and LIKE then
    decides, so the answer is LIKE's exactly. SQLite's LIKE is itself case-insensitive for ASCII
    and exact beyond it, which is all its lower() folds: `x LIKE p` answers what SQLAlchemy's
    ILIKE (`lower(x) LIKE lower(p)`) does, a third faster on a page of a common word
    (tests/trials/test_search_index.py holds them to the same answers). On PostgreSQL, ILIKE on a
    UTF-8 database is `lower(x) LIKE lower(p)` by definition, and lowering every row's text at
    every test was most of a search's time: each column's lower() is stored beside it
    (models.py), so only the pattern is lowered, once; the planner takes those columns' pg_trgm
    GIN indexes by itself. "like" leaves SQLite to scan in the requested order: cheaper for a page
    when most rows match (see `services/trials/reads.py`)."""
    pattern = bindparam("q_like", type_=String)
    if mode == "ilike":
        lowered = func.lower(pattern)
        return or_(*(literal_column(f"trials.{name}").like(lowered, escape="\\") for name in POSTGRES_LOWER_COLUMNS))
    columns = (Trial.title, Trial.institution, Trial.department)
    like = or_(*(column.like(pattern, escape="\\") for column in columns))
    if mode == "like":
        return like
    # The index's rowids are its own (see models.py), mapped to trial ids by SQLITE_SEARCH_ROWIDS.
    table, rowids = SQLITE_SEARCH_TABLE, SQLITE_SEARCH_ROWIDS
    indexed = text(f"trials.trial_id IN (SELECT trial_id FROM {rowids} WHERE id IN "
                   f"(SELECT rowid FROM {table} WHERE {table} MATCH :q_phrase))")
    return and_(indexed.bindparams(bindparam("q_phrase", type_=String)), like)


EXACT_FILTERS = ("department", "phase", "study_type", "scope", "institution")


def filter_shape(args: dict, use_index: bool = True) -> tuple:
    """What decides the SQL of `filtered_select` (never a value): which filters, the search path, the order.

    The reads keep one statement per shape (services/trials/reads.py), so two requests that differ
    only in their values run the same statement with other parameters."""
    return (bool(args.get("include_withdrawn")),
            _search_mode(args["q"], use_index) if args.get("q") else None,
            tuple(name for name in EXACT_FILTERS if args.get(name)),
            args.get("min_subjects") is not None, args.get("max_subjects") is not None,
            bool(args.get("updated_since")), args.get("sort", "trial_id"))


def filter_values(args: dict) -> dict:
    """The parameters of `filtered_select` for `args`, by bind name."""
    values = {}
    if args.get("q"):
        values["q_like"] = _like_pattern(args["q"])
        values["q_phrase"] = '"' + args["q"].replace('"', '""') + '"'
    for name in EXACT_FILTERS:
        if args.get(name):
            values[name] = args[name].lower()
    for name in ("min_subjects", "max_subjects"):
        if args.get(name) is not None:
            values[name] = args[name]
    if args.get("updated_since"):
        values["updated_since"] = as_utc(args["updated_since"])
    return values


def filtered_select(shape: tuple, columns=TRIAL_COLUMNS) -> Select:
    """The trials matching filters of this shape (`filter_shape`), in the requested stable order;
    the values are bound parameters named as `filter_values` names them."""
    include_withdrawn, search, exact, has_min, has_max, has_since, sort = shape
    stmt = select(*columns)
    if not include_withdrawn:
        stmt = stmt.where(Trial.withdrawn_at.is_(None))
    if search:
        stmt = stmt.where(_text_clause(search))
    for name in exact:
        stmt = stmt.where(func.lower(getattr(Trial, name)) == bindparam(name, type_=String))
    if has_min:
        stmt = stmt.where(Trial.target_subjects >= bindparam("min_subjects", type_=Integer))
    if has_max:
        stmt = stmt.where(Trial.target_subjects <= bindparam("max_subjects", type_=Integer))
    if has_since:
        stmt = stmt.where(Trial.updated_at >= bindparam("updated_since", type_=Trial.updated_at.type))
    return stmt.order_by(*order_by(sort))


def filtered_trials(args: dict, use_index: bool = True) -> Select:
    """The trials matching the list filters, in the requested stable order (values bound in)."""
    return filtered_select(filter_shape(args, use_index)).params(filter_values(args))


def order_by(sort: str) -> list:
    descending = sort.startswith("-")
    column = getattr(Trial, sort.lstrip("-"))
    primary = column.desc() if descending else column.asc()
    if column is Trial.trial_id:
        return [primary]
    return [primary.nulls_last(), Trial.trial_id.asc()]


def recent_select(include_withdrawn: bool = False, columns=TRIAL_COLUMNS) -> Select:
    """Trials whose content changed since the bound parameter `since`, newest first."""
    stmt = select(*columns).where(Trial.updated_at >= bindparam("since", type_=Trial.updated_at.type))
    if not include_withdrawn:
        stmt = stmt.where(Trial.withdrawn_at.is_(None))
    return stmt.order_by(Trial.updated_at.desc(), Trial.trial_id.asc())


def history_of(trial_id: str) -> Select:
    return select(TrialChange).where(TrialChange.trial_id == trial_id).order_by(TrialChange.id.desc())


def iter_rows(stmt: Select, batch: int = 1000) -> Iterable:
    """Stream rows without loading the whole result."""
    yield from db.session.execute(stmt.execution_options(yield_per=batch))


def export_record(trial) -> dict:
    """A trial as the export writes it: the export columns, times in ISO 8601."""
    values = ((column, getattr(trial, column)) for column in EXPORT_COLUMNS)
    return {column: value.isoformat() if hasattr(value, "isoformat") else value for column, value in values}


def export_csv(stmt: Select) -> Iterator[str]:
    """The trials of `stmt` as CSV text with a header row, in chunks."""
    records = (export_record(trial) for trial in iter_rows(stmt))
    return csv_chunks(EXPORT_COLUMNS, ([record[c] for c in EXPORT_COLUMNS] for record in records))


def export_jsonl(stmt: Select) -> Iterator[str]:
    """The trials of `stmt` as JSON lines, one trial a line."""
    for trial in iter_rows(stmt):
        yield json.dumps(export_record(trial), ensure_ascii=False) + "\n"


def load_snapshot(pages: Iterable[list[dict]], snapshot_id: str, force: bool = False,
                  min_ratio: float = 0.5) -> tuple[BatchResult, Snapshot]:
    """Upsert every page as one snapshot (a commit per page), then complete it."""
    total = BatchResult(snapshot_id=snapshot_id)
    for records in pages:
        result = store_batch(records, snapshot_id)
        for name in ("received", "created", "updated", "unchanged", "restored"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.rejected.extend(result.rejected)
    snapshot = commit_snapshot(snapshot_id, force=force, min_ratio=min_ratio)
    total.withdrawn = snapshot.withdrawn
    return total, snapshot


def commit_snapshot(snapshot_id: str, force: bool = False, min_ratio: float = 0.5) -> Snapshot:
    """`complete_snapshot` and commit; then give PostgreSQL's planner the table's new shape now,
    not at autovacuum's next turn: until then a freshly loaded table looks empty, and a list
    page sorts every row."""
    snapshot = complete_snapshot(snapshot_id, force=force, min_ratio=min_ratio)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE trials"))
        db.session.commit()
    return snapshot
