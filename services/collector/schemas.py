"""Request and response schemas of the collector API (the sources' own start fields are in
sources/*: each source declares its `params_schema`, merged with `CommonStartSchema` in tasks.py)."""
from __future__ import annotations

from datetime import date, datetime

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
    status = fields.String(metadata={"description": "pending | running | completed | failed | cancelled",
                                     "example": "completed"})
    target = fields.String(metadata={"description": "The database URL, password masked",
                                     "example": "postgresql+psycopg://analyst:***@db.internal:5432/analytics"})
    table = fields.String(attribute="table_name", metadata={"description": "The table written",
                                                            "example": "babitalk_items"})
    rows_written = fields.Integer(metadata={"description": "Rows upserted so far", "example": 63})
    requested_by = fields.Nested(CallerSchema, allow_none=True, metadata={
        "description": "Who asked for it", "example": {"key_id": 3, "name": "ops-bot", "role": "operator"}})
    cancelled_by = fields.Nested(CallerSchema, allow_none=True, metadata={
        "description": "Who cancelled it (null unless cancelled)", "example": None})
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


# --- the labeling task API (/api/tasks/, api_labeling.py): the original clients' upper-case bodies ---
LABELING_TASK_ID = "8fec5762412c11ec836d04ea56825baa"   # the document's example: a uuid without dashes
SQL_NAME = {"pattern": TABLE_NAME.pattern}
STATS = ("PENDING", "STARTED", "SUCCESS", "FAILURE", "REVOKED")


def _sql_name(value: str) -> None:
    if not TABLE_NAME.match(value):
        raise ma.ValidationError("Not a plain SQL name: 1 to 63 letters, digits or underscores, not starting "
                                 "with a digit.")


class TimeBound(fields.String):
    """START_TIME / END_TIME as the document writes them ("2020-01-01"), or an ISO 8601 date and time;
    kept as given (the answer echoes it), checked to parse."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                parse(text.replace("Z", "+00:00"))
                return text
            except ValueError:
                continue
        raise ma.ValidationError("Not a date (YYYY-MM-DD) or an ISO 8601 date and time.")


class SiteConfigSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    host = fields.String(required=True, validate=[ma.validate.Length(min=1, max=253), ma.validate.Regexp(
        r"^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$",
        error="A host name, an IPv4 address or an IPv6 address.")], metadata={
        "description": "The database server (must be allowed by COLLECTOR_OUTBOUND_ALLOW)", "example": "10.0.3.17"})
    port = fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=65535), metadata={
        "description": "Default 3306 (MySQL/MariaDB) or 5432 (PostgreSQL)", "example": 3306})
    user = fields.String(required=True, validate=ma.validate.Length(min=1, max=128), metadata={"example": "analyst"})
    password = fields.String(load_default="", load_only=True, validate=ma.validate.Length(max=256), metadata={
        "description": "Kept encrypted; masked in every answer", "example": "s3cret-password"})
    db = fields.String(load_default=None, validate=_sql_name, metadata={
        "description": "MySQL/MariaDB: the default for INPUT_SCHEMA. PostgreSQL: the database (INPUT_SCHEMA and "
                       "OUTPUT_SCHEMA are schemas in it)", "example": "wh_tiktok"})
    charset = fields.String(load_default=None, validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"), metadata={
        "description": "MySQL/MariaDB connection charset (ignored for PostgreSQL)", "example": "utf8mb4"})
    driver = fields.String(load_default="mysql", validate=ma.validate.OneOf(("mysql", "mariadb", "postgresql")),
                           metadata={"description": "Not in the original document: mysql (default), mariadb or "
                                                    "postgresql", "example": "mysql"})


class LabelingTaskCreateSchema(ma.Schema):
    """create_task's body, upper-case keys as documented; the optional column keys are ours."""

    class Meta:
        unknown = ma.RAISE

    MODEL_TYPE = fields.String(required=True, validate=ma.validate.OneOf(("keyword_model", "rule_model")), metadata={
        "description": 'keyword_model: PATTERN {"<label>": ["<keyword>", ...]} (case-insensitive substrings); '
                       'rule_model: PATTERN {"<label>": "<regular expression>"} (RE2: linear time, no '
                       'backreferences or lookaround)', "example": "keyword_model"})
    PREDICT_TYPE = fields.String(required=True, validate=ma.validate.OneOf(("content", "author_name", "author")),
                                 metadata={"description": "Which column the rules read: content (the post text) or "
                                                          "author_name (the author's name; author is the same)",
                                           "example": "author_name"})
    START_TIME = TimeBound(required=True, metadata={
        "description": "START_TIME <= created_at; a date or an ISO date and time (without an offset: compared with "
                       "the column as stored)", "example": "2020-01-01"})
    END_TIME = TimeBound(required=True, metadata={"description": "created_at < END_TIME", "example": "2021-01-01"})
    PATTERN = fields.Dict(required=True, metadata={"description": "The labels and their rules (see MODEL_TYPE)",
                                                   "example": {"beauty": ["makeup", "skincare"]}})
    INPUT_SCHEMA = fields.String(load_default=None, validate=_sql_name, metadata={
        "description": "The database holding INPUT_TABLE (PostgreSQL: a schema of SITE_CONFIG.db); default "
                       "SITE_CONFIG.db", "example": "wh_tiktok"})
    INPUT_TABLE = fields.String(required=True, validate=_sql_name, metadata={"example": "ts_page_content"})
    OUTPUT_SCHEMA = fields.String(load_default=None, validate=_sql_name, metadata={
        "description": "Where the output and production tables are written; default INPUT_SCHEMA",
        "example": "audience_result"})
    OUTPUT_TABLE = fields.String(load_default=None, validate=_sql_name, metadata={
        "description": "Ours: the output table, one row per row read (id, labels, matched_terms, labeled_at); "
                       "default <INPUT_TABLE>_output", "example": "ts_page_content_output"})
    PROD_TABLE = fields.String(load_default=None, validate=_sql_name, metadata={
        "description": "Ours: the production table dump_result writes; default <INPUT_TABLE>_prod",
        "example": "ts_page_content_prod"})
    COUNTDOWN = fields.Float(load_default=0, validate=ma.validate.Range(min=0, max=MAX_COUNTDOWN), metadata={
        "description": "Seconds before the task may start", "example": 5})
    QUEUE = fields.String(load_default=None, validate=ma.validate.Length(min=1, max=100), metadata={
        "description": "Any name, echoed as given; the task runs on that queue if it is one of COLLECTOR_QUEUES, "
                       "else on the first (default) queue", "example": "queue1"})
    SITE_CONFIG = fields.Nested(SiteConfigSchema, required=True, metadata={
        "description": "The MySQL/MariaDB (or PostgreSQL) server; the URL it makes is checked as label_table's are",
        "example": {"host": "10.0.3.17", "port": 3306, "user": "analyst", "password": "s3cret-password",
                    "db": "wh_tiktok", "charset": "utf8mb4"}})
    ID_COLUMN = fields.String(load_default="id", validate=_sql_name, metadata={
        "description": "Ours: the input's unique row id (indexed)", "example": "id"})
    CONTENT_COLUMN = fields.String(load_default="content", validate=_sql_name, metadata={
        "description": "Ours: the post text (read when PREDICT_TYPE is content)", "example": "content"})
    AUTHOR_COLUMN = fields.String(load_default="author_name", validate=_sql_name, metadata={
        "description": "Ours: the author's name (read when PREDICT_TYPE is author_name; the production table's "
                       "author)", "example": "author_name"})
    TIME_COLUMN = fields.String(load_default="created_at", validate=_sql_name, metadata={
        "description": "Ours: the date/time column START_TIME and END_TIME bound", "example": "created_at"})


