"""The collected items of a task: a random sample (also while it runs), a streamed export,
and a dump into the analyst's own database (a background job with its own status)."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import fields

from services.collector import item_dumps, items
from services.collector.api import NO_TASK, TASK_ID, task_or_404
from services.collector.label_table import sample as label_table_sample
from services.collector.runtime import runtime
from services.collector.schemas import TASK_ID as TASK_ID_EXAMPLE
from services.collector.sealing import NO_KEY_MESSAGE, SealingUnavailable
from shared.api import Blueprint, ErrorSchema, error_example, path_parameter

blp = Blueprint("collected_items", __name__, url_prefix="/api/v1/async-collection",
                description="Collected community items: sample, export, dump")

EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
DUMP_ID_EXAMPLE = "f8dc73e0-7eb2-4350-a2da-e76fbc1986b1"
DUMP_ID = path_parameter("dump_id", "The dump's id, a UUID (as POST /task/{task_id}/dump returned it)", DUMP_ID_EXAMPLE)
TARGET_EXAMPLE = "postgresql://analyst:s3cret@db.internal:5432/analytics"
REVIEW_TEXT = "보톡스 처음 맞아봤어요. 가격이 생각보다 비쌌어요. 원장님 설명이 자세했어요."
REFUSED_SCHEME = "Scheme 'oracle' is not accepted; use postgresql, mysql, mariadb or sqlite."
DUMP_REFUSED = error_example(422, REFUSED_SCHEME, errors={"json": {"database_url": [REFUSED_SCHEME]}})
DUMP_NOT_QUEUED = "The task queue (Redis) is not available; the dump was not started."


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
    task_id = fields.String(metadata={"description": "The task's id", "example": TASK_ID_EXAMPLE})
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
                       "(source, kind, external_id)", "pattern": item_dumps.TABLE_NAME.pattern,
        "example": "babitalk_items"})


class DumpSchema(ma.Schema):
    id = fields.String(dump_only=True, metadata={"description": "The dump's id (a UUID)", "example": DUMP_ID_EXAMPLE})
    task_id = fields.String(metadata={"description": "The task whose items it writes", "example": TASK_ID_EXAMPLE})
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


ITEM_EXAMPLE = {name: field.metadata["example"] for name, field in ItemSchema().fields.items()}
# The exports of the one example item, written by the code that writes the real ones.
CSV_EXAMPLE = "".join(items.csv_lines([ITEM_EXAMPLE]))
JSONL_EXAMPLE = "".join(items.jsonl_lines([ITEM_EXAMPLE]))
EXPORT_DESCRIPTION = "CSV (header row; labels ';'-joined) or JSON Lines, streamed as an attachment"
CONTENT_DISPOSITION = {"Content-Disposition": {
    "description": "attachment; filename=\"<source>-<task_id>.<format>\"", "schema": {"type": "string"},
    "example": f'attachment; filename="babitalk-{TASK_ID_EXAMPLE}.csv"'}}
SAMPLE_EXAMPLES = {
    "items": {"summary": "a community task: collected items",
              "value": {"task_id": TASK_ID_EXAMPLE, "status": "running", "count": 63,
                        "data": [ITEM_EXAMPLE]}},
    "label_table": {"summary": "a label_table task: labeled rows of your table, with their text",
                    "value": label_table_sample.EXAMPLE},
}


@blp.route("/task/<string:task_id>/sample", parameters=[TASK_ID])
class TaskSample(MethodView):
    @blp.arguments(SampleQueryArgsSchema, location="query")
    @blp.response(200, {"anyOf": [SampleSchema, label_table_sample.LabelTableSampleSchema]},
                  description="Collected items; for a label_table task, labeled rows of your table instead",
                  examples=SAMPLE_EXAMPLES)
    @blp.error(404, *NO_TASK)
    @blp.error(502, "label_table: your database cannot be read (the reason, password masked)",
               "Cannot read the sample from postgresql db.internal:5432/posts as analyst: connection failed: "
               "connection to server at \"10.0.3.17\", port 5432 failed: Connection refused Is the server running "
               "on that host and accepting TCP/IP connections?")
    @blp.error(503, "label_table: the task's secret params cannot be decrypted (COLLECTOR_SECRET_KEY)",
               "The task's secret params cannot be decrypted with the configured key.")
    def get(self, args, task_id):
        """A random sample of the items a task has collected so far (also while it runs)"""
        task = task_or_404(task_id)
        if task.source == label_table_sample.SOURCE:  # its labeled rows are in the user's database
            return label_table_sample.sample_response(task, args["size"])
        return current_app.json.response(SampleSchema().dump({
            "task_id": task.id, "status": task.status, "count": items.count_items(task.id),
            "data": items.sample(task.id, args["size"])}))


@blp.route("/task/<string:task_id>/export", parameters=[TASK_ID])
class TaskExport(MethodView):
    @blp.arguments(ExportQueryArgsSchema, location="query")
    @blp.response(200, {"type": "string"}, description=EXPORT_DESCRIPTION, content_type="text/csv",
                  example=CSV_EXAMPLE, headers=CONTENT_DISPOSITION)
    @blp.alt_response(200, schema={"type": "string"}, description=EXPORT_DESCRIPTION,
                      content_type="application/x-ndjson", example=JSONL_EXAMPLE, headers=CONTENT_DISPOSITION)
    @blp.error(404, *NO_TASK)
    def get(self, args, task_id):
        """Every item of a task as CSV or JSON Lines, streamed"""
        task = task_or_404(task_id)
        kind = args["format"]
        lines = items.csv_lines if kind == "csv" else items.jsonl_lines
        response = Response(stream_with_context(lines(items.iter_items(task.id))), mimetype=EXPORT_TYPES[kind])
        response.headers["Content-Disposition"] = f'attachment; filename="{task.source}-{task.id}.{kind}"'
        return response


@blp.route("/task/<string:task_id>/dump", parameters=[TASK_ID])
class TaskDump(MethodView):
    @blp.arguments(DumpStartSchema)
    @blp.response(202, DumpSchema, description="The dump, pending: follow it with GET /dump/{dump_id}")
    @blp.error(404, *NO_TASK)
    @blp.alt_response(422, schema=ErrorSchema, description="URL scheme or table name not accepted (errors.json "
                                                           "names the field)", example=DUMP_REFUSED)
    @blp.alt_response(503, schema=ErrorSchema, description="The queue (Redis) or the secret key is not available",
                      examples={"queue": {"summary": "Redis is down",
                                          "value": error_example(503, DUMP_NOT_QUEUED)},
                                "secret_key": {"summary": "no COLLECTOR_SECRET_KEY or SERVICE_TOKEN",
                                               "value": error_example(503, NO_KEY_MESSAGE)}})
    def post(self, body, task_id):
        """Write a task's items into your own database (PostgreSQL, MySQL/MariaDB, SQLite) in the background"""
        task = task_or_404(task_id)
        try:
            dump = item_dumps.start_dump(task.id, body["database_url"], body["table"], current_app.config)
        except item_dumps.DumpRefused as exc:
            abort(422, message=str(exc), errors={"json": {exc.field: [str(exc)]}})
        except SealingUnavailable as exc:
            abort(503, message=str(exc))
        try:
            item_dumps.enqueue_dump(runtime().broker, dump.id)
        except Exception:  # the broker is down: say so, keep nothing pending forever
            item_dumps.fail_unqueued(dump.id)
            abort(503, message=DUMP_NOT_QUEUED)
        return dump


@blp.route("/dump/<string:dump_id>", parameters=[DUMP_ID])
class DumpById(MethodView):
    @blp.response(200, DumpSchema)
    @blp.error(404, "No dump with this id", f"Dump {DUMP_ID_EXAMPLE} not found.")
    def get(self, dump_id):
        """A dump's status and the rows it has written"""
        dump = item_dumps.get_dump(dump_id)
        if dump is None:
            abort(404, message=f"Dump {dump_id} not found.")
        return dump
