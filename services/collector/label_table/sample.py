"""`GET .../task/{id}/sample` for a label_table task (dispatched from api_items.py).

The labeled rows live in the user's database, not in our item store: while the task runs the
sample is drawn from its staging table, once it has completed from the output table (a
cancelled or failed task has none). Each row comes with the text it was labeled from,
read back from the input table by id, so an analyst can judge the rules at a glance.
A task no worker has started yet has labeled nothing: its sample is empty without asking
the database (which may not be reachable, or not yet).

The read runs on an API thread, so it is bounded twice: COLLECTOR_SAMPLE_TIMEOUT for each of
its connect, reads and statements, and at most COLLECTOR_SAMPLE_CONCURRENCY such reads per API
process at once (one more is a 503 at once), so a database that never answers cannot hold every
thread and take /health and the rest of the API down with it.
"""
from __future__ import annotations

import json
import threading

from flask import current_app
from flask_smorest import abort
from sqlalchemy import func, select

from services.collector.errors import SealingUnavailable, SourceError
from services.collector.label_table import databases, staging
from services.collector.label_table.spec import SEALED_JOB, Job
from services.collector.models import COMPLETED, Task
from services.collector.schemas import LabelTableSampleSchema
from services.collector.sealing import unseal

SOURCE = "label_table"
SLOTS = "collector_sample_slots"
BUSY_MESSAGE = "Too many samples of external databases are being read right now; retry in a few seconds."


def _slots(app) -> threading.BoundedSemaphore:
    return app.extensions.setdefault(SLOTS, threading.BoundedSemaphore(app.config["COLLECTOR_SAMPLE_CONCURRENCY"]))


def sample_response(task: Task, size: int):
    return current_app.json.response(LabelTableSampleSchema().dump(sample_of(task, size)))


def sample_of(task: Task, size: int) -> dict:
    """The sample's body: {task_id, status, table, count, data}; aborts 502/503 when it cannot be read
    (the labeling task API's result_sample answers the same rows in its own envelope)."""
    if task.started_at is None:  # pending, or cancelled before it started: no staging table, no output
        return _body(task, staging.staging_name(task.id), 0, [])
    try:
        job = Job.from_sealed(unseal(current_app.config, task.secrets_sealed)[SEALED_JOB])
    except SealingUnavailable as exc:
        abort(503, message=str(exc))
    table = job.output_table if task.status == COMPLETED else staging.staging_name(task.id)
    slots = _slots(current_app)
    if not slots.acquire(blocking=False):
        abort(503, message=BUSY_MESSAGE)
    try:
        count, rows = _labeled_rows(job, table, size)
        _add_texts(job, rows)
    except Exception as exc:  # the user's database is unreachable, refused or changed: say so
        scrub = databases.Scrubber(job.passwords)
        said = str(exc).rsplit(": ", 1)[-1] if isinstance(exc, SourceError) else databases.reason(exc)
        abort(502, message=scrub(f"Cannot read the sample from {databases.where(job.output_url)}: {said}"))
    finally:
        slots.release()
    return _body(task, table, count, rows)


def _body(task: Task, table: str, count: int, rows: list[dict]) -> dict:
    return {"task_id": task.id, "status": task.status, "table": table, "count": count, "data": rows}


def _labeled_rows(job: Job, name: str, size: int) -> tuple[int, list[dict]]:
    engine = databases.open_engine(job.output_url, current_app.config, one_shot=True, sample=True)
    try:
        with engine.connect() as connection:
            if not staging.exists(connection, name):
                return 0, []
            table = databases.reflect_table(connection, name)
            count = connection.scalar(select(func.count()).select_from(table))
            picked = connection.execute(select(table.c.id, table.c.labels, table.c.matched_terms, table.c.labeled_at)
                                        .order_by(func.random()).limit(size)).all()
    finally:
        engine.dispose()
    return count, [{"id": row_id, "labels": _json(labels), "matched_terms": _json(terms),
                    "labeled_at": at.isoformat() if hasattr(at, "isoformat") else str(at)}
                   for row_id, labels, terms, at in picked]


def _json(value):
    # MariaDB's JSON is LONGTEXT underneath: reflected as text, it comes back as a string.
    return json.loads(value) if isinstance(value, str) else value


def _add_texts(job: Job, rows: list[dict]) -> None:
    for row in rows:
        row.update(text=None, author=None, time=None)
    if not rows:
        return
    engine = databases.open_engine(job.input_url, current_app.config, one_shot=True, sample=True)
    try:
        with engine.connect() as connection:
            table = databases.reflect_table(connection, job.table)
            id_column = databases.column_of(table, job.id_column, "id_column")
            columns = [id_column, databases.column_of(table, job.text_column, "text_column"),
                       databases.column_of(table, job.time_column, "time_column")]
            if job.author_column:
                columns.append(databases.column_of(table, job.author_column, "author_column"))
            found = {str(values[0]): values[1:] for values in connection.execute(
                select(*columns).where(id_column.in_([row["id"] for row in rows])))}
    finally:
        engine.dispose()
    for row in rows:
        values = found.get(str(row["id"]))
        if values:
            text, at, *author = values
            row.update(text=text, time=at.isoformat() if hasattr(at, "isoformat") else at,
                       author=author[0] if author else None)
