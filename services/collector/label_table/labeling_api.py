"""The labeling task API's face of the label_table job (`/api/tasks/`, api_labeling.py): the
original clients' upper-case create_task body turned into a label_table start body, and a
label_table task described as check_status describes it. One engine, two faces: the task is a
label_table task like any other (same worker, staging, cancel, resume and sample).

    MODEL_TYPE keyword_model | rule_model      -> rules.model keyword | regex, PATTERN -> rules.labels
    PREDICT_TYPE content | author_name/author  -> input.text_column: CONTENT_COLUMN | AUTHOR_COLUMN
    SITE_CONFIG + INPUT_SCHEMA / OUTPUT_SCHEMA -> input / output database_url (MySQL/MariaDB: the schema is
                                                  the database; PostgreSQL: SITE_CONFIG.db, the schema as
                                                  search_path), checked like any label_table URL
    START_TIME, END_TIME                       -> start, end (a date is its midnight)
    COUNTDOWN, QUEUE                           -> countdown, queue (a name not in COLLECTOR_QUEUES: the default)
    dump_result                                -> production {table: PROD_TABLE, per: row | author}
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import marshmallow as ma

from services.collector.errors import DumpRefused
from services.collector.labeling import RulesError, compile_rules
from services.collector.models import CANCELLED, CANCELLING, COMPLETED, FAILED, PENDING, RUNNING, Task
from services.collector.user_databases import checked_url
from shared.redact import MASK
from shared.timeutil import utcnow

MODELS = {"keyword_model": "keyword", "rule_model": "regex"}
MODEL_TYPES = {model: name for name, model in MODELS.items()}
STAT = {PENDING: "PENDING", RUNNING: "STARTED", CANCELLING: "STARTED", COMPLETED: "SUCCESS", FAILED: "FAILURE",
        CANCELLED: "REVOKED"}
DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432}
MAX_NAME = 63
# Where each label_table field came from in the body, to name it in an error.
BODY_KEYS = {("input", "database_url"): "SITE_CONFIG", ("output", "database_url"): "SITE_CONFIG",
             ("input", "table"): "INPUT_TABLE", ("input", "id_column"): "ID_COLUMN",
             ("input", "time_column"): "TIME_COLUMN", ("input", "author_column"): "AUTHOR_COLUMN",
             ("output", "table"): "OUTPUT_TABLE", ("production", "table"): "PROD_TABLE", ("production",): "PROD_TABLE",
             ("start",): "START_TIME", ("end",): "END_TIME", ("rules",): "PATTERN", ("countdown",): "COUNTDOWN",
             ("queue",): "QUEUE", ("output",): "OUTPUT_TABLE"}


def task_hex(task_id: str) -> str:
    """The id as the original answers it: 32 hex digits."""
    return uuid.UUID(task_id).hex


def task_uuid(given: str) -> str | None:
    """Our id (a dashed UUID) for a 32-hex id or a dashed one; None if it is neither."""
    try:
        return str(uuid.UUID(hex=given)) if len(given) in (32, 36) else None
    except ValueError:
        return None


def predicts_author(predict_type: str) -> bool:
    return predict_type in ("author_name", "author")


def label_table_body(data: dict, config) -> dict:
    """The label_table start body for a loaded create_task body (schemas.LabelingTaskCreateSchema).
    Raises ma.ValidationError keyed by the create_task body's own keys."""
    site = data["SITE_CONFIG"]
    input_schema = data["INPUT_SCHEMA"] or site["db"]
    output_schema = data["OUTPUT_SCHEMA"] or input_schema
    errors: dict = {}
    if not input_schema:
        errors["INPUT_SCHEMA"] = ["Missing: give INPUT_SCHEMA or SITE_CONFIG.db."]
    if site["driver"] == "postgresql" and not site["db"]:
        errors["SITE_CONFIG"] = {"db": ["PostgreSQL needs the database name; INPUT_SCHEMA and OUTPUT_SCHEMA are "
                                        "schemas in it."]}
    try:
        compile_rules({"model": MODELS[data["MODEL_TYPE"]], "labels": data["PATTERN"]})
    except RulesError as exc:
        errors["PATTERN"] = {key.removeprefix("rules.labels.").removeprefix("rules."): [reason]
                             for key, reason in exc.errors.items()}
    table = data["INPUT_TABLE"]
    output_table = data["OUTPUT_TABLE"] or f"{table}_output"
    prod_table = data["PROD_TABLE"] or f"{table}_prod"
    for key, name in (("OUTPUT_TABLE", output_table), ("PROD_TABLE", prod_table)):
        if len(name) > MAX_NAME:
            errors[key] = [f"The default name {name} is longer than {MAX_NAME} characters: give {key}."]
    if errors:
        raise ma.ValidationError(errors)
    input_url, output_url = _checked(site, input_schema, config), _checked(site, output_schema, config)
    author = predicts_author(data["PREDICT_TYPE"])
    queues = config["COLLECTOR_QUEUES"]
    return {
        "input": {"database_url": input_url, "table": table, "id_column": data["ID_COLUMN"],
                  "text_column": data["AUTHOR_COLUMN"] if author else data["CONTENT_COLUMN"],
                  "time_column": data["TIME_COLUMN"], "author_column": data["AUTHOR_COLUMN"]},
        "start": _instant(data["START_TIME"]), "end": _instant(data["END_TIME"]),
        "rules": {"model": MODELS[data["MODEL_TYPE"]], "labels": data["PATTERN"]},
        "output": {"database_url": None if output_url == input_url else output_url, "table": output_table},
        "production": {"table": prod_table, "per": "author" if author else "row"},
        "api_request": _echo(data, input_schema, output_schema, output_table, prod_table),
        "countdown": data["COUNTDOWN"],
        "queue": data["QUEUE"] if data["QUEUE"] in queues else queues[0],
    }


