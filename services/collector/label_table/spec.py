"""The `label_table` start body: which rows to read, which rules to apply, where to write.

At load time everything the worker needs (both URLs with their passwords, the exact rules)
is gathered under one secret param, `sealed_job`: the collector keeps secret params
encrypted (sealing.py) and hands them to the worker unredacted. The task's public params
are the body as given, with the URLs' passwords masked (tasks.start_task redacts them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import marshmallow as ma
from flask import current_app
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.collector.errors import DumpRefused
from services.collector.schemas import RulesCheckedSchema
from services.collector.user_databases import TABLE_NAME, checked_url
from shared.redact import MASK, redact_text

SEALED_JOB = "sealed_job"
NAME_RULE = "1 to 63 letters, digits or underscores, not starting with a digit"


def _identifier(value: str) -> None:
    # Names end up in SQL (quoted by SQLAlchemy too); this rule alone already rules out injection.
    if not TABLE_NAME.match(value):
        raise ma.ValidationError(f"Not a plain SQL name: {NAME_RULE}.")


def _table_name(value: str) -> None:
    _identifier(value)
    if value.lower().startswith("sqlite_"):
        raise ma.ValidationError("Names starting with sqlite_ are reserved by SQLite.")


class DatabaseUrl(ma.fields.String):
    """A PostgreSQL, MySQL/MariaDB or SQLite URL, checked as a dump's is (user_databases.checked_url);
    loads as the URL with our driver."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            url = checked_url(raw, current_app.config)
        except DumpRefused as exc:
            raise ma.ValidationError(str(exc)) from None
        if make_url(url).password and not _masked_by_redaction(raw):
            # The public params keep the URL as given, redacted: refuse what the redaction would miss.
            raise ma.ValidationError("Percent-encode the password's special characters (space as %20, @ as %40).")
        return url


def _masked_by_redaction(raw: str) -> bool:
    try:
        return make_url(redact_text(raw)).password == MASK
    except (ArgumentError, ValueError):
        return False


class InputSchema(ma.Schema):
    database_url = DatabaseUrl(required=True, load_only=True, validate=ma.validate.Length(max=2000), metadata={
        "description": "postgresql://, mysql://, mariadb:// or sqlite:////file (under COLLECTOR_DUMP_SQLITE_DIR)"})
    table = ma.fields.String(required=True, validate=_table_name)
    text_column = ma.fields.String(required=True, validate=_identifier, metadata={"description": "Labeled text"})
    id_column = ma.fields.String(required=True, validate=_identifier, metadata={
        "description": "Unique row id (indexed: rows are read in id order, in chunks)"})
    time_column = ma.fields.String(required=True, validate=_identifier, metadata={
        "description": "A date/time column (text in SQLite); rows with start <= time < end are labeled"})
    author_column = ma.fields.String(load_default=None, validate=_identifier, metadata={
        "description": "Optional: counted for unique_authors"})


class ProductionSchema(ma.Schema):
    table = ma.fields.String(required=True, validate=_table_name, metadata={
        "description": "The production table, in the output database, replaced with the output table when the job "
                       "completes"})
    per = ma.fields.String(load_default="row", validate=ma.validate.OneOf(("row", "author")), metadata={
        "description": "row: one row per labeled input row (id, author_name, labels, matched_terms); author: one row "
                       "per author with a label (author_name, labels, label_counts, rows)"})


class OutputSchema(ma.Schema):
    database_url = DatabaseUrl(load_default=None, load_only=True, validate=ma.validate.Length(max=2000), metadata={
        "description": "Default: the input database"})
    table = ma.fields.String(required=True, validate=_table_name, metadata={
        "description": "Replaced atomically by (id, labels, matched_terms, labeled_at) when the job completes"})


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LabelTableParamsSchema(RulesCheckedSchema):
    input = ma.fields.Nested(InputSchema, required=True)
    start = ma.fields.DateTime(required=True, metadata={"description": "ISO 8601; without an offset, UTC"})
    end = ma.fields.DateTime(required=True, metadata={"description": "Exclusive; after start"})
    rules = ma.fields.Dict(required=True, metadata={
        "description": 'Labeling rules: {"model": "keyword", "labels": {label: [keywords]}} or '
                       '{"model": "regex", "labels": {label: pattern}} (RE2 syntax)'})
    output = ma.fields.Nested(OutputSchema, required=True)
    production = ma.fields.Nested(ProductionSchema, load_default=None, metadata={
        "description": "Optional second stage (dump_result): the labeled output summarised into a production table; "
                       "needs input.author_column"})
    api_request = ma.fields.Dict(load_default=None, metadata={
        "description": "Set by POST /api/tasks/ (the labeling task API): its body as echoed, password masked"})

    @ma.validates_schema(skip_on_field_errors=True)
    def _consistent(self, data, **_):
        if _utc(data["end"]) <= _utc(data["start"]):
            raise ma.ValidationError("Must be after start.", "end")
        source, target = data["input"], data["output"]
        same_database = target["database_url"] in (None, source["database_url"])
        if same_database and target["table"].lower() == source["table"].lower():
            raise ma.ValidationError({"table": ["Must differ from the input table: the output is replaced."]},
                                     "output")
        production = data.get("production")
        if production is not None:
            if not source.get("author_column"):
                raise ma.ValidationError("A production table needs input.author_column.", "production")
            taken = {target["table"].lower()} | ({source["table"].lower()} if same_database else set())
            if production["table"].lower() in taken:
                raise ma.ValidationError({"table": ["Must differ from the output table and the input table."]},
                                         "production")

    @ma.post_load
    def _seal_job(self, data, **_):
        source, target = data.pop("input"), data.pop("output")
        data[SEALED_JOB] = {
            "input_url": source.pop("database_url"),
            "output_url": target["database_url"],
            "input": source,
            "output_table": target["table"],
            "start": _utc(data.pop("start")).isoformat(),
            "end": _utc(data.pop("end")).isoformat(),
            "rules": data.pop("rules"),
            "production": data.pop("production"),
        }
        return data


@dataclass(frozen=True)
class Job:
    """The worker's view of a label_table task (from its sealed param)."""

    input_url: str
    output_url: str
    table: str
    text_column: str
    id_column: str
    time_column: str
    author_column: str | None
    output_table: str
    start: datetime
    end: datetime
    rules: dict
    production_table: str | None = None
    production_per: str = "row"          # "row" or "author" (ProductionSchema)

    @classmethod
    def from_sealed(cls, sealed: dict) -> Job:
        source = sealed["input"]
        return cls(input_url=sealed["input_url"], output_url=sealed["output_url"] or sealed["input_url"],
                   table=source["table"], text_column=source["text_column"], id_column=source["id_column"],
                   time_column=source["time_column"], author_column=source.get("author_column"),
                   output_table=sealed["output_table"], start=datetime.fromisoformat(sealed["start"]),
                   end=datetime.fromisoformat(sealed["end"]), rules=sealed["rules"],
                   production_table=(sealed.get("production") or {}).get("table"),
                   production_per=(sealed.get("production") or {}).get("per", "row"))

    @property
    def passwords(self) -> list[str]:
        return [p for p in {make_url(self.input_url).password, make_url(self.output_url).password} if p]
