"""`label_table`: label the rows of a table in the user's own database with the rules they
bring (keyword or RE2 regex, labeling.py), into an output table of their choice.

    POST /api/v1/async-collection/label_table/start
    {"input": {"database_url": "postgresql://analyst:pw@db.internal/posts", "table": "comments",
               "text_column": "body", "id_column": "id", "time_column": "created_at",
               "author_column": "author_id"},
     "start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z",
     "rules": {"model": "keyword", "labels": {"price": ["가격", "비싸"]}},
     "output": {"table": "comments_labels"}}

The work is in services/collector/label_table/: spec.py (the body; URLs and rules sealed),
job.py (chunks into a staging table, then the swap), sample.py (GET .../task/{id}/sample).
"""
from __future__ import annotations

from services.collector.label_table.job import LabelingJob
from services.collector.label_table.spec import SEALED_JOB, Job, LabelTableParamsSchema
from services.collector.sources.base import Source


class LabelTableSource(Source):
    name = "label_table"
    description = ("Label the rows of a table in your own database (PostgreSQL, MySQL/MariaDB, SQLite) between "
                   "two times with keyword or regex rules; the result replaces an output table when done")
    params_schema = LabelTableParamsSchema
    secret_params = (SEALED_JOB,)
    # A pause between chunks, to spare a busy database (COLLECTOR_PACING_LABEL_TABLE); none by default.
    pacing_seconds = 0.0

    def run(self, ctx, params):
        return LabelingJob(ctx, Job.from_sealed(params[SEALED_JOB])).run()
