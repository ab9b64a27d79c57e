"""The collector HTTP API: `/api/v1/async-collection/...`, the routes existing client scripts call."""
from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import abort

from services.collector import examples, tasks
from services.collector.access import ADMIN, OPERATOR, VIEWER, current_caller, json_body, requires
from services.collector.errors import (
    EnqueueFailed,
    IdempotencyConflict,
    SealingUnavailable,
    TaskFinished,
    UnknownSource,
)
from services.collector.models import db
from services.collector.schemas import (
    CleanupQueryArgsSchema,
    CleanupSchema,
    LogLineSchema,
    SourceSchema,
    SummarySchema,
    TaskCancelledSchema,
    TaskCreatedSchema,
    TaskQueryArgsSchema,
    TaskSchema,
)
from services.collector.sources import SOURCES
from services.collector.view_helpers import describe_source, task_or_404
from shared.api import DATABASE_DOWN_MESSAGE, UNEXPECTED_MESSAGE, Blueprint, ErrorSchema
from shared.pagination import PAGE_PAST_END, PaginationQueryArgsSchema, page_schema, paginate

blp = Blueprint("collector", __name__, url_prefix="/api/v1/async-collection",
                description="Collection tasks: start, watch, cancel, logs")


@blp.route("/<string:source>/start", parameters=[examples.SOURCE])
class TaskStart(MethodView):
    @blp.doc(requestBody=examples.START_BODY)
    @requires(OPERATOR)
    @json_body
    @blp.response(202, TaskCreatedSchema, description="The task, pending (or the existing one, for an "
                                                      "idempotency_key sent again with the same body)")
    @blp.error(404, *examples.UNKNOWN_SOURCE)
    @blp.error(409, *examples.IDEMPOTENCY_CONFLICT)
    @blp.alt_response(422, schema=ErrorSchema, description="Invalid params (each field is named in errors.json)",
                      example=examples.INVALID_START)
    @blp.alt_response(503, schema=ErrorSchema, description="The queue (Redis) is not available, or secret params "
                                                           "cannot be sealed (no COLLECTOR_SECRET_KEY/SERVICE_TOKEN)",
                      examples=examples.START_UNAVAILABLE)
    def post(self, source):
        """Start a collection task"""
        body = request.get_json(silent=True) if request.get_data() else {}
        if not isinstance(body, dict):
            abort(422, message="The body must be a JSON object.", errors={"json": {"_schema": ["Not a JSON object."]}})
        try:
            task, created = tasks.start_task(source, body, by=current_caller())
        except UnknownSource as exc:
            abort(404, message=str(exc))
        except ma.ValidationError as exc:
            fields = ", ".join(sorted(exc.messages)) if isinstance(exc.messages, dict) else ""
            abort(422, message=f"Invalid start params: {fields}.", errors={"json": exc.messages})
        except IdempotencyConflict as exc:
            abort(409, message=str(exc))
        except SealingUnavailable as exc:
            abort(503, message=str(exc))
        except EnqueueFailed as exc:
            abort(503, message=str(exc))
        # The async collection guide's start answer names the task id in its message.
        message = (f"{source} data collection started. Task ID: {task.id}" if created
                   else f"{task.type} task already exists for this idempotency key ({task.status})")
        return {"task_id": task.id, "message": message, "status": task.status}


@blp.route("/task/<string:task_id>", parameters=[examples.TASK_ID])
class TaskById(MethodView):
    @requires(VIEWER)
    @blp.response(200, TaskSchema)
    @blp.error(404, *examples.NO_TASK)
    def get(self, task_id):
        """A task's status, progress, latest log lines and statistics"""
        return tasks.with_recent_logs(task_or_404(task_id))

    @requires(OPERATOR)
    @blp.response(200, TaskCancelledSchema)
    @blp.error(404, *examples.NO_TASK)
    @blp.error(409, *examples.ALREADY_FINISHED)
    def delete(self, task_id):
        """Cancel a task: a pending one at once, a running one at its next checkpoint"""
        try:
            task, message = tasks.cancel_task(task_id, by=current_caller())
        except LookupError:
            abort(404, message=f"Task {task_id} not found.")
        except TaskFinished as exc:
            abort(409, message=str(exc))
        return {"task_id": task.id, "message": message, "status": task.status}


@blp.route("/task/<string:task_id>/logs", parameters=[examples.TASK_ID])
class TaskLogs(MethodView):
    @requires(VIEWER)
    @blp.arguments(PaginationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(LogLineSchema))
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id, or page is past the last page",
                      examples=examples.LOGS_NOT_FOUND)
    def get(self, args, task_id):
        """Every log line of a task, oldest first"""
        task_or_404(task_id)
        return paginate(db.session, tasks.logs_query(task_id), args["page"], args["per_page"])


@blp.route("/tasks")
class Tasks(MethodView):
    @requires(VIEWER)
    @blp.arguments(TaskQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TaskSchema))
    @blp.error(404, *PAGE_PAST_END)
    def get(self, args):
        """Tasks, newest first, filtered by status (several allowed) and source"""
        page = paginate(db.session, tasks.tasks_query(args["status"], args["source"]), args["page"], args["per_page"])
        for task in page.data:
            tasks.with_recent_logs(task)
        return page


@blp.route("/status/summary")
class Summary(MethodView):
    @requires(VIEWER)
    @blp.response(200, SummarySchema)
    @blp.error(503, "The database is not available", DATABASE_DOWN_MESSAGE)
    def get(self):
        """How many tasks are in each status"""
        return tasks.summary()


@blp.route("/cleanup")
class Cleanup(MethodView):
    @requires(ADMIN)
    @blp.arguments(CleanupQueryArgsSchema, location="query")
    @blp.response(200, CleanupSchema)
    def post(self, args):
        """Remove finished tasks older than max_age_hours (the periodic purge does this too)"""
        deleted = tasks.purge(args["max_age_hours"])
        return {"deleted": deleted,
                "message": f"Removed {deleted} finished tasks older than {args['max_age_hours']:g} h."}


@blp.route("/sources")
class Sources(MethodView):
    @requires(VIEWER)
    @blp.response(200, SourceSchema(many=True))
    @blp.error(500, "An unexpected error (logged, never echoed)", UNEXPECTED_MESSAGE)
    def get(self):
        """Every source with its start params, pacing and schedule"""
        return [describe_source(source) for source in SOURCES.values()]
