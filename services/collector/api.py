"""The collector HTTP API: `/api/v1/async-collection/...`, the routes existing client scripts call."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from services.collector import tasks
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
from services.collector.sealing import SealingUnavailable
from services.collector.sources import SOURCES
from shared.api import ErrorSchema
from shared.pagination import PaginationQueryArgsSchema, page_schema, paginate

blp = Blueprint("collector", __name__, url_prefix="/api/v1/async-collection",
                description="Collection tasks: start, watch, cancel, logs")


def task_or_404(task_id: str):
    task = tasks.get_task(task_id)
    if task is None:
        abort(404, message=f"Task {task_id} not found.")
    return task


@blp.route("/<string:source>/start")
class TaskStart(MethodView):
    @blp.doc(requestBody={"description": "The source's params (GET /sources) plus countdown, queue, "
                                         "idempotency_key, callback_url", "required": False,
                          "content": {"application/json": {"schema": {"type": "object"}}}})
    @blp.response(202, TaskCreatedSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Unknown source")
    @blp.alt_response(409, schema=ErrorSchema, description="Idempotency key reused with another body")
    @blp.alt_response(422, schema=ErrorSchema, description="Invalid params (the field is named)")
    @blp.alt_response(503, schema=ErrorSchema, description="The queue (Redis) is not available")
    def post(self, source):
        """Start a collection task"""
        body = request.get_json(silent=True) if request.get_data() else {}
        if not isinstance(body, dict):
            abort(422, message="The body must be a JSON object.", errors={"json": {"_schema": ["Not a JSON object."]}})
        try:
            task, created = tasks.start_task(source, body)
        except tasks.UnknownSource as exc:
            abort(404, message=str(exc))
        except ma.ValidationError as exc:
            fields = ", ".join(sorted(exc.messages)) if isinstance(exc.messages, dict) else ""
            abort(422, message=f"Invalid start params: {fields}.", errors={"json": exc.messages})
        except tasks.IdempotencyConflict as exc:
            abort(409, message=str(exc))
        except SealingUnavailable as exc:
            abort(503, message=str(exc))
        except tasks.EnqueueFailed as exc:
            abort(503, message=str(exc))
        message = (f"{task.type} task started" if created
                   else f"{task.type} task already exists for this idempotency key ({task.status})")
        return {"task_id": task.id, "message": message, "status": task.status}


@blp.route("/task/<string:task_id>")
class TaskById(MethodView):
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id")
    def get(self, task_id):
        """A task's status, progress, latest log lines and statistics"""
        return tasks.with_recent_logs(task_or_404(task_id))

    @blp.response(200, TaskCancelledSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id")
    @blp.alt_response(409, schema=ErrorSchema, description="The task has already finished")
    def delete(self, task_id):
        """Cancel a task: a pending one at once, a running one at its next checkpoint"""
        try:
            task, message = tasks.cancel_task(task_id)
        except LookupError:
            abort(404, message=f"Task {task_id} not found.")
        except tasks.TaskFinished as exc:
            abort(409, message=str(exc))
        return {"task_id": task.id, "message": message, "status": task.status}


@blp.route("/task/<string:task_id>/logs")
class TaskLogs(MethodView):
    @blp.arguments(PaginationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(LogLineSchema))
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id")
    def get(self, args, task_id):
        """Every log line of a task, oldest first"""
        task_or_404(task_id)
        return paginate(db.session, tasks.logs_query(task_id), args["page"], args["per_page"])


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(TaskQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TaskSchema))
    def get(self, args):
        """Tasks, newest first, filtered by status (several allowed) and source"""
        page = paginate(db.session, tasks.tasks_query(args["status"], args["source"]), args["page"], args["per_page"])
        for task in page.data:
            tasks.with_recent_logs(task)
        return page


@blp.route("/status/summary")
class Summary(MethodView):
    @blp.response(200, SummarySchema)
    def get(self):
        """How many tasks are in each status"""
        return tasks.summary()


@blp.route("/cleanup")
class Cleanup(MethodView):
    @blp.arguments(CleanupQueryArgsSchema, location="query")
    @blp.response(200, CleanupSchema)
    def post(self, args):
        """Remove finished tasks older than max_age_hours (the periodic purge does this too)"""
        deleted = tasks.purge(args["max_age_hours"])
        return {"deleted": deleted, "message": f"Removed {deleted} finished tasks older than {args['max_age_hours']:g} h."}


@blp.route("/sources")
class Sources(MethodView):
    @blp.response(200, SourceSchema(many=True))
    def get(self):
        """Every source with its start params, pacing and schedule"""
        return [describe_source(source) for source in SOURCES.values()]


def describe_source(source) -> dict:
    return {
        "name": source.name,
        "type": source.task_type,
        "description": source.description,
        "params": params_description(tasks.start_schema(source.name)),
        "secret_params": list(source.secret_params),
        "pacing_seconds": source.pacing(current_app.config),
        "schedule": source.schedule.describe() if source.schedule else None,
    }


_TYPES = {ma.fields.Integer: "integer", ma.fields.Float: "number", ma.fields.Boolean: "boolean",
          ma.fields.List: "array", ma.fields.Dict: "object", ma.fields.Date: "string", ma.fields.String: "string"}


def params_description(schema_class) -> dict:
    """A small JSON-schema-like view of a start schema, for the API and the dashboard's forms."""
    described = {}
    for name, field in schema_class().fields.items():
        kind = next((label for cls, label in _TYPES.items() if isinstance(field, cls)), "string")
        entry = {"type": kind, "required": field.required,
                 "description": field.metadata.get("description", "")}
        default = field.load_default
        if default is not ma.missing and not callable(default):
            entry["default"] = default
        for validator in (getattr(field, "inner", None) or field).validators:
            if isinstance(validator, ma.validate.OneOf):
                entry["enum"] = list(validator.choices)
        described[name] = entry
    return described
