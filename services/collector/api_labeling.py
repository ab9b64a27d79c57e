"""The labeling task API, as its original (FastAPI + Celery) clients call it: `/api/tasks/`.

create_task, abort_task, check_status and result_sample on the label_table job (one engine,
two faces: label_table/labeling_api.py turns the upper-case body into a label_table start body).
Every answer is the original's envelope `{"error_code": <int>, "error_message": <payload>}`, an
error too (with the HTTP status to match, and the house error fields beside it).
"""
from __future__ import annotations

from http import HTTPStatus

import marshmallow as ma
from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.exceptions import HTTPException

from services.collector import examples, tasks
from services.collector.access import (
    NO_KEY,
    NOT_JSON,
    OPERATOR,
    VIEWER,
    current_caller,
    json_body,
    not_allowed_message,
    requires,
)
from services.collector.api_keys import Caller
from services.collector.errors import EnqueueFailed, SealingUnavailable, TaskFinished
from services.collector.label_table import labeling_api
from services.collector.label_table.sample import sample_of
from services.collector.models import Task
from services.collector.schemas import (
    LabelingErrorSchema,
    LabelingPostAnswerSchema,
    LabelingSampleAnswerSchema,
    LabelingSampleQueryArgsSchema,
    LabelingStatusAnswerSchema,
    LabelingTaskAbortSchema,
    LabelingTaskCreateSchema,
)
from shared.api import Blueprint

blp = Blueprint("labeling_tasks", __name__, url_prefix="/api/tasks",
                description="The labeling task API of the original clients (create_task, check_status, abort_task, "
                            "result_sample): label_table tasks in the original's envelope")


@blp.errorhandler(HTTPException)
def _envelope(error: HTTPException):
    """Errors in the original's envelope, with the house error fields (code, status, message, errors) beside it."""
    data = getattr(error, "data", None) or {}
    message = data.get("message") or error.description
    body = {"error_code": error.code, "error_message": message, "code": error.code,
            "status": HTTPStatus(error.code).phrase, "message": message}
    if data.get("errors"):
        body["errors"] = data["errors"]
    response = jsonify(body)
    response.status_code = error.code
    for name, value in [*error.get_headers(), *(data.get("headers") or {}).items()]:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _in_the_envelope(status: int, description: str, message: str) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": LabelingErrorSchema, "example": examples.labeling_error(status, message)}}}


def envelope_access_errors(role: str, json_writes: bool = False, query_args: bool = False):
    """The access checks' 401/403 (and for writes 415, and the body checks' 400/413), and the query
    arguments' 422, documented in the envelope
    these routes answer them in (placed above `requires`, `json_body` and `blp.arguments`, whose
    house-shape documentation it replaces)."""
    responses = {"401": _in_the_envelope(401, "No API key, or one that is unknown or revoked", NO_KEY),
                 "403": _in_the_envelope(403, f"The key's role is below {role}, or a cross-site write",
                                         not_allowed_message(role, Caller("reader", VIEWER, 7)))}
    if json_writes:
        responses["415"] = _in_the_envelope(415, "The body is not JSON", NOT_JSON)
        responses["400"] = _in_the_envelope(400, "The body is not readable JSON (or nested too deeply)",
                                            "The JSON body is nested too deeply to be read.")
        responses["413"] = _in_the_envelope(413, "The body is larger than COLLECTOR_MAX_CONTENT_LENGTH",
                                            "The request body is larger than this service accepts "
                                            "(1048576 bytes at most).")
    if query_args:
        responses["422"] = _in_the_envelope(422, "Invalid query arguments (each named in errors.query)",
                                            "The request was well-formed but was unable to be followed due to "
                                            "semantic errors.")
    return blp.doc(responses=responses)


