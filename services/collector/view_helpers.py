"""What the collector's views (api.py, api_items.py, dashboard.py) share: a task or a 404, and
a source described for GET /sources and the dashboard's forms."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import abort

from services.collector import tasks
from services.collector.models import Task


def task_or_404(task_id: str) -> Task:
    task = tasks.get_task(task_id)
    if task is None:
        abort(404, message=f"Task {task_id} not found.")
    return task


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
