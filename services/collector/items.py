"""Collected community items (posts, reviews, memos, comments) and what analysts do with them:
store (upsert), sample, export.

An item is stored once per (source, kind, external_id): a re-run updates it in place,
never duplicates it. `task_items` links each task to every item it saw, with the labels
that task's rules gave it, so a task's sample and export cover exactly what it collected,
even when an earlier task stored the same post first.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.collector.models import CollectedItemRow, TaskItem, db
from services.collector.connectors.community import CollectedItem
from services.collector.labeling import LabelRules
from shared.csvfile import csv_chunks
from shared.timeutil import utcnow

EXPORT_CHUNK = 500
CSV_COLUMNS = ("source", "kind", "external_id", "category", "author", "created_at", "url", "text", "labels",
               "metrics", "first_seen_at", "updated_at")


def _insert(table):
    return pg_insert(table) if db.engine.dialect.name == "postgresql" else sqlite_insert(table)


def store_items(task_id: str, items: list[CollectedItem], rules: LabelRules | None) -> list[list[str]]:
    """Upsert `items` and link them to the task with their labels; commits. Returns each item's labels."""
    if not items:
        return []
    now = utcnow()
    # One row per key: a comment listed twice in one batch (a platform quirk) must not break the upsert.
    unique = {(i.source, i.kind, i.external_id): i for i in items}
    values = [{"source": i.source, "kind": i.kind, "external_id": i.external_id, "category": i.category,
               "author": i.author, "text": i.text, "created_at": i.created_at, "url": i.url,
               "metrics": i.metrics, "raw": i.raw, "first_seen_at": now, "updated_at": now}
              for i in unique.values()]
    table = CollectedItemRow.__table__
    statement = _insert(table)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["source", "kind", "external_id"],
        set_={column: statement.excluded[column] for column in
              ("category", "author", "text", "created_at", "url", "metrics", "raw", "updated_at")}), values)
    ids = _ids_of(list(unique))
    labels_by_key = {key: (rules.labels_of(item.text) if rules else []) for key, item in unique.items()}
    links = _insert(TaskItem.__table__)
    db.session.execute(links.on_conflict_do_update(
        index_elements=["task_id", "item_id"], set_={"labels": links.excluded.labels}),
        [{"task_id": task_id, "item_id": ids[key], "labels": labels} for key, labels in labels_by_key.items()])
    db.session.commit()
    return [labels_by_key[(i.source, i.kind, i.external_id)] for i in items]


def _ids_of(keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    ids = {}
    for source in {k[0] for k in keys}:
        external_ids = [k[2] for k in keys if k[0] == source]
        rows = db.session.execute(select(CollectedItemRow.id, CollectedItemRow.kind, CollectedItemRow.external_id)
                                  .where(CollectedItemRow.source == source,
                                         CollectedItemRow.external_id.in_(external_ids)))
        ids.update({(source, kind, external_id): item_id for item_id, kind, external_id in rows})
    return ids


def _task_items(task_id: str):
    return (select(CollectedItemRow, TaskItem.labels).join(TaskItem, TaskItem.item_id == CollectedItemRow.id)
            .where(TaskItem.task_id == task_id))


def count_items(task_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(TaskItem).where(TaskItem.task_id == task_id)) or 0


def sample(task_id: str, size: int) -> list[dict]:
    """`size` items the task collected so far, chosen at random (fresh on every call)."""
    rows = db.session.execute(_task_items(task_id).order_by(func.random()).limit(size))
    return [as_record(item, labels) for item, labels in rows]


def iter_items(task_id: str) -> Iterator[dict]:
    """Every item of the task in a stable order, read in chunks (keyset paging on the id)."""
    last_id = 0
    while True:
        rows = db.session.execute(_task_items(task_id).where(CollectedItemRow.id > last_id)
                                  .order_by(CollectedItemRow.id).limit(EXPORT_CHUNK)).all()
        if not rows:
            return
        for item, labels in rows:
            yield as_record(item, labels)
        last_id = rows[-1][0].id


def as_record(item: CollectedItemRow, labels: list | None) -> dict:
    return {"source": item.source, "kind": item.kind, "external_id": item.external_id, "category": item.category,
            "author": item.author, "text": item.text, "created_at": item.created_at.isoformat(), "url": item.url,
            "labels": list(labels or []), "metrics": item.metrics or {}, "raw": item.raw or {},
            "first_seen_at": item.first_seen_at.isoformat(), "updated_at": item.updated_at.isoformat()}


def jsonl_lines(records: Iterable[dict]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def csv_lines(records: Iterable[dict]) -> Iterator[str]:
    """CSV with a header; labels ';'-joined, metrics as JSON, raw left out (it is in the JSONL export)."""
    return csv_chunks(CSV_COLUMNS, ([";".join(record["labels"]) if column == "labels"
                                     else json.dumps(record["metrics"], ensure_ascii=False) if column == "metrics"
                                     else record[column] for column in CSV_COLUMNS] for record in records))
