"""The console's start forms, generated from each source's start schema (tasks.start_schema):
one widget per marshmallow field (a date picker for a Date, a select for a OneOf, a multi-select
for a list of choices, a rules editor for `rules`, a fieldset for a Nested schema), the posted
form read back into the JSON body the API takes, and the schema's errors put next to their field.

Nothing here validates on its own: the body goes through the same `tasks.start_task` as
`POST /<source>/start`, so the console and the API accept and refuse the same bodies.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma

from services.collector.labeling import RulesError, compile_rules
from services.collector.tasks import COMMON_FIELDS, start_schema
from shared.redact import MASK

RULES_EXAMPLE = {"model": "keyword", "labels": {"price": ["가격", "비싸"], "swelling": ["붓기"]}}


@dataclass
class FormField:
    name: str                      # the dotted path in the body: "input.table"
    label: str
    widget: str                    # text, password, number, date, datetime, checkbox, tristate, select,
    #                                multiselect, rules, json, url, fieldset
    required: bool = False
    description: str = ""
    choices: list[str] = field(default_factory=list)
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    kind: str = "string"           # how the posted text is read back: string, integer, number, boolean, object
    advanced: bool = False         # the common fields (queue, countdown, ...) go under "More options"
    children: list[FormField] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def _range(f: ma.fields.Field) -> tuple[float | None, float | None]:
    for validator in f.validators:
        if isinstance(validator, ma.validate.Range):
            return validator.min, validator.max
    return None, None


def _choices(f: ma.fields.Field) -> list[str]:
    for validator in f.validators:
        if isinstance(validator, ma.validate.OneOf):
            return [str(choice) for choice in validator.choices]
    return []


def _default(f: ma.fields.Field) -> Any:
    default = f.load_default
    if default is ma.missing:
        return None
    return default() if callable(default) else default


def describe_field(name: str, f: ma.fields.Field, secrets: set[str], queues: list[str]) -> FormField:
    label = name.rsplit(".", 1)[-1].replace("_", " ")
    base = {"name": name, "label": label, "required": f.required,
            "description": f.metadata.get("description", ""), "default": _default(f)}
    leaf = name.rsplit(".", 1)[-1]
    if isinstance(f, ma.fields.Nested):
        schema = f.schema
        children = [describe_field(f"{name}.{child}", sub, secrets, queues)
                    for child, sub in schema.fields.items() if not sub.dump_only]
        return FormField(widget="fieldset", kind="object", children=children, **base)
    if leaf == "rules":
        return FormField(widget="rules", kind="object", **base)
    if isinstance(f, ma.fields.Dict):
        return FormField(widget="json", kind="object", **base)
    if isinstance(f, ma.fields.Boolean):
        # A boolean whose default is "decide for me" (None) needs three states, not a checkbox.
        return FormField(widget="tristate" if base["default"] is None else "checkbox", kind="boolean", **base)
    if isinstance(f, ma.fields.List):
        choices = _choices(f.inner)
        return FormField(widget="multiselect" if choices else "text", kind="list", choices=choices, **base)
    if isinstance(f, ma.fields.Integer | ma.fields.Float):
        low, high = _range(f)
        integer = isinstance(f, ma.fields.Integer)
        return FormField(widget="number", kind="integer" if integer else "number", minimum=low, maximum=high,
                         step="1" if integer else "any", **base)
    if isinstance(f, ma.fields.DateTime):  # AwareDateTime and NaiveDateTime are DateTimes too
        return FormField(widget="datetime", **base)
    if isinstance(f, ma.fields.Date):
        return FormField(widget="date", **base)
    if leaf == "queue" and "." not in name:
        return FormField(widget="select", choices=list(queues), **{**base, "default": queues[0]})
    choices = _choices(f)
    if choices:
        return FormField(widget="select", choices=choices, **base)
    if isinstance(f, ma.fields.Url):
        return FormField(widget="url", **base)
    secret = leaf in secrets or f.load_only
    return FormField(widget="password" if secret else "text", **base)


def form_fields(source, queues: list[str]) -> list[FormField]:
    """The start form of `source`: its own fields first, then the common ones (marked advanced)."""
    schema = start_schema(source.name)()
    secrets = set(source.secret_params)
    described = []
    for name, f in schema.fields.items():
        if f.dump_only:
            continue
        entry = describe_field(name, f, secrets, queues)
        entry.advanced = name in COMMON_FIELDS or (entry.widget == "json" and not entry.required)
        described.append(entry)
    return described


def _flat(fields: list[FormField]):
    for entry in fields:
        yield entry
        yield from _flat(entry.children)


# --- the posted form, read back into a body --------------------------------------------------------

def _value(entry: FormField, form) -> tuple[Any, str | None]:
    """(value or ma.missing, a parse error) for one leaf field."""
    if entry.widget == "multiselect":
        chosen = [value for value in form.getlist(entry.name) if value]
        return (chosen if chosen else ma.missing), None
    if entry.widget == "checkbox":
        return entry.name in form, None
    raw = (form.get(entry.name) or "").strip()
    if raw == "":
        return ma.missing, None
    if entry.widget == "tristate":
        return raw == "yes", None
    if entry.kind == "object":
        try:
            return json.loads(raw), None
        except ValueError as exc:
            return ma.missing, f"Not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
    if entry.kind == "integer":
        try:
            return int(raw), None
        except ValueError:
            return raw, None  # the schema says why ("Not a valid integer.")
    if entry.kind == "number":
        try:
            return float(raw), None
        except ValueError:
            return raw, None
    if entry.kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()], None
    return raw, None


def read_body(fields: list[FormField], form) -> tuple[dict, dict[str, list[str]]]:
    """The JSON body a posted start form stands for, and the errors found before the schema runs
    (text that is not JSON in a JSON field). Empty optional fields are left out, so defaults apply."""
    body: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for entry in fields:
        if entry.widget == "fieldset":
            inner, inner_errors = read_body(entry.children, form)
            errors.update(inner_errors)
            # An optional part (label_table's production) only when something in it differs from its defaults.
            given = any(inner.get(child.name.rsplit(".", 1)[-1], child.default) != child.default
                        for child in entry.children)
            if entry.required or given:
                body[entry.name.rsplit(".", 1)[-1]] = inner
            continue
        value, error = _value(entry, form)
        if error:
            errors[entry.name] = [error]
        elif value is not ma.missing:
            body[entry.name.rsplit(".", 1)[-1]] = value
    return body, errors


def field_errors(messages: Any, fields: list[FormField]) -> tuple[dict[str, list[str]], list[str]]:
    """The schema's (or the API's 422 `errors.json`) messages by form field: each goes to the
    deepest field its path names ("input.table"); a deeper path (a rule's label) is kept in the text.
    Messages that name no field (`_schema`) are returned apart, for the top of the form."""
    known = {entry.name for entry in _flat(fields)}
    by_field: dict[str, list[str]] = {}
    general: list[str] = []

    def walk(value, path: list[str]):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, [*path, *str(key).split(".")] if key != "_schema" else path)
            return
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, dict):
                walk(text, path)
                continue
            for cut in range(len(path), 0, -1):
                name = ".".join(path[:cut])
                if name in known:
                    rest = ".".join(path[cut:])
                    by_field.setdefault(name, []).append(f"{rest}: {text}" if rest else str(text))
                    break
            else:
                general.append(f"{'.'.join(path)}: {text}" if path else str(text))

    walk(messages, [])
    return by_field, general


def check_rules(text: str) -> tuple[bool, str]:
    """The rules editor's check before sending: (ok, what to show under the editor)."""
    if not text.strip():
        return True, "No rules: items are collected without labels."
    try:
        spec = json.loads(text)
    except ValueError as exc:
        return False, f"Not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
    try:
        rules = compile_rules(spec)
    except RulesError as exc:
        return False, "; ".join(f"{key}: {reason}" for key, reason in exc.errors.items())
    labels = sorted(spec.get("labels", {})) if rules is not None else []
    return True, f"Valid {spec.get('model')} rules: {len(labels)} labels ({', '.join(labels)})."


# --- a finished task's params, back into a form -------------------------------------------------

def prefill(params: dict, fields: list[FormField]) -> dict[str, Any]:
    """Form values (by dotted name) from a task's public params; masked secrets are left empty."""
    values: dict[str, Any] = {}

    def walk(value, path: str):
        if isinstance(value, dict) and path not in objects:
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else key)
            return
        if value == MASK or (isinstance(value, str) and f":{MASK}@" in value):
            return  # a masked secret (or a URL's masked password): the operator types it again
        values[path] = value

    objects = {entry.name for entry in _flat(fields) if entry.kind == "object" and entry.widget != "fieldset"}
    walk(params, "")
    return values


def display_value(entry: FormField, values: dict[str, Any]) -> Any:
    """What a widget shows: the posted or prefilled value, else the field's default."""
    value = values.get(entry.name, entry.default)
    if entry.kind == "object" and value is not None and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, indent=2)
    if entry.widget == "datetime" and isinstance(value, str):
        return value[:16]  # what <input type=datetime-local> takes: YYYY-MM-DDTHH:MM
    return value
