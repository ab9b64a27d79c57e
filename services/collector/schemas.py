"""Request and response schemas of the collector API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from services.collector.models import STATUSES
from shared.pagination import PaginationQueryArgsSchema


class TaskSchema(ma.Schema):
    id = fields.String(dump_only=True)
    type = fields.String(metadata={"description": "<source>_collect"})
    status = fields.String(metadata={"description": " | ".join(STATUSES)})
    progress = fields.Float()
    total = fields.Float(allow_none=True)
    current_step = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    error = fields.String(allow_none=True)
    result_summary = fields.Dict()
    logs = fields.List(fields.String(), metadata={"description": "The latest lines, '[HH:MM:SS] message'"})
    params = fields.Dict(metadata={"description": "The start params as given, secrets masked"})
    queue = fields.String()
    not_before = fields.AwareDateTime(allow_none=True, metadata={"description": "Start allowed from (countdown)"})
    run_time = fields.Method("get_run_time", metadata={"description": "Seconds from start to end (or now)"})
    peak_memory = fields.Integer(allow_none=True, metadata={"description": "Bytes: peak RSS of its worker process"})
    rows_received = fields.Integer()
    rows_written = fields.Integer()
    rows_rejected = fields.Integer()
    attempt = fields.Integer()

    def get_run_time(self, task):
        from shared.timeutil import utcnow

        if task.started_at is None:
            return None
        return round(((task.completed_at or utcnow()) - task.started_at).total_seconds(), 3)


class TaskListItemSchema(TaskSchema):
    pass


class TaskCreatedSchema(ma.Schema):
    task_id = fields.String()
    message = fields.String()
    status = fields.String()


class TaskCancelledSchema(ma.Schema):
    task_id = fields.String()
    message = fields.String()
    status = fields.String()


class TaskQueryArgsSchema(PaginationQueryArgsSchema):
    status = fields.List(fields.String(validate=ma.validate.OneOf(STATUSES)), load_default=list,
                         metadata={"description": "Repeat or comma-separate for several"})
    source = fields.String(load_default=None)

    @ma.pre_load
    def split_commas(self, data, **kwargs):
        # ?status=running,pending as well as ?status=running&status=pending
        if hasattr(data, "getlist"):
            values = [part for raw in data.getlist("status") for part in raw.split(",") if part]
            data = {**data.to_dict(), **({"status": values} if values else {})}
        return data


class LogLineSchema(ma.Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    level = fields.String()
    message = fields.String()
    line = fields.String(metadata={"description": "'[HH:MM:SS] message'"})


class SummarySchema(ma.Schema):
    total_tasks = fields.Integer()
    pending = fields.Integer()
    running = fields.Integer(metadata={"description": "Running or cancelling"})
    completed = fields.Integer()
    failed = fields.Integer()
    cancelled = fields.Integer()
    timestamp = fields.AwareDateTime()


class CleanupQueryArgsSchema(ma.Schema):
    max_age_hours = fields.Float(load_default=24.0, validate=ma.validate.Range(min=0, max=24 * 365 * 100))


class CleanupSchema(ma.Schema):
    deleted = fields.Integer()
    message = fields.String()


class SourceSchema(ma.Schema):
    name = fields.String()
    type = fields.String()
    description = fields.String()
    params = fields.Dict(metadata={"description": "JSON schema of the start body"})
    secret_params = fields.List(fields.String())
    pacing_seconds = fields.Float()
    schedule = fields.Dict(allow_none=True)