@blp.route("/", strict_slashes=False)
class LabelingTasks(MethodView):
    @blp.doc(requestBody=examples.LABELING_POST_BODY)
    @envelope_access_errors(OPERATOR, json_writes=True)
    @requires(OPERATOR)
    @json_body
    @blp.response(200, LabelingPostAnswerSchema, description="create_task: the task echoed; abort_task: the "
                                                             "break sent", examples=examples.LABELING_POST_ANSWERS)
    @blp.alt_response(404, schema=LabelingErrorSchema, description="abort_task: no such task",
                      example=examples.LABELING_NO_TASK)
    @blp.alt_response(409, schema=LabelingErrorSchema, description="abort_task: the task has already ended",
                      example=examples.LABELING_FINISHED)
    @blp.alt_response(422, schema=LabelingErrorSchema, description="An invalid body (each key named in errors.json)",
                      example=examples.LABELING_INVALID)
    @blp.alt_response(503, schema=LabelingErrorSchema, description="The queue (Redis) is not available, or the "
                                                                   "password cannot be sealed",
                      example=examples.LABELING_UNAVAILABLE)
    def post(self):
        """create_task (the upper-case body) or abort_task ({"TASK_ID": ...})"""
        body = request.get_json(silent=True) if request.get_data() else None
        if not isinstance(body, dict):
            abort(422, message="The body must be a JSON object.", errors={"json": {"_schema": ["Not a JSON object."]}})
        if "TASK_ID" in body:
            return {"error_code": 200, "error_message": _abort_task(body)}
        return {"error_code": 200, "error_message": labeling_api.created(_create_task(body))}


@blp.route("/<string:task_id>", parameters=[examples.LABELING_TASK_ID])
class LabelingTaskById(MethodView):
    @envelope_access_errors(VIEWER)
    @requires(VIEWER)
    @blp.response(200, LabelingStatusAnswerSchema)
    @blp.alt_response(404, schema=LabelingErrorSchema, description="No such task", example=examples.LABELING_NO_TASK)
    def get(self, task_id):
        """check_status: the state, the dump_result stage and every statistic of a task"""
        return {"error_code": 200, "error_message": labeling_api.status_of(_task_or_404(task_id))}


@blp.route("/<string:task_id>/sample", parameters=[examples.LABELING_TASK_ID])
class LabelingTaskSample(MethodView):
    @envelope_access_errors(VIEWER, query_args=True)
    @requires(VIEWER)
    @blp.arguments(LabelingSampleQueryArgsSchema, location="query")
    @blp.response(200, LabelingSampleAnswerSchema, example=examples.LABELING_SAMPLE)
    @blp.alt_response(404, schema=LabelingErrorSchema, description="No such task", example=examples.LABELING_NO_TASK)
    @blp.alt_response(502, schema=LabelingErrorSchema, description="Your database cannot be read (the reason, "
                                                                   "password masked)")
    @blp.alt_response(503, schema=LabelingErrorSchema, description="Too many samples being read at once, or the "
                                                                   "password cannot be unsealed")
    def get(self, args, task_id):
        """result_sample: labeled rows at random, from the staging table while the task runs (the output after)"""
        task = _task_or_404(task_id)
        sample = sample_of(task, args["size"])
        return {"error_code": 200, "error_message": {**sample, "task_id": labeling_api.task_hex(task.id),
                                                     "stat": labeling_api.STAT[sample["status"]]}}


def _task_or_404(given: str) -> Task:
    task_id = labeling_api.task_uuid(given)
    task = tasks.get_task(task_id) if task_id else None
    if task is None or task.source != "label_table":
        abort(404, message=f"Task {given} not found.")
    return task


def _invalid(messages) -> None:
    keys = ", ".join(sorted(messages)) if isinstance(messages, dict) else ""
    abort(422, message=f"Invalid task: {keys}.", errors={"json": messages})


def _create_task(body: dict) -> Task:
    try:
        start_body = labeling_api.label_table_body(LabelingTaskCreateSchema().load(body), current_app.config)
    except ma.ValidationError as exc:
        _invalid(exc.messages)
    try:
        task, _created = tasks.start_task("label_table", start_body, by=current_caller())
    except ma.ValidationError as exc:
        _invalid(labeling_api.remap_errors(exc.messages))
    except (SealingUnavailable, EnqueueFailed) as exc:
        abort(503, message=str(exc))
    return task


def _abort_task(body: dict) -> str:
    try:
        given = LabelingTaskAbortSchema().load(body)["TASK_ID"]
    except ma.ValidationError as exc:
        _invalid(exc.messages)
    task = _task_or_404(given)
    stat = labeling_api.STAT[task.status]
    try:
        tasks.cancel_task(task.id, by=current_caller())
    except (TaskFinished, LookupError):
        task = _task_or_404(given)
        abort(409, message=f"Task {labeling_api.task_hex(task.id)} is already {labeling_api.STAT[task.status]}; "
                           "nothing to abort.")
    return f"successfully send break status to task {labeling_api.task_hex(task.id)} in state {stat}"
