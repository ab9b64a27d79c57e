"""The OpenAPI examples and documented parameters of the collector API (api.py, api_items.py, api_labeling.py),
kept here so that the view modules read as views.

The field-level examples are on the schemas themselves (schemas.py); these are the request
bodies, path parameters, error answers and whole responses the views' decorators show.
"""
from __future__ import annotations

from services.collector import items
from services.collector.item_dumps import DUMP_NOT_QUEUED
from services.collector.schemas import DUMP_ID as DUMP_ID_EXAMPLE
from services.collector.schemas import LABELING_TASK_ID as LABELING_TASK_ID_EXAMPLE
from services.collector.schemas import (
    RULES,
    ItemSchema,
    LabeledRowSchema,
    LabelingTaskCreateSchema,
    LabelTableSampleSchema,
)
from services.collector.schemas import TASK_ID as TASK_ID_EXAMPLE
from services.collector.sealing import NO_KEY_MESSAGE
from services.collector.sources import SOURCES
from services.collector.tasks import NOT_QUEUED_MESSAGE
from shared.api import error_example, path_parameter
from shared.pagination import PAGE_PAST_END

TODAY, YESTERDAY = "2026-05-20", "2026-05-19"

# --- path parameters --------------------------------------------------------------------------
TASK_ID = path_parameter("task_id", "The task's id, a UUID (as POST /{source}/start returned it)", TASK_ID_EXAMPLE)
DUMP_ID = path_parameter("dump_id", "The dump's id, a UUID (as POST /task/{task_id}/dump returned it)", DUMP_ID_EXAMPLE)
NO_TASK = ("No task with this id", f"Task {TASK_ID_EXAMPLE} not found.")
LOGS_NOT_FOUND = {"unknown_task": {"summary": NO_TASK[0], "value": error_example(404, NO_TASK[1])},
                  "past_the_end": {"summary": PAGE_PAST_END[0], "value": error_example(404, PAGE_PAST_END[1])}}
NO_DUMP = ("No dump with this id", f"Dump {DUMP_ID_EXAMPLE} not found.")
DUMP_ENDED = ("The dump has already ended", f"Dump {DUMP_ID_EXAMPLE} is already completed; nothing to cancel.")

# --- starting a task --------------------------------------------------------------------------
# One start body per source: the fields each accepts are in GET /sources (plus the common ones).
START_EXAMPLES = {
    "trials": {"summary": "trials: a full odcloud snapshot into the trials service",
               "value": {"per_page": 100, "idempotency_key": f"trials-{TODAY}"}},
    "grader": {"summary": "grader: one UTC day of attempts, then its daily report",
               "value": {"target_date": YESTERDAY, "window_minutes": 60}},
    "babitalk": {"summary": "babitalk: reviews and talks back to a day, labeled by keywords",
                 "value": {"target_date": YESTERDAY, "categories": ["reviews", "talks"], "limit": 200,
                           "rules": RULES}},
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
                              "rules": RULES, "output": {"table": "comments_labels"},
                              "countdown": 3600}},
}
START_BODY = {"description": "The source's params (GET /sources) plus countdown, queue, idempotency_key, "
                             "callback_url", "required": False,
              "content": {"application/json": {"schema": {"type": "object"}, "examples": START_EXAMPLES}}}
# Named as the body's examples, so each body goes with its source (in Swagger UI and in schemathesis' examples phase).
SOURCE = {"in": "path", "name": "source", "description": "A source's name (GET /sources lists them with their params)",
          "schema": {"type": "string", "enum": list(SOURCES)},
          "examples": {name: {"summary": name, "value": name} for name in START_EXAMPLES}}
UNKNOWN_SOURCE = ("Unknown source", "Unknown source 'cafe'; known: " + ", ".join(sorted(SOURCES)) + ".")
IDEMPOTENCY_CONFLICT = ("Idempotency key reused with another body",
                        f"Idempotency key already used by task {TASK_ID_EXAMPLE} with another body.")
INVALID_START = error_example(422, "Invalid start params: target_date.",
                              errors={"json": {"target_date": ["Missing data for required field."]}})