class LabelingTaskAbortSchema(ma.Schema):
    TASK_ID = fields.String(required=True, validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "The task to abort", "example": LABELING_TASK_ID})


class LabelingTaskEchoSchema(ma.Schema):
    model_type = fields.String(metadata={"example": "keyword_model"})
    predict_type = fields.String(metadata={"description": "As given", "example": "author_name"})
    start_time = fields.String(metadata={"example": "2020-01-01"})
    end_time = fields.String(metadata={"example": "2021-01-01"})
    target_schema = fields.String(metadata={"description": "INPUT_SCHEMA", "example": "wh_tiktok"})
    target_table = fields.String(metadata={"description": "INPUT_TABLE", "example": "ts_page_content"})
    output_schema = fields.String(metadata={"example": "audience_result"})
    output_table = fields.String(metadata={"example": "ts_page_content_output"})
    prod_table = fields.String(metadata={"example": "ts_page_content_prod"})
    countdown = fields.Float(metadata={"example": 5})
    queue = fields.String(allow_none=True, metadata={"description": "As given", "example": "queue1"})
    columns = fields.Dict(metadata={"description": "The input columns read",
                                    "example": {"id": "id", "content": "content", "author_name": "author_name",
                                                "created_at": "created_at"}})
    site_config = fields.Dict(metadata={"description": "SITE_CONFIG, password masked",
                                        "example": {"host": "10.0.3.17", "port": 3306, "user": "analyst",
                                                    "password": "***", "db": "wh_tiktok", "charset": "utf8mb4",
                                                    "driver": "mysql"}})
    date_range = fields.String(metadata={"description": "<start_time> - <end_time>",
                                         "example": "2020-01-01 - 2021-01-01"})
    task_id = fields.String(metadata={"description": "32 hex digits", "example": LABELING_TASK_ID})


