"""The body of a label_table task: count the rows in range, label them chunk by chunk into a
staging table, optionally write the production table from it (the labeling task API's
dump_result stage), then swap both into place in one atomic step.

Reading, labeling and writing overlap (pipeline.py): a reader thread reads chunks of the rows in id order,
this thread has them labeled (labeler.py: in the worker's labeling process from
COLLECTOR_LABEL_TABLE_PROCESS_ROWS rows on, else here), a writer thread writes them to the staging table
(COPY on PostgreSQL, multi-row INSERTs elsewhere), with at most PIPELINE_DEPTH chunks waiting at each
hand-over, so memory is a few chunks whatever the table. From PostgreSQL and MySQL/MariaDB the rows come on
a server-side cursor; from SQLite, and when the job is paced, by keyset paging (`id > last ORDER BY id
LIMIT n`, one short query per chunk), so no long-lived read blocks a SQLite writer (databases.read_chunks).
The last id written is saved (ctx.save_state) with the counts and the progress after the first chunk, then
at most every RECORD_SECONDS, at the end and on a failure, only ever past chunks that are written, so a
re-run after a lost worker resumes there, on the same staging table.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.types import Integer

from services.collector.config import DEFAULT_LABEL_TABLE_CHUNK_ROWS
from services.collector.errors import SourceError, TaskCancelled, TaskLost
from services.collector.label_table import databases, labeler, staging
from services.collector.label_table.pipeline import Pipeline
from services.collector.label_table.spec import Job
from services.collector.labeling import LabelStats, compile_rules
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
# Chunks waiting at each hand-over (read -> label, label -> write): enough to keep every stage busy.
PIPELINE_DEPTH = 2
# How often the task row hears of the written chunks (the resume point, the counts, the progress: three
# commits), besides after the first chunk and at the end: not after every chunk.
RECORD_SECONDS = 0.5


@dataclass
class LabeledChunk:
    rows: staging.LabeledRows
    last_id: object
    labeled: int
    per_label: dict[str, int]

    @property
    def items(self) -> int:
        return len(self.rows.ids)


class LabelingJob:
    def __init__(self, ctx, job: Job):
        self.ctx = ctx
        self.job = job
        self.rules = compile_rules(job.rules)
        self.chunk_rows = int(ctx.config.get("COLLECTOR_LABEL_TABLE_CHUNK_ROWS", DEFAULT_LABEL_TABLE_CHUNK_ROWS))
        self.scrub = databases.Scrubber(job.passwords)
        self.staging_name = staging.staging_name(ctx.task_id)
        self.staging_made = False
        self.production_name = staging.production_staging_name(ctx.task_id)
        self.production_made = False

    def run(self) -> dict:
        config = self.ctx.config
        reader = databases.open_engine(self.job.input_url, config)
        writer = reader if self.job.output_url == self.job.input_url \
            else databases.open_engine(self.job.output_url, config)
        try:
            return self._label(reader, writer)
        except TaskLost:
            raise                  # another attempt owns the staging table now: leave it alone
        except TaskCancelled:
            self._drop_staging(writer)
            raise
        except SourceError as exc:   # our own words, but they may quote the driver's
            self._drop_staging(writer)
            raise SourceError(self.scrub(str(exc))) from None
        except Exception as exc:  # the user's database failed: say why, without the password
            self._drop_staging(writer)
            raise SourceError(self.scrub(f"{type(exc).__name__}: {databases.explain(exc)}")) from None
        finally:
            reader.dispose()
            writer.dispose()

    def _label(self, reader, writer) -> dict:
        job = self.job
        with databases.connect(reader, "input") as connection:
            table = databases.reflect_table(connection, job.table)
        id_column = databases.column_of(table, job.id_column, "id_column")
        text_column = databases.column_of(table, job.text_column, "text_column")
        author = databases.column_of(table, job.author_column, "author_column") if job.author_column else None
        time_column = databases.column_of(table, job.time_column, "time_column")
        # A row without an id cannot be written (the id is the output's key) nor paged past: left out.
        in_range = and_(databases.in_time_range(time_column, reader.dialect.name, job.start, job.end),
                        id_column.is_not(None))
        databases.connect(writer, "output").close()
        target = staging.staging_table(self.staging_name, isinstance(id_column.type, Integer))
        state, authors = self._prepare(reader, writer, target, table, in_range, author)
        try:
            return self._label_rows(reader, writer, target, id_column, text_column, author, in_range, state, authors)
        finally:           # a failure or a cancel: the count of authors is not left running on the user's database
            if authors is not None:
                authors.exception()

    def _label_rows(self, reader, writer, target, id_column, text_column, author, in_range, state: dict,
                    authors: Future | None) -> dict:
        job, ctx = self.job, self.ctx
        total = state["total"]
        stats = LabelStats(items=state["done"], labeled=state["labeled"], per_label=dict(state["per_label"]))
        query = select(id_column, text_column).where(in_range).order_by(id_column)
        rows = databases.read_chunks(reader, lambda after: query if after is None else query.where(id_column > after),
                                     state.get("last_id"), self.chunk_rows, self._streams(reader), between=ctx.pace)

        def write(chunk: LabeledChunk) -> None:
            staging.write(writer, target, chunk.rows, utcnow())

        unrecorded, recorded_at = 0, None     # rows written since the task row last heard; when it did

        def authors_counted() -> None:        # counted beside the first chunk: in the task row from then on
            nonlocal authors
            if authors is not None:
                state["unique_authors"], authors = authors.result(), None

        def record() -> None:                 # the resume point, the counts and the progress, together
            nonlocal unrecorded, recorded_at
            authors_counted()
            ctx.save_state(state)
            ctx.count(received=unrecorded, written=unrecorded)
            ctx.progress(stats.items, step=f"{stats.items:,}/{total:,} rows labeled into {self.staging_name} "
                                           f"({stats.labeled:,} with a label)")
            unrecorded, recorded_at = 0, time.monotonic()

        def written(chunk: LabeledChunk) -> None:      # in this thread, once the chunk is in the staging table
            nonlocal unrecorded
            stats.items += chunk.items
            stats.labeled += chunk.labeled
            for label, count in chunk.per_label.items():
                stats.per_label[label] = stats.per_label.get(label, 0) + count
            state.update(last_id=chunk.last_id if isinstance(chunk.last_id, int) else str(chunk.last_id),
                         done=stats.items, labeled=stats.labeled, per_label=stats.per_label)
            unrecorded += chunk.items
            if recorded_at is None or time.monotonic() - recorded_at >= RECORD_SECONDS:
                record()

        # Until the reader finds no more: rows added to the range meanwhile are labeled too.
        labeling = labeler.labeler(self.rules, job.rules, total - state["done"], ctx.config)
        try:
            with Pipeline(rows, write, written, depth=PIPELINE_DEPTH,
                          name=f"label_table-{ctx.task_id[:8]}") as pipeline:
                for chunk, found, per_label in labeling.labeled(self._checked(pipeline.chunks())):
                    ids = [row[0] for row in chunk]
                    pipeline.send(LabeledChunk(staging.LabeledRows(ids, found), ids[-1], len(found), per_label))
                pipeline.finish()
        except TaskLost:
            raise                             # the row is another attempt's now
        except BaseException:
            if unrecorded:                    # what was written before the failure is on the task row too
                self._record_quietly(record)
            raise
        if unrecorded:
            record()
        authors_counted()                     # an empty range: no chunk recorded it
        if (share := labeling.close()) is not None:
            ctx.log(share)
        swaps = [(self.staging_name, job.output_table, staging.old_output_name(ctx.task_id))]
        if job.production_table:   # the dump_result stage, before the swap: both tables change together
            self._produce(reader, writer, target, id_column, author, state, stats)
            swaps.append((self.production_name, job.production_table, staging.old_production_name(ctx.task_id)))
        ctx.checkpoint()          # the last moment a cancel still leaves the output table as it was
        replaced = staging.swap_all(writer, swaps)
        ctx.log(f"{stats.items:,} rows labeled; " + "; ".join(
            f"{target_name} " + ("replaced" if was_there else "created")
            for (_staging, target_name, _old), was_there in zip(swaps, replaced, strict=True))
            + f" in {databases.where(job.output_url)}")
        return self._summary(stats, state)

    def _record_quietly(self, record) -> None:
        try:
            record()
        except Exception as exc:  # the failure being raised matters more
            log.warning("task %s: could not record the last written rows: %s", self.ctx.task_id, exc)

    def _streams(self, reader) -> bool:
        """Read on a server-side cursor, except from SQLite (see databases.read_chunks) or when paced."""
        paced = float(self.ctx.config.get("COLLECTOR_PACING_LABEL_TABLE") or 0) > 0
        return reader.dialect.name != "sqlite" and not paced

    def _checked(self, chunks):
        """The chunks, a cancel looked for before each is labeled."""
        for chunk in chunks:
            self.ctx.checkpoint()
            yield chunk

    def _produce(self, reader, writer, labeled_table, id_column, author, state: dict, stats: LabelStats) -> None:
        """dump_result: the production table from the labeled rows (staging), with each row's author read
        back from the input by id. Per row: one row per labeled row; per author: one row per author with a
        label (their labels are kept in memory until written: one small dict per labeled author)."""
        ctx, job = self.ctx, self.job
        state.update(prod_stat="running", prod_rows=0)
        ctx.save_state(state)
        per_author = job.production_per == "author"
        ctx.log(f"dump_result: writing {job.production_table}, one row per "
                + ("author with a label" if per_author else "labeled row"))
        table = staging.production_table(self.production_name, job.production_per,
                                         isinstance(id_column.type, Integer))
        self.production_made = True
        staging.create(writer, table)
        counts: dict[str, dict[str, int]] = {}       # author -> {label: their rows with it}
        rows_of: dict[str, int] = {}
        query = select(labeled_table.c.id, labeled_table.c.labels, labeled_table.c.matched_terms) \
            .order_by(labeled_table.c.id).limit(self.chunk_rows)
        last_id, written = None, 0
        while True:
            ctx.checkpoint()
            with writer.connect() as connection:
                rows = connection.execute(query if last_id is None
                                          else query.where(labeled_table.c.id > last_id)).all()
            if not rows:
                break
            last_id = rows[-1][0]
            labeled = [(row_id, labels, _json(terms)) for row_id, labels, terms in
                       ((row_id, _json(labels), terms) for row_id, labels, terms in rows) if labels]
            names = self._authors(reader, id_column, author, [row_id for row_id, _, _ in labeled])
            if per_author:
                for row_id, labels, _terms in labeled:
                    name = names.get(str(row_id))
                    if name is None:
                        continue           # no author to list the labels under
                    rows_of[name] = rows_of.get(name, 0) + 1
                    mine = counts.setdefault(name, {})
                    for label in labels:
                        mine[label] = mine.get(label, 0) + 1
            else:
                now = utcnow()
                staging.insert(writer, table, [{"id": row_id, "author_name": names.get(str(row_id)), "labels": labels,
                                                "matched_terms": terms, "produced_at": now}
                                               for row_id, labels, terms in labeled])
                written += len(labeled)
            ctx.progress(stats.items, step=f"dump_result: {written if not per_author else len(counts):,} rows "
                                           f"for {job.production_table}")
            if len(rows) < self.chunk_rows:
                break
        if per_author:
            now, order = utcnow(), self.rules.label_names
            authors = [{"author_name": name, "labels": [label for label in order if label in mine],
                        "label_counts": mine, "labeled_rows": rows_of[name], "produced_at": now}
                       for name, mine in counts.items()]
            for start in range(0, len(authors), self.chunk_rows):
                ctx.checkpoint()
                staging.insert(writer, table, authors[start:start + self.chunk_rows])
            written = len(authors)
        state.update(prod_rows=written)
        ctx.save_state(state)

    @staticmethod
    def _authors(reader, id_column, author, ids: list) -> dict[str, str]:
        if not ids:
            return {}
        with reader.connect() as connection:
            found = connection.execute(select(id_column, author).where(id_column.in_(ids))).all()
        return {str(row_id): str(name)[:255] for row_id, name in found if name is not None and str(name) != ""}

    def _prepare(self, reader, writer, target, table, in_range, author) -> tuple[dict, Future | None]:
        """Resume on the staging table a lost attempt left, or count the rows and start afresh; and the count
        of the distinct authors in range, when there is an author column and it is not in the state yet:
        counted in a thread of its own while the first chunks are labeled (on PostgreSQL, 0.2-0.3 s of a
        250,000-row job's 5 s, were it counted first)."""
        ctx, state = self.ctx, dict(self.ctx.state)
        if state.get("total") is not None and staging.exists(writer, self.staging_name):
            self.staging_made = True
            staging.forget_after(writer, target, state.get("last_id"))
            ctx.log(f"Resuming after {state['done']:,} of {state['total']:,} rows (attempt {ctx.attempt})")
            return state, self._count_authors(reader, in_range, author, state)
        state = {"total": _scalar(reader, select(func.count()).select_from(table).where(in_range)),
                 "unique_authors": None, "done": 0, "labeled": 0, "per_label": {}, "last_id": None}
        ctx.set_total(state["total"])
        ctx.log(f"Labeling {state['total']:,} rows of {self.job.table} in {databases.where(self.job.input_url)} "
                f"from {self.job.start.isoformat()} to {self.job.end.isoformat()} "
                f"with {len(self.rules.label_names)} {self.rules.model} labels")
        self.staging_made = True
        staging.create(writer, target)
        ctx.save_state(state)
        return state, self._count_authors(reader, in_range, author, state)

    def _count_authors(self, reader, in_range, author, state: dict) -> Future | None:
        if author is None or state.get("unique_authors") is not None:
            return None
        # COUNT over SELECT DISTINCT: hashed, where COUNT(DISTINCT) sorts (2x on PostgreSQL)
        distinct = select(author.label("author")).where(in_range).distinct().subquery()
        return in_a_thread(lambda: _scalar(reader, select(func.count(distinct.c.author))),
                           name=f"label_table-{self.ctx.task_id[:8]}-authors")

    def _drop_staging(self, writer) -> None:
        made = [name for name, was_made in ((self.staging_name, self.staging_made),
                                             (self.production_name, self.production_made)) if was_made]
        for name in made:
            try:
                staging.drop(writer, name)
            except Exception as exc:  # the task's own outcome matters more; say what is left
                message = self.scrub(f"Could not drop the staging table {name}: {databases.explain(exc)}")
                log.warning("task %s: %s", self.ctx.task_id, message)

    def _summary(self, stats: LabelStats, state: dict) -> dict:
        return {
            "status": "success",
            "input_table": self.job.table,
            "output_table": self.job.output_table,
            "start": self.job.start.isoformat(),
            "end": self.job.end.isoformat(),
            "rows_received": stats.items,
            "rows_labeled": stats.labeled,
            "rows_written": stats.items,
            "unique_authors": state.get("unique_authors"),
            "rate_of_label": stats.summary(self.rules)["rate_of_label"],
        } | ({"production_table": self.job.production_table, "production_per": self.job.production_per,
              "rows_in_production_table": state.get("prod_rows"), "prod_stat": "finish"}
             if self.job.production_table else {})


def _scalar(engine, statement):
    with engine.connect() as connection:
        return connection.execute(statement).scalar_one()


def in_a_thread(function: Callable[[], object], name: str) -> Future:
    """function() run in a thread of its own: its result, or its error, in the Future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        return pool.submit(function)
    finally:
        pool.shutdown(wait=False)  # the thread ends with the function


def _json(value):
    # MariaDB's JSON is LONGTEXT underneath: read back, it may come as a string.
    return json.loads(value) if isinstance(value, str) else value