def remap_errors(messages) -> dict:
    """label_table's validation messages ({"input": {"table": [...]}, ...}) under the create_task body's keys."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    remapped: dict = {}
    for key, value in messages.items():
        if isinstance(value, dict) and any((key, inner) in BODY_KEYS for inner in value):
            for inner, reason in value.items():
                remapped[BODY_KEYS.get((key, inner), f"{key}.{inner}")] = reason
        else:
            remapped[BODY_KEYS.get((key,), key)] = value
    return remapped


def _checked(site: dict, schema: str, config) -> str:
    """The URL SITE_CONFIG and a schema name make, checked as every label_table URL is (user_databases.py:
    scheme, driver options, COLLECTOR_OUTBOUND_ALLOW)."""
    driver = site["driver"]
    if driver == "postgresql":
        database, query = site["db"], {"options": f"-c search_path={schema}"}
    else:
        database, query = schema, ({"charset": site["charset"]} if site["charset"] else {})
    # Every character of the user and password percent-encoded: any password works, and the URL's redaction
    # (shared/redact.py, what the task's public params keep) always finds it.
    password = f":{quote(site['password'], safe='')}" if site["password"] else ""
    host = site["host"] if ":" not in site["host"] or site["host"].startswith("[") else f"[{site['host']}]"
    url = (f"{driver}://{quote(site['user'], safe='')}{password}@{host}:{site['port'] or DEFAULT_PORTS[driver]}"
           f"/{database}" + (f"?{urlencode(query)}" if query else ""))
    try:
        checked_url(url, config)
    except DumpRefused as exc:
        raise ma.ValidationError({"SITE_CONFIG": [str(exc)]}) from None
    return url   # as built (label_table's DatabaseUrl checks it again, and that its redaction masks the password)


def _instant(bound: str) -> str:
    return f"{bound}T00:00:00" if len(bound) == 10 else bound    # a date (YYYY-MM-DD): its midnight


def _echo(data: dict, input_schema: str, output_schema: str, output_table: str, prod_table: str) -> dict:
    site = data["SITE_CONFIG"]
    return {
        "model_type": data["MODEL_TYPE"], "predict_type": data["PREDICT_TYPE"],
        "start_time": data["START_TIME"], "end_time": data["END_TIME"],
        "target_schema": input_schema, "target_table": data["INPUT_TABLE"],
        "output_schema": output_schema, "output_table": output_table, "prod_table": prod_table,
        "countdown": data["COUNTDOWN"], "queue": data["QUEUE"],
        "columns": {"id": data["ID_COLUMN"], "content": data["CONTENT_COLUMN"], "author_name": data["AUTHOR_COLUMN"],
                    "created_at": data["TIME_COLUMN"]},
        "site_config": {"host": site["host"], "port": site["port"] or DEFAULT_PORTS[site["driver"]],
                        "user": site["user"], "password": MASK, "db": site["db"], "charset": site["charset"],
                        "driver": site["driver"]},
        "date_range": f"{data['START_TIME']} - {data['END_TIME']}",
    }


def created(task: Task) -> dict:
    """create_task's answer payload: the task echoed, with its id."""
    return {**(task.params.get("api_request") or {}), "task_id": task_hex(task.id)}


