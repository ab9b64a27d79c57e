"""The collected items of a task: a random sample (also while it runs), a streamed export,
and a dump into the analyst's own database (a background job with its own status)."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields

from services.collector import item_dumps, items
from services.collector.api import task_or_404
from services.collector.label_table import sample as label_table_sample
from services.collector.runtime import runtime
from services.collector.sealing import SealingUnavailable
from shared.api import ErrorSchema

blp = Blueprint("collected_items", __name__, url_prefix="/api/v1/async-collection",
                description="Collected community items: sample, export, dump")

EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


class SampleQueryArgsSchema(ma.Schema):
    size = fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=100))


class ItemSchema(ma.Schema):
    source = fields.String()
    kind = fields.String(metadata={"description": "post | review | memo | comment"})
    external_id = fields.String()
    category = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    text = fields.String()
    created_at = fields.String()
    url = fields.String(allow_none=True)
    labels = fields.List(fields.String())
    metrics = fields.Dict()
    raw = fields.Dict()
    first_seen_at = fields.String()
    updated_at = fields.String()


class SampleSchema(ma.Schema):
    task_id = fields.String()
    status = fields.String()
    count = fields.Integer(metadata={"description": "Items the task has collected so far"})
    data = fields.List(fields.Nested(ItemSchema))


class ExportQueryArgsSchema(ma.Schema):
    format = fields.String(load_default="jsonl", validate=ma.validate.OneOf(list(EXPORT_TYPES)))


class DumpStartSchema(ma.Schema):
    database_url = fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=2000),
                                 metadata={"description": "postgresql://, mysql://, mariadb:// or sqlite:////file"})
    table = fields.String(required=True, validate=ma.validate.Length(min=1, max=63))


class DumpSchema(ma.Schema):
    id = fields.String(dump_only=True)
    task_id = fields.String()
    status = fields.String(metadata={"description": "pending | running | completed | failed"})
    target = fields.String(metadata={"description": "The database URL, password masked"})
    table = fields.String(attribute="table_name")
    rows_written = fields.Integer()
    error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)


@blp.route("/task/<string:task_id>/sample")
class TaskSample(MethodView):
    @blp.arguments(SampleQueryArgsSchema, location="query")
    @blp.response(200, SampleSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id")
    @blp.alt_response(502, schema=ErrorSchema, description="label_table: the user's database cannot be read")
    def get(self, args, task_id):
        """A random sample of the items a task has collected so far (also while it runs)"""
        task = task_or_404(task_id)
        if task.source == label_table_sample.SOURCE:  # its labeled rows are in the user's database
            return label_table_sample.sample_response(task, args["size"])
        return {"task_id": task.id, "status": task.status, "count": items.count_items(task.id),
                "data": items.sample(task.id, args["size"])}


@blp.route("/task/<string:task_id>/export")
class TaskExport(MethodView):
    @blp.arguments(ExportQueryArgsSchema, location="query")
    @blp.response(200, description="CSV (header row; labels ';'-joined) or JSON Lines, streamed",
                  content_type="text/csv")
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id")
    def get(self, args, task_id):
        """Every item of a task as CSV or JSON Lines, streamed"""
        task = task_or_404(task_id)
        kind = args["format"]
        lines = items.csv_lines if kind == "csv" else items.jsonl_lines
        response = Response(stream_with_context(lines(items.iter_items(task.id))), mimetype=EXPORT_TYPES[kind])
        response.headers["Content-Disposition"] = f'attachment; filename="{task.source}-{task.id}.{kind}"'
        return response


@blp.route("/task/<string:task_id>/dump")
class TaskDump(MethodView):
    @blp.arguments(DumpStartSchema)
    @blp.response(202, DumpSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id")
    @blp.alt_response(422, schema=ErrorSchema, description="URL scheme or table name not accepted")
    @blp.alt_response(503, schema=ErrorSchema, description="The queue (Redis) or the secret key is not available")
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
        except Exception:  # noqa: BLE001 (the broker is down: say so, keep nothing pending forever)
            item_dumps.fail_unqueued(dump.id)
            abort(503, message="The task queue (Redis) is not available; the dump was not started.")
        return dump


@blp.route("/dump/<string:dump_id>")
class DumpById(MethodView):
    @blp.response(200, DumpSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No dump with this id")
    def get(self, dump_id):
        """A dump's status and the rows it has written"""
        dump = item_dumps.get_dump(dump_id)
        if dump is None:
            abort(404, message=f"Dump {dump_id} not found.")
        return dump