class LabelingPostAnswerSchema(ma.Schema):
    error_code = fields.Integer(metadata={"description": "200 (the original's envelope)", "example": 200})
    error_message = fields.Raw(metadata={
        "description": "create_task: the task echoed (LabelingTaskEcho: model_type, predict_type, start_time, "
                       "end_time, target_schema, target_table, output_schema, output_table, prod_table, countdown, "
                       "queue, columns, site_config, date_range, task_id); abort_task: \"successfully send break "
                       "status to task <task_id> in state <stat>\"", "example": "successfully send break status "
                       f"to task {LABELING_TASK_ID} in state STARTED"})


class LabelingStatusSchema(ma.Schema):
    task_id = fields.String(metadata={"description": "32 hex digits", "example": LABELING_TASK_ID})
    stat = fields.String(metadata={"description": "PENDING (waiting, or its countdown), STARTED (labeling or "
                                                  "dump_result running, or an abort on its way), SUCCESS, FAILURE, "
                                                  "REVOKED (aborted)", "enum": list(STATS), "example": "SUCCESS"})
    prod_stat = fields.String(allow_none=True, metadata={
        "description": "The dump_result stage: pending (labeling first), running, finish, failed or revoked; null "
                       "for a label_table task started without a production table", "example": "finish"})
    model_type = fields.String(allow_none=True, metadata={"example": "rule_model"})
    predict_type = fields.String(allow_none=True, metadata={"example": "content"})
    date_range = fields.String(metadata={"example": "2021-01-01 - 2021-03-01"})
    target_table = fields.String(metadata={"description": "The input table", "example": "wh_bbs_02"})
    create_time = fields.String(metadata={"description": "When the task was created (UTC)",
                                          "example": "2021-12-08T14:08:56"})
    peak_memory = fields.Integer(allow_none=True, metadata={
        "description": "The worker process's peak RSS in bytes, once the task has ended (null before)",
        "example": 120586240})
    length_receive_table = fields.Integer(metadata={"description": "Rows read from the input table so far",
                                                    "example": 5760849})
    length_output_table = fields.Integer(metadata={
        "description": "Rows written to the output table (staged until the end): every row read, labeled or not",
        "example": 5760849})
    length_prod_table = fields.String(allow_none=True, metadata={
        "description": "Rows in the production table (a string, as documented); null until dump_result has "
                       "written it", "example": "109614"})
    result = fields.String(allow_none=True, metadata={
        "description": "Where the result is: <output schema>.<production table> once SUCCESS (the original's "
                       "document leaves it undefined)", "example": "audience_result.wh_bbs_02_prod"})
    uniq_source_author = fields.String(allow_none=True, metadata={
        "description": "Distinct authors among the rows in range (a string, as documented)", "example": "228206"})
    rate_of_label = fields.String(allow_none=True, metadata={
        "description": "Percentage of the rows read that got at least one label, two decimals",
        "example": "48.03"})
    run_time = fields.Float(allow_none=True, metadata={"description": "Seconds since a worker started it (to its "
                                                                      "end once ended)", "example": 33.9207})
    check_point = fields.Dict(allow_none=True, metadata={
        "description": "While not ended: where the job stands, as saved after each chunk (a re-run after a lost "
                       "worker resumes there): stage, last_id, rows_done, rows_total, attempt; null once ended",
        "example": None})
    error_message = fields.String(allow_none=True, metadata={"description": "Why it failed (password masked)",
                                                             "example": None})


class LabelingStatusAnswerSchema(ma.Schema):
    error_code = fields.Integer(metadata={"example": 200})
    error_message = fields.Nested(LabelingStatusSchema)


class LabelingSampleQueryArgsSchema(ma.Schema):
    size = fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=100), metadata={
        "description": "Rows drawn at random", "example": 10})


class LabelingSampleSchema(ma.Schema):
    task_id = fields.String(metadata={"description": "32 hex digits", "example": LABELING_TASK_ID})
    stat = fields.String(metadata={"enum": list(STATS), "example": "STARTED"})
    table = fields.String(metadata={"description": "The staging table while the task runs, the output table after",
                                    "example": "lt_stage_8fec5762412c11ec836d04ea56825baa"})
    count = fields.Integer(metadata={"description": "Rows labeled so far", "example": 5000})
    data = fields.List(fields.Nested(LabeledRowSchema))


class LabelingSampleAnswerSchema(ma.Schema):
    error_code = fields.Integer(metadata={"example": 200})
    error_message = fields.Nested(LabelingSampleSchema)


class LabelingErrorSchema(ma.Schema):
    """The original's envelope for an error, with the house error fields beside it."""

    error_code = fields.Integer(metadata={"description": "The HTTP status", "example": 422})
    error_message = fields.String(metadata={"example": "Invalid task: PATTERN."})
    code = fields.Integer(metadata={"example": 422})
    status = fields.String(metadata={"example": "Unprocessable Entity"})
    message = fields.String(metadata={"example": "Invalid task: PATTERN."})
    errors = fields.Dict(metadata={"example": {"json": {"PATTERN": {"beauty": ["must be a non-empty list of "
                                                                                   "keywords"]}}}})