SECRET_KEY_MISSING = {"summary": "no COLLECTOR_SECRET_KEY or SERVICE_TOKEN",
                      "value": error_example(503, NO_KEY_MESSAGE)}
START_UNAVAILABLE = {"queue": {"summary": "Redis is down", "value": error_example(503, NOT_QUEUED_MESSAGE)},
                     "secret_key": SECRET_KEY_MISSING}
ALREADY_FINISHED = ("The task has already finished", f"Task {TASK_ID_EXAMPLE} is already completed; nothing to cancel.")

# --- collected items: sample, export, dump ----------------------------------------------------
ITEM_EXAMPLE = {name: field.metadata["example"] for name, field in ItemSchema().fields.items()}
# The exports of the one example item, written by the code that writes the real ones.
CSV_EXAMPLE = "".join(items.csv_lines([ITEM_EXAMPLE]))
JSONL_EXAMPLE = "".join(items.jsonl_lines([ITEM_EXAMPLE]))
EXPORT_DESCRIPTION = "CSV (header row; labels ';'-joined) or JSON Lines, streamed as an attachment"
CONTENT_DISPOSITION = {"Content-Disposition": {
    "description": "attachment; filename=\"<source>-<task_id>.<format>\"", "schema": {"type": "string"},
    "example": f'attachment; filename="babitalk-{TASK_ID_EXAMPLE}.csv"'}}
LABEL_TABLE_SAMPLE = {name: field.metadata["example"] for name, field in LabelTableSampleSchema().fields.items()
                      if name != "data"} | {"data": [{name: field.metadata["example"]
                                                      for name, field in LabeledRowSchema().fields.items()}]}
SAMPLE_EXAMPLES = {
    "items": {"summary": "a community task: collected items",
              "value": {"task_id": TASK_ID_EXAMPLE, "status": "running", "count": 63,
                        "data": [ITEM_EXAMPLE]}},
    "label_table": {"summary": "a label_table task: labeled rows of your table, with their text",
                    "value": LABEL_TABLE_SAMPLE},
}
SAMPLE_UNREADABLE = ("label_table: your database cannot be read (the reason, password masked)",
                     "Cannot read the sample from postgresql db.internal:5432/posts as analyst: connection failed: "
                     "connection to server at \"10.0.3.17\", port 5432 failed: Connection refused Is the server "
                     "running on that host and accepting TCP/IP connections?")
SAMPLE_SEALED = ("label_table: the task's secret params cannot be decrypted (COLLECTOR_SECRET_KEY)",
                 "The task's secret params cannot be decrypted with the configured key.")
REFUSED_SCHEME = "Scheme 'oracle' is not accepted; use postgresql, mysql, mariadb or sqlite."
DUMP_REFUSED = error_example(422, REFUSED_SCHEME, errors={"json": {"database_url": [REFUSED_SCHEME]}})
DUMP_UNAVAILABLE = {"queue": {"summary": "Redis is down", "value": error_example(503, DUMP_NOT_QUEUED)},
                    "secret_key": SECRET_KEY_MISSING}

# --- the labeling task API (/api/tasks/, api_labeling.py) --------------------------------------
LABELING_TASK_ID = path_parameter("task_id", "The task's id: 32 hex digits, as create_task answered it (a dashed "
                                             "UUID is accepted too)", LABELING_TASK_ID_EXAMPLE)
LABELING_CREATE = {
    "MODEL_TYPE": "keyword_model", "PREDICT_TYPE": "author_name", "START_TIME": "2020-01-01", "END_TIME": "2021-01-01",
    "PATTERN": {"beauty": ["makeup", "skincare"], "pets": ["cat", "dog"]},
    "INPUT_SCHEMA": "wh_tiktok", "INPUT_TABLE": "ts_page_content", "OUTPUT_SCHEMA": "audience_result",
    "COUNTDOWN": 5, "QUEUE": "queue1",
    "SITE_CONFIG": {"host": "10.0.3.17", "port": 3306, "user": "analyst", "password": "s3cret-password",
                    "db": "wh_tiktok", "charset": "utf8mb4"}}
