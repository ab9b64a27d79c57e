"""Request and response schemas of the collector API (the sources' own start fields are in
sources/*: each source declares its `params_schema`, merged with `CommonStartSchema` in tasks.py)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from services.collector.labeling import RulesError, compile_rules
from services.collector.models import STATUSES
from services.collector.user_databases import TABLE_NAME
from shared.pagination import PaginationQueryArgsSchema
from shared.text import storable
from shared.timeutil import utcnow

TASK_ID = "72390030-8d22-4e21-8959-874530834630"  # the examples' task: a babitalk pull, completed
RULES = {"model": "keyword", "labels": {"price": ["가격", "비싸"], "swelling": ["붓기"]}}
DUMP_ID = "f8dc73e0-7eb2-4350-a2da-e76fbc1986b1"  # the examples' dump
TARGET_EXAMPLE = "postgresql://analyst:s3cret@db.internal:5432/analytics"
REVIEW_TEXT = "보톡스 처음 맞아봤어요. 가격이 생각보다 비쌌어요. 원장님 설명이 자세했어요."
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
MAX_COUNTDOWN = 7 * 24 * 3600 - 3600  # Dramatiq's Redis broker delays messages by less than 7 days


# --- starting a task ----------------------------------------------------------------------------
class CommonStartSchema(ma.Schema):
    countdown = ma.fields.Float(load_default=0, validate=ma.validate.Range(min=0, max=MAX_COUNTDOWN), metadata={
        "description": "Seconds before the task may start"})
    queue = ma.fields.String(load_default=None, metadata={"description": "A named queue (COLLECTOR_QUEUES)"})
    idempotency_key = ma.fields.String(load_default=None, validate=[ma.validate.Length(min=1, max=200), storable],
                                       metadata={"description": "The same key and body return the existing task; "
                                                                "another body is refused (409)"})
    callback_url = ma.fields.Url(load_default=None, schemes={"http", "https"}, require_tld=False, metadata={
        "description": "POSTed a JSON summary when the task ends"})


class RulesCheckedSchema(ma.Schema):
    """A start body with a `rules` field: the rules are compiled at load (labeling.py), so a bad
    rule is a 422 naming each offending field. Subclasses declare the `rules` field itself."""

    @ma.validates("rules")
    def _rules_compile(self, value, **_):
        try:
            compile_rules(value)
        except RulesError as exc:
            raise ma.ValidationError(exc.errors) from None


# --- tasks ----------------------------------------------------------------------------------------


class CallerSchema(ma.Schema):
    key_id = fields.Integer(allow_none=True, metadata={
        "description": "The API key's id (null for the loopback operator of protected mode)", "example": 3})
    name = fields.String(metadata={"description": "The key's name, or loopback / dashboard-admin",
                                   "example": "ops-bot"})
    role = fields.String(metadata={"description": "viewer | operator | admin", "example": "operator"})


class TaskSchema(ma.Schema):
    id = fields.String(dump_only=True, metadata={"description": "The task's id (a UUID)", "example": TASK_ID})
    type = fields.String(metadata={"description": "<source>_collect", "example": "babitalk_collect"})
    status = fields.String(metadata={"description": " | ".join(STATUSES), "example": "completed"})
    progress = fields.Float(metadata={"description": "Units done, out of total (categories, pages, windows, rows)",
                                      "example": 2.0})
    total = fields.Float(allow_none=True, metadata={"description": "Units in all (null until the source knows)",
                                                    "example": 2.0})
    current_step = fields.String(allow_none=True, metadata={"description": "What the task is doing now",
                                                            "example": "done"})
    created_at = fields.AwareDateTime(metadata={"description": "When it was started (UTC)",
                                                "example": "2026-05-20T01:00:00.008828+00:00"})
    started_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When a worker took it (null while pending)", "example": "2026-05-20T01:00:00.083615+00:00"})
    completed_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When it completed, failed or was cancelled (null until then)",
        "example": "2026-05-20T01:00:41.183739+00:00"})
    error = fields.String(allow_none=True, metadata={"description": "Why it failed (secrets masked); null otherwise",
                                                     "example": None})
    result_summary = fields.Dict(metadata={
        "description": "The source's summary once completed: counts per kind and category, label rates ({} before)",
        "example": {"status": "success", "target_date": "2026-05-19", "total_items": 63, "total_reviews": 3,
                    "total_posts": 3, "total_comments": 57, "category_reviews_count": 3, "category_talks_count": 60,
                    "skipped": 0, "requests": 6, "unique_authors": 12, "labeled_items": 21,
                    "rate_of_label": {"price": 0.1905, "swelling": 0.1587}}})
    logs = fields.List(fields.String(), metadata={
        "description": "The latest lines, '[HH:MM:SS] message'",
        "example": ["[01:00:00] Task created on queue default; started by key 'ops-bot' #3 (operator)",
                    "[01:00:00] Started babitalk_collect (attempt 1) on collector-worker-1:16323",
                    "[01:00:00] Collecting babitalk back to 2026-05-19: reviews, talks, limit 200 per category",
                    "[01:00:41] Collected 63 items (0 malformed skipped) in 6 requests",
                    "[01:00:41] Completed"]})
    params = fields.Dict(metadata={
        "description": "The start params as given, secrets masked",
        "example": {"target_date": "2026-05-19", "categories": ["reviews", "talks"], "limit": 200, "rules": RULES}})
    queue = fields.String(metadata={"description": "The queue it runs on (COLLECTOR_QUEUES)", "example": "default"})
    started_by = fields.Nested(CallerSchema, allow_none=True, metadata={
        "description": "Who started it (null for the scheduler's own starts)",
        "example": {"key_id": 3, "name": "ops-bot", "role": "operator"}})
    cancelled_by = fields.Nested(CallerSchema, allow_none=True, metadata={
        "description": "Who cancelled it (null unless cancelled through the API)", "example": None})
    not_before = fields.AwareDateTime(allow_none=True, metadata={
        "description": "Start allowed from (countdown); null when started without one", "example": None})
    run_time = fields.Method("get_run_time", metadata={
        "description": "Seconds from start to end (or now); null while pending", "type": "number", "nullable": True,
        "example": 41.1})
    peak_memory = fields.Integer(allow_none=True, metadata={"description": "Bytes: peak RSS of its worker process",
                                                            "example": 150761472})
    rows_received = fields.Integer(metadata={"description": "Records read from the upstream", "example": 63})
    rows_written = fields.Integer(metadata={"description": "Records stored or delivered", "example": 63})
    rows_rejected = fields.Integer(metadata={"description": "Records refused as malformed or invalid", "example": 0})
    attempt = fields.Integer(metadata={"description": "1, or more once re-run after a lost worker", "example": 1})

    def get_run_time(self, task):
        if task.started_at is None:
            return None
        return round(((task.completed_at or utcnow()) - task.started_at).total_seconds(), 3)


class TaskCreatedSchema(ma.Schema):
    task_id = fields.String(metadata={"description": "The new task's id (or the existing one, for a repeated "
                                                     "idempotency_key)", "example": TASK_ID})
    message = fields.String(metadata={"description": "Started, or already there for this idempotency_key",
                                      "example": f"babitalk data collection started. Task ID: {TASK_ID}"})
    status = fields.String(metadata={"description": "pending for a new task", "example": "pending"})


class TaskCancelledSchema(ma.Schema):
    task_id = fields.String(metadata={"description": "The task's id", "example": TASK_ID})
    message = fields.String(metadata={"description": "Cancelled at once (pending) or asked to stop (running)",
                                      "example": "Cancel requested; the task stops at its next checkpoint."})
    status = fields.String(metadata={"description": "cancelled (was pending) or cancelling (was running)",
                                     "example": "cancelling"})


class TaskQueryArgsSchema(PaginationQueryArgsSchema):
    status = fields.List(fields.String(validate=ma.validate.OneOf(STATUSES)), load_default=list,
                         metadata={"description": "Repeat or comma-separate for several",
                                   "example": ["running", "pending"]})
    source = fields.String(load_default=None, validate=storable, metadata={
        "description": "Only this source's tasks (a name from GET /sources)", "example": "babitalk"})

    @ma.pre_load
    def split_commas(self, data, **kwargs):
        # ?status=running,pending as well as ?status=running&status=pending
        if hasattr(data, "getlist"):
            values = [part for raw in data.getlist("status") for part in raw.split(",") if part]
            data = {**data.to_dict(), **({"status": values} if values else {})}
        return data


class LogLineSchema(ma.Schema):
    id = fields.Integer(metadata={"description": "The line's id, increasing", "example": 4})
    at = fields.AwareDateTime(metadata={"description": "When it was written (UTC)",
                                        "example": "2026-05-20T01:00:41.179738+00:00"})
    level = fields.String(metadata={"description": "INFO | WARNING | ERROR", "example": "INFO"})
    message = fields.String(metadata={"description": "The text (secrets masked)",
                                      "example": "Collected 63 items (0 malformed skipped) in 6 requests"})
    line = fields.String(metadata={"description": "'[HH:MM:SS] message'",
                                   "example": "[01:00:41] Collected 63 items (0 malformed skipped) in 6 requests"})


class SummarySchema(ma.Schema):
    total_tasks = fields.Integer(metadata={"description": "Tasks kept (the purge removes old finished ones)",
                                           "example": 42})
    pending = fields.Integer(metadata={"description": "Waiting for a worker or their countdown", "example": 1})
    running = fields.Integer(metadata={"description": "Running or cancelling", "example": 2})
    completed = fields.Integer(metadata={"description": "Completed", "example": 36})
    failed = fields.Integer(metadata={"description": "Failed", "example": 2})
    cancelled = fields.Integer(metadata={"description": "Cancelled", "example": 1})
    timestamp = fields.AwareDateTime(metadata={"description": "When the counts were taken (UTC)",
                                               "example": "2026-05-20T01:05:00.509604+00:00"})


class CleanupQueryArgsSchema(ma.Schema):
    max_age_hours = fields.Float(load_default=24.0, validate=ma.validate.Range(min=0, max=24 * 365 * 100), metadata={
        "description": "Remove completed, failed and cancelled tasks that ended more than this many hours ago",
        "example": 72})


class CleanupSchema(ma.Schema):
    deleted = fields.Integer(metadata={"description": "Tasks removed (with their logs and item links)",
                                       "example": 12})
    message = fields.String(metadata={"description": "The same in words",
                                      "example": "Removed 12 finished tasks older than 72 h."})


class SourceSchema(ma.Schema):
    name = fields.String(metadata={"description": "The {source} of POST /{source}/start", "example": "trials"})
    type = fields.String(metadata={"description": "Its tasks' type", "example": "trials_collect"})
    description = fields.String(metadata={
        "description": "What it collects",
        "example": "Clinical-trial projects from odcloud (data.go.kr dataset 3074271), as one full snapshot"})
    params = fields.Dict(metadata={
        "description": "The start body's fields: type, required, description, default and enum of each",
        "example": {
            "per_page": {"type": "integer", "required": False, "default": None,
                         "description": "Rows per odcloud page (default ODCLOUD_PER_PAGE)"},
            "force": {"type": "boolean", "required": False, "default": False,
                      "description": "Complete the snapshot even if it holds few trials (TRIALS_MIN_SNAPSHOT_RATIO)"},
            "service_key": {"type": "string", "required": False, "default": None,
                            "description": "A data.go.kr key for this run (default ODCLOUD_SERVICE_KEY)"},
            "countdown": {"type": "number", "required": False, "default": 0,
                          "description": "Seconds before the task may start"}}})
    secret_params = fields.List(fields.String(), metadata={
        "description": "Params kept encrypted, never stored in clear or shown", "example": ["service_key"]})
    pacing_seconds = fields.Float(metadata={"description": "Pause between upstream requests "
                                                           "(COLLECTOR_PACING_<NAME>)", "example": 0.5})
    schedule = fields.Dict(allow_none=True, metadata={
        "description": "When the scheduler starts it (null: only on request)",
        "example": {"cron": "0 0 * * *", "timezone": "Asia/Seoul", "params": {}}})


# --- collected items: sample, export, dump -------------------------------------------------------
class SampleQueryArgsSchema(ma.Schema):
    size = fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=100), metadata={
        "description": "How many items to draw at random (a fresh draw on every call)", "example": 5})


class ItemSchema(ma.Schema):
    source = fields.String(metadata={"description": "The source that collected it", "example": "babitalk"})
    kind = fields.String(metadata={"description": "post | review | memo | comment", "example": "review"})
    external_id = fields.String(metadata={"description": "Its id on the platform (unique with source and kind)",
                                          "example": "700119"})
    category = fields.String(allow_none=True, metadata={"description": "The board or category it was found in",
                                                        "example": "reviews"})
    author = fields.String(allow_none=True, metadata={"description": "The writer's nickname", "example": "자연스럽게"})
    text = fields.String(metadata={"description": "The text the labeling rules read", "example": REVIEW_TEXT})
    created_at = fields.String(metadata={"description": "When it was written on the platform (ISO 8601, UTC)",
                                         "example": "2026-05-19T11:00:00+00:00"})
    url = fields.String(allow_none=True, metadata={"description": "Its page on the platform",
                                                   "example": "https://web.babitalk.com/reviews/700119"})
    labels = fields.List(fields.String(), metadata={"description": "The labels this task's rules gave it",
                                                    "example": ["price"]})
    metrics = fields.Dict(metadata={"description": "Numbers the platform shows (rating, price, views, comments...)",
                                    "example": {"rating": 8, "price": 1470000, "images": 1}})
    raw = fields.Dict(metadata={"description": "The record as the platform sent it",
                                "example": {"id": 700119, "rating": 8, "price": 1470000, "text": REVIEW_TEXT,
                                            "created_at": "2026-05-19 20:00:00", "categories": ["보톡스"],
                                            "user": {"id": 27445, "name": "자연스럽게", "profile": None}}})
    first_seen_at = fields.String(metadata={"description": "When a task first stored it (UTC)",
                                            "example": "2026-05-20T01:00:12.119638+00:00"})
    updated_at = fields.String(metadata={"description": "When a task last stored it (UTC)",
                                         "example": "2026-05-20T01:00:12.119638+00:00"})


class SampleSchema(ma.Schema):
    task_id = fields.String(metadata={"description": "The task's id", "example": TASK_ID})
    status = fields.String(metadata={"description": "The task's status now", "example": "running"})
    count = fields.Integer(metadata={"description": "Items the task has collected so far", "example": 63})
    data = fields.List(fields.Nested(ItemSchema))


class ExportQueryArgsSchema(ma.Schema):
    format = fields.String(load_default="jsonl", validate=ma.validate.OneOf(list(EXPORT_TYPES)), metadata={
        "description": "csv (a header row; labels ';'-joined, metrics as JSON, no raw) or jsonl (one JSON object "
                       "per line, raw included)", "example": "csv"})


class DumpStartSchema(ma.Schema):
    database_url = fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=2000),
                                 metadata={"description": "postgresql://, mysql://, mariadb:// or sqlite:////file "
                                                          "(under COLLECTOR_DUMP_SQLITE_DIR); the password is kept "
                                                          "encrypted, never shown", "example": TARGET_EXAMPLE})
    table = fields.String(required=True, validate=ma.validate.Length(min=1, max=63), metadata={
        "description": "A plain SQL name, not starting with sqlite_; created if missing, rows upserted on "
                       "(source, kind, external_id)", "pattern": TABLE_NAME.pattern,
        "example": "babitalk_items"})


class DumpSchema(ma.Schema):
    id = fields.String(dump_only=True, metadata={"description": "The dump's id (a UUID)", "example": DUMP_ID})
    task_id = fields.String(metadata={"description": "The task whose items it writes", "example": TASK_ID})
    status = fields.String(metadata={"description": "pending | running | completed | failed", "example": "completed"})
    target = fields.String(metadata={"description": "The database URL, password masked",
                                     "example": "postgresql+psycopg://analyst:***@db.internal:5432/analytics"})
    table = fields.String(attribute="table_name", metadata={"description": "The table written",
                                                            "example": "babitalk_items"})
    rows_written = fields.Integer(metadata={"description": "Rows upserted so far", "example": 63})
    error = fields.String(allow_none=True, metadata={"description": "Why it failed (password masked); null otherwise",
                                                     "example": None})
    created_at = fields.AwareDateTime(metadata={"description": "When it was asked for (UTC)",
                                                "example": "2026-05-20T01:10:34.571123+00:00"})
    started_at = fields.AwareDateTime(allow_none=True, metadata={"description": "When a worker took it",
                                                                 "example": "2026-05-20T01:10:34.690211+00:00"})
    completed_at = fields.AwareDateTime(allow_none=True, metadata={"description": "When it completed or failed",
                                                                   "example": "2026-05-20T01:10:35.102874+00:00"})


# --- label_table: the sample of a task's labeled rows (in the analyst's database) ----------------
class LabeledRowSchema(ma.Schema):
    id = fields.Raw(metadata={"description": "The row's id_column value", "example": 48213})
    labels = fields.List(fields.String(), metadata={"description": "The labels the rules gave it",
                                                    "example": ["price", "swelling"]})
    matched_terms = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "Per label, the terms found in the text", "example": {"price": ["가격"], "swelling": ["붓기"]}})
    labeled_at = fields.String(metadata={"description": "When it was labeled (UTC)",
                                         "example": "2026-05-20T01:02:11.402311+00:00"})
    text = fields.String(allow_none=True, metadata={"description": "From the input table (null if gone)",
                                                    "example": "가격 문의합니다, 붓기도요"})
    author = fields.Raw(allow_none=True, metadata={"description": "Its author_column value (null without one)",
                                                   "example": "lee"})
    time = fields.String(allow_none=True, metadata={"description": "Its time_column value",
                                                    "example": "2026-04-03T12:00:00"})


class LabelTableSampleSchema(ma.Schema):
    task_id = fields.String(metadata={"description": "The task's id",
                                      "example": "0b7e4c1a-5f2d-4e8b-9a63-d1c2f4e5a6b7"})
    status = fields.String(metadata={"description": "The task's status now", "example": "completed"})
    table = fields.String(metadata={"description": "The staging table while running, the output table after",
                                    "example": "comments_labels"})
    count = fields.Integer(metadata={"description": "Rows labeled so far", "example": 1200})
    data = fields.List(fields.Nested(LabeledRowSchema))