def status_of(task: Task) -> dict:
    """check_status's payload: every documented field, from the task row."""
    params, state, summary = task.params or {}, task.resume_state or {}, task.result_summary or {}
    asked = params.get("api_request") or {}
    source = params.get("input") or {}
    done = task.status == COMPLETED
    production = asked.get("prod_table") or (params.get("production") or {}).get("table")
    received = summary.get("rows_received", state.get("done")) if done else state.get("done")
    labeled = summary.get("rows_labeled") if done else state.get("labeled")
    authors = summary.get("unique_authors") if done else state.get("unique_authors")
    output_table = asked.get("output_table") or (params.get("output") or {}).get("table")
    where = f"{asked['output_schema']}." if asked.get("output_schema") else ""
    return {
        "task_id": task_hex(task.id),
        "stat": STAT[task.status],
        "prod_stat": _prod_stat(task, state, summary) if production else None,
        "model_type": asked.get("model_type") or MODEL_TYPES.get((params.get("rules") or {}).get("model")),
        "predict_type": asked.get("predict_type"),
        "date_range": asked.get("date_range") or f"{params.get('start')} - {params.get('end')}",
        "target_table": asked.get("target_table") or source.get("table"),
        "create_time": _utc(task.created_at).strftime("%Y-%m-%dT%H:%M:%S"),
        "peak_memory": task.peak_memory,
        "length_receive_table": task.rows_received,
        "length_output_table": task.rows_written,
        "length_prod_table": str(summary["rows_in_production_table"])
        if done and summary.get("rows_in_production_table") is not None else None,
        "result": f"{where}{production or output_table}" if done else None,
        "uniq_source_author": str(authors) if authors is not None else None,
        "rate_of_label": f"{100 * labeled / received:.2f}" if received else ("0.00" if received == 0 else None),
        "run_time": round(((_utc(task.completed_at) if task.completed_at else utcnow())
                           - _utc(task.started_at)).total_seconds(), 4) if task.started_at else None,
        "check_point": None if task.finished or state.get("total") is None else {
            "stage": "dump_result" if state.get("prod_stat") == "running" else "label",
            "last_id": state.get("last_id"), "rows_done": state.get("done"), "rows_total": state.get("total"),
            "attempt": task.attempt},
        "error_message": task.error,
    }


def _prod_stat(task: Task, state: dict, summary: dict) -> str:
    if task.status == COMPLETED:
        return summary.get("prod_stat", "finish")
    if task.status in (FAILED, CANCELLED):
        return "failed" if task.status == FAILED else "revoked"
    return "running" if state.get("prod_stat") == "running" else "pending"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