LABELING_POST_BODY = {
    "description": "create_task (upper-case keys, as the original documents them) or abort_task ({\"TASK_ID\"}: the "
                   "body tells them apart). Schemas: LabelingTaskCreate, LabelingTaskAbort",
    "required": True,
    # The schema shown is create_task's (LabelingTaskCreate); abort_task's body is LabelingTaskAbort.
    "content": {"application/json": {"schema": LabelingTaskCreateSchema, "examples": {
        "create_task": {"summary": "create_task: label a year of TikTok authors by name (MySQL)",
                        "value": LABELING_CREATE},
        "create_task_rule_model": {"summary": "create_task: regex rules on the post text, PostgreSQL, own columns",
                                   "value": {**LABELING_CREATE, "MODEL_TYPE": "rule_model", "PREDICT_TYPE": "content",
                                             "PATTERN": {"question": "[?？]\\s*$", "price": "가격|비[싸쌌]"},
                                             "INPUT_SCHEMA": "public", "OUTPUT_SCHEMA": "labels",
                                             "CONTENT_COLUMN": "body", "TIME_COLUMN": "posted_at",
                                             "SITE_CONFIG": {**LABELING_CREATE["SITE_CONFIG"], "port": 5432,
                                                             "db": "posts", "driver": "postgresql"}}},
        "abort_task": {"summary": "abort_task", "value": {"TASK_ID": LABELING_TASK_ID_EXAMPLE}}}}}}
LABELING_ECHO = {"model_type": "keyword_model", "predict_type": "author_name", "start_time": "2020-01-01",
                 "end_time": "2021-01-01", "target_schema": "wh_tiktok", "target_table": "ts_page_content",
                 "output_schema": "audience_result", "output_table": "ts_page_content_output",
                 "prod_table": "ts_page_content_prod", "countdown": 5, "queue": "queue1",
                 "columns": {"id": "id", "content": "content", "author_name": "author_name",
                             "created_at": "created_at"},
                 "site_config": {**LABELING_CREATE["SITE_CONFIG"], "password": "***", "driver": "mysql"},
                 "date_range": "2020-01-01 - 2021-01-01", "task_id": LABELING_TASK_ID_EXAMPLE}
LABELING_POST_ANSWERS = {
    "create_task": {"summary": "create_task: the task echoed (password masked), with its id",
                    "value": {"error_code": 200, "error_message": LABELING_ECHO}},
    "abort_task": {"summary": "abort_task: a running task stops at its next chunk",
                   "value": {"error_code": 200, "error_message": "successfully send break status to task "
                                                                  f"{LABELING_TASK_ID_EXAMPLE} in state STARTED"}}}


def labeling_error(status: int, message: str, **extra) -> dict:
    """An error of the labeling task API: the original's envelope, the house error fields beside it."""
    return {"error_code": status, "error_message": message, **error_example(status, message, **extra)}


LABELING_INVALID = labeling_error(422, "Invalid task: PATTERN, SITE_CONFIG.", errors={"json": {
    "PATTERN": {"beauty": ["must be a non-empty list of keywords"]},
    "SITE_CONFIG": ["The host is not allowed (COLLECTOR_OUTBOUND_ALLOW)."]}})
LABELING_NO_TASK = labeling_error(404, f"Task {LABELING_TASK_ID_EXAMPLE} not found.")
LABELING_FINISHED = labeling_error(409, f"Task {LABELING_TASK_ID_EXAMPLE} is already SUCCESS; nothing to abort.")
LABELING_UNAVAILABLE = labeling_error(503, NOT_QUEUED_MESSAGE)
LABELING_SAMPLE = {"error_code": 200, "error_message": {
    "task_id": LABELING_TASK_ID_EXAMPLE, "stat": "STARTED", "table": f"lt_stage_{LABELING_TASK_ID_EXAMPLE}",
    "count": 5000, "data": LABEL_TABLE_SAMPLE["data"]}}
