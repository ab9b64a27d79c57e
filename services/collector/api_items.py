"""The collected items of a task: a random sample (also while it runs), a streamed export,
and a dump into the analyst's own database (a background job with its own status)."""
from __future__ import annotations

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from services.collector import examples, item_dumps, items
from services.collector.access import OPERATOR, VIEWER, current_caller, json_body, requires
from services.collector.errors import DumpRefused, SealingUnavailable, TaskFinished
from services.collector.label_table import sample as label_table_sample
from services.collector.schemas import (
    EXPORT_TYPES,
    DumpSchema,
    DumpStartSchema,
    ExportQueryArgsSchema,
    LabelTableSampleSchema,
    SampleQueryArgsSchema,
    SampleSchema,
)
from services.collector.view_helpers import task_or_404
from shared.api import Blueprint, ErrorSchema

blp = Blueprint("collected_items", __name__, url_prefix="/api/v1/async-collection",
                description="Collected community items: sample, export, dump")


@blp.route("/task/<string:task_id>/sample", parameters=[examples.TASK_ID])
class TaskSample(MethodView):
    @requires(OPERATOR)
    @blp.arguments(SampleQueryArgsSchema, location="query")
    @blp.response(200, {"anyOf": [SampleSchema, LabelTableSampleSchema]},
                  description="Collected items; for a label_table task, labeled rows of your table instead",
                  examples=examples.SAMPLE_EXAMPLES)
    @blp.error(404, *examples.NO_TASK)
    @blp.error(502, *examples.SAMPLE_UNREADABLE)
    @blp.error(503, *examples.SAMPLE_SEALED)
    def get(self, args, task_id):
        """A random sample of the items a task has collected so far (also while it runs)"""
        task = task_or_404(task_id)
        if task.source == label_table_sample.SOURCE:  # its labeled rows are in the user's database
            return label_table_sample.sample_response(task, args["size"])
        return current_app.json.response(SampleSchema().dump({
            "task_id": task.id, "status": task.status, "count": items.count_items(task.id),
            "data": items.sample(task.id, args["size"])}))


@blp.route("/task/<string:task_id>/export", parameters=[examples.TASK_ID])
class TaskExport(MethodView):
    @requires(VIEWER)
    @blp.arguments(ExportQueryArgsSchema, location="query")
    @blp.response(200, {"type": "string"}, description=examples.EXPORT_DESCRIPTION, content_type="text/csv",
                  example=examples.CSV_EXAMPLE, headers=examples.CONTENT_DISPOSITION)
    @blp.alt_response(200, schema={"type": "string"}, description=examples.EXPORT_DESCRIPTION,
                      content_type="application/x-ndjson", example=examples.JSONL_EXAMPLE,
                      headers=examples.CONTENT_DISPOSITION)
    @blp.error(404, *examples.NO_TASK)
    def get(self, args, task_id):
        """Every item of a task as CSV or JSON Lines, streamed"""
        task = task_or_404(task_id)
        kind = args["format"]
        lines = items.csv_lines if kind == "csv" else items.jsonl_lines
        response = Response(stream_with_context(lines(items.iter_items(task.id))), mimetype=EXPORT_TYPES[kind])
        response.headers["Content-Disposition"] = f'attachment; filename="{task.source}-{task.id}.{kind}"'
        return response


@blp.route("/task/<string:task_id>/dump", parameters=[examples.TASK_ID])
class TaskDump(MethodView):
    @requires(OPERATOR)
    @json_body
    @blp.arguments(DumpStartSchema)
    @blp.response(202, DumpSchema, description="The dump, pending: follow it with GET /dump/{dump_id}")
    @blp.error(404, *examples.NO_TASK)
    @blp.alt_response(422, schema=ErrorSchema, description="URL scheme or table name not accepted (errors.json "
                                                           "names the field)", example=examples.DUMP_REFUSED)
    @blp.alt_response(503, schema=ErrorSchema, description="The queue (Redis) or the secret key is not available",
                      examples=examples.DUMP_UNAVAILABLE)
    def post(self, body, task_id):
        """Write a task's items into your own database (PostgreSQL, MySQL/MariaDB, SQLite) in the background"""
        task = task_or_404(task_id)
        try:
            dump = item_dumps.start_dump(task.id, body["database_url"], body["table"], current_app.config,
                                         by=current_caller())
        except DumpRefused as exc:
            abort(422, message=str(exc), errors={"json": {exc.field: [str(exc)]}})
        except SealingUnavailable as exc:
            abort(503, message=str(exc))
        try:
            item_dumps.enqueue_dump(dump.id)
        except Exception:  # the broker is down: say so, keep nothing pending forever
            item_dumps.fail_unqueued(dump.id)
            abort(503, message=item_dumps.DUMP_NOT_QUEUED)
        return dump


@blp.route("/dump/<string:dump_id>", parameters=[examples.DUMP_ID])
class DumpById(MethodView):
    @requires(VIEWER)
    @blp.response(200, DumpSchema)
    @blp.error(404, *examples.NO_DUMP)
    def get(self, dump_id):
        """A dump's status and the rows it has written"""
        dump = item_dumps.get_dump(dump_id)
        if dump is None:
            abort(404, message=f"Dump {dump_id} not found.")
        return dump

    @requires(OPERATOR)
    @blp.response(200, DumpSchema, description="The dump: cancelled if it was pending; still running if it was "
                                               "running, until it stops before its next batch")
    @blp.error(404, *examples.NO_DUMP)
    @blp.error(409, *examples.DUMP_ENDED)
    def delete(self, dump_id):
        """Cancel a dump: a pending one at once, a running one before its next batch"""
        try:
            item_dumps.cancel_dump(dump_id, by=current_caller())
        except LookupError:
            abort(404, message=f"Dump {dump_id} not found.")
        except TaskFinished as exc:
            abort(409, message=str(exc))
        return item_dumps.get_dump(dump_id)
