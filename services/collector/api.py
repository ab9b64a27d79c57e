"""The collector HTTP API: `/api/v1/async-collection/...`, the routes existing client scripts call."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from services.collector import schemas, tasks
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
from services.collector.sealing import NO_KEY_MESSAGE, SealingUnavailable
from services.collector.sources import SOURCES
from shared.api import (
    DATABASE_DOWN_MESSAGE,
    UNEXPECTED_MESSAGE,
    Blueprint,
    ErrorSchema,
    error_example,
    path_parameter,
)
from shared.pagination import PAGE_PAST_END, PaginationQueryArgsSchema, page_schema, paginate

blp = Blueprint("collector", __name__, url_prefix="/api/v1/async-collection",
                description="Collection tasks: start, watch, cancel, logs")


TASK_ID = path_parameter("task_id", "The task's id, a UUID (as POST /{source}/start returned it)", schemas.TASK_ID)
NO_TASK = ("No task with this id", f"Task {schemas.TASK_ID} not found.")
TODAY, YESTERDAY = "2026-05-20", "2026-05-19"

# One start body per source: the fields each accepts are in GET /sources (plus the common ones).
START_EXAMPLES = {
    "trials": {"summary": "trials: a full odcloud snapshot into the trials service",
               "value": {"per_page": 100, "idempotency_key": f"trials-{TODAY}"}},
    "grader": {"summary": "grader: one UTC day of attempts, then its daily report",
               "value": {"target_date": YESTERDAY, "window_minutes": 60}},
    "babitalk": {"summary": "babitalk: reviews and talks back to a day, labeled by keywords",
                 "value": {"target_date": YESTERDAY, "categories": ["reviews", "talks"], "limit": 200,
                           "rules": schemas.RULES}},
    "gangnamunni": {"summary": "gangnamunni: two boards, the review board stored as reviews, starting in 10 min",
                    "value": {"target_date": YESTERDAY, "categories": ["hospital_question", "review"],
                              "save_as_reviews": True, "countdown": 600}},
    "naver": {"summary": "naver: two boards of one cafe, labeled by regex",
              "value": {"cafe_id": 10001, "menu_id": "288,289", "target_date": YESTERDAY, "per_page": 50,
                        "rules": {"model": "regex", "labels": {"swelling": "붓기", "price": "가격|비[싸쌌]"}}}},
    "label_table": {"summary": "label_table: label a month of comments in your own PostgreSQL, in an hour",
                    "value": {"input": {"database_url": "postgresql://analyst:s3cret@db.internal:5432/posts",
                                        "table": "comments", "text_column": "body", "id_column": "id",
                                        "time_column": "created_at", "author_column": "author_id"},
                              "start": "2026-04-01T00:00:00Z", "end": "2026-05-01T00:00:00Z",
                              "rules": schemas.RULES, "output": {"table": "comments_labels"},
                              "countdown": 3600}},
}
# Named as the body's examples, so each body goes with its source (in Swagger UI and in schemathesis' examples phase).
SOURCE = {"in": "path", "name": "source", "description": "A source's name (GET /sources lists them with their params)",
          "schema": {"type": "string", "enum": list(SOURCES)},
          "examples": {name: {"summary": name, "value": name} for name in START_EXAMPLES}}
INVALID_START = error_example(422, "Invalid start params: target_date.",
                              errors={"json": {"target_date": ["Missing data for required field."]}})


def task_or_404(task_id: str):
    task = tasks.get_task(task_id)
    if task is None:
        abort(404, message=f"Task {task_id} not found.")
    return task


@blp.route("/<string:source>/start", parameters=[SOURCE])
class TaskStart(MethodView):
    @blp.doc(requestBody={"description": "The source's params (GET /sources) plus countdown, queue, "
                                         "idempotency_key, callback_url", "required": False,
                          "content": {"application/json": {"schema": {"type": "object"},
                                                           "examples": START_EXAMPLES}}})
    @blp.response(202, TaskCreatedSchema, description="The task, pending (or the existing one, for an "
                                                      "idempotency_key sent again with the same body)")
    @blp.error(404, "Unknown source", "Unknown source 'cafe'; known: " + ", ".join(sorted(SOURCES)) + ".")
    @blp.error(409, "Idempotency key reused with another body",
               f"Idempotency key already used by task {schemas.TASK_ID} with another body.")
    @blp.alt_response(422, schema=ErrorSchema, description="Invalid params (each field is named in errors.json)",
                      example=INVALID_START)
    @blp.alt_response(503, schema=ErrorSchema, description="The queue (Redis) is not available, or secret params "
                                                           "cannot be sealed (no COLLECTOR_SECRET_KEY/SERVICE_TOKEN)",
                      examples={"queue": {"summary": "Redis is down",
                                          "value": error_example(503, tasks.NOT_QUEUED_MESSAGE)},
                                "secret_key": {"summary": "no COLLECTOR_SECRET_KEY or SERVICE_TOKEN",
                                               "value": error_example(503, NO_KEY_MESSAGE)}})
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


@blp.route("/task/<string:task_id>", parameters=[TASK_ID])
class TaskById(MethodView):
    @blp.response(200, TaskSchema)
    @blp.error(404, *NO_TASK)
    def get(self, task_id):
        """A task's status, progress, latest log lines and statistics"""
        return tasks.with_recent_logs(task_or_404(task_id))

    @blp.response(200, TaskCancelledSchema)
    @blp.error(404, *NO_TASK)
    @blp.error(409, "The task has already finished", f"Task {schemas.TASK_ID} is already completed; nothing to cancel.")
    def delete(self, task_id):
        """Cancel a task: a pending one at once, a running one at its next checkpoint"""
        try:
            task, message = tasks.cancel_task(task_id)
        except LookupError:
            abort(404, message=f"Task {task_id} not found.")
        except tasks.TaskFinished as exc:
            abort(409, message=str(exc))
        return {"task_id": task.id, "message": message, "status": task.status}


@blp.route("/task/<string:task_id>/logs", parameters=[TASK_ID])
class TaskLogs(MethodView):
    @blp.arguments(PaginationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(LogLineSchema))
    @blp.alt_response(404, schema=ErrorSchema, description="No task with this id, or page is past the last page",
                      examples={"unknown_task": {"summary": NO_TASK[0], "value": error_example(404, NO_TASK[1])},
                                "past_the_end": {"summary": PAGE_PAST_END[0],
                                                 "value": error_example(404, PAGE_PAST_END[1])}})
    def get(self, args, task_id):
        """Every log line of a task, oldest first"""
        task_or_404(task_id)
        return paginate(db.session, tasks.logs_query(task_id), args["page"], args["per_page"])


@blp.route("/tasks")
class Tasks(MethodView):
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
    @blp.response(200, SummarySchema)
    @blp.error(503, "The database is not available", DATABASE_DOWN_MESSAGE)
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
        return {"deleted": deleted,
                "message": f"Removed {deleted} finished tasks older than {args['max_age_hours']:g} h."}


@blp.route("/sources")
class Sources(MethodView):
    @blp.response(200, SourceSchema(many=True))
    @blp.error(500, "An unexpected error (logged, never echoed)", UNEXPECTED_MESSAGE)
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
          ma.fields.List: "array", ma.fields.Dict: "object", ma.fields.Nested: "object",
          ma.fields.Date: "string", ma.fields.String: "string"}


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
