"""The body of a label_table task: count the rows in range, label them chunk by chunk into a
staging table, then swap it into the output table.

Rows are read by keyset paging on the id column (`id > last ORDER BY id LIMIT n`): one short
query per chunk, never the whole table in memory, and no long-lived read that would block a
SQLite writer. After each written chunk the last id is saved (ctx.save_state), so a re-run
after a lost worker resumes there, on the same staging table.
"""
from __future__ import annotations

import logging

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.types import Integer

from services.collector.config import DEFAULT_LABEL_TABLE_CHUNK_ROWS
from services.collector.errors import SourceError, TaskCancelled, TaskLost
from services.collector.label_table import databases, staging
from services.collector.label_table.spec import Job
from services.collector.labeling import LabelStats, compile_rules
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

class LabelingJob:
    def __init__(self, ctx, job: Job):
        self.ctx = ctx
        self.job = job
        self.rules = compile_rules(job.rules)
        self.chunk_rows = int(ctx.config.get("COLLECTOR_LABEL_TABLE_CHUNK_ROWS", DEFAULT_LABEL_TABLE_CHUNK_ROWS))
        self.scrub = databases.Scrubber(job.passwords)
        self.staging_name = staging.staging_name(ctx.task_id)
        self.staging_made = False

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
        job, ctx = self.job, self.ctx
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
        state = self._prepare(reader, writer, target, table, in_range, author)
        total = state["total"]
        stats = LabelStats(items=state["done"], labeled=state["labeled"], per_label=dict(state["per_label"]))
        query = select(id_column, text_column).where(in_range).order_by(id_column).limit(self.chunk_rows)
        last_id = state.get("last_id")
        while True:               # until a short chunk: rows added to the range meanwhile are labeled too
            ctx.checkpoint()
            with reader.connect() as connection:
                rows = connection.execute(query if last_id is None else query.where(id_column > last_id)).all()
            if not rows:
                break
            labeled = []
            for row_id, text in rows:
                terms = self.rules.matched_terms(text if isinstance(text, str) else "" if text is None else str(text))
                labels = list(terms)
                stats.add(None, labels)
                labeled.append((row_id, labels, terms))
            staging.write(writer, target, labeled, utcnow())
            last_id = rows[-1][0]
            state.update(last_id=last_id if isinstance(last_id, int) else str(last_id), done=stats.items,
                         labeled=stats.labeled, per_label=stats.per_label)
            ctx.save_state(state)
            ctx.count(received=len(rows), written=len(rows))
            ctx.progress(stats.items, step=f"{stats.items:,}/{total:,} rows labeled into {self.staging_name} "
                                           f"({stats.labeled:,} with a label)")
            if len(rows) < self.chunk_rows:
                break
            ctx.pace()
        ctx.checkpoint()          # the last moment a cancel still leaves the output table as it was
        replaced = staging.swap_into(writer, self.staging_name, job.output_table,
                                     staging.old_output_name(ctx.task_id))
        ctx.log(f"{stats.items:,} rows labeled; {job.output_table} "
                + ("replaced" if replaced else "created") + f" in {databases.where(job.output_url)}")
        return self._summary(stats, state)

    def _prepare(self, reader, writer, target, table, in_range, author) -> dict:
        """Resume on the staging table a lost attempt left, or count the rows and start afresh."""
        ctx, state = self.ctx, dict(self.ctx.state)
        if state.get("total") is not None and staging.exists(writer, self.staging_name):
            self.staging_made = True
            staging.forget_after(writer, target, state.get("last_id"))
            ctx.log(f"Resuming after {state['done']:,} of {state['total']:,} rows (attempt {ctx.attempt})")
            return state
        counted = [func.count()] + ([func.count(distinct(author))] if author is not None else [])
        with reader.connect() as connection:
            numbers = connection.execute(select(*counted).select_from(table).where(in_range)).one()
        state = {"total": numbers[0], "unique_authors": numbers[1] if author is not None else None,
                 "done": 0, "labeled": 0, "per_label": {}, "last_id": None}
        ctx.set_total(state["total"])
        ctx.log(f"Labeling {state['total']:,} rows of {self.job.table} in {databases.where(self.job.input_url)} "
                f"from {self.job.start.isoformat()} to {self.job.end.isoformat()} "
                f"with {len(self.rules.label_names)} {self.rules.model} labels")
        self.staging_made = True
        staging.create(writer, target)
        ctx.save_state(state)
        return state

    def _drop_staging(self, writer) -> None:
        if not self.staging_made:
            return
        try:
            staging.drop(writer, self.staging_name)
        except Exception as exc:  # the task's own outcome matters more; say what is left
            message = self.scrub(f"Could not drop the staging table {self.staging_name}: {databases.explain(exc)}")
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
        }
