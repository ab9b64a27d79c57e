"""The trials HTTP API."""
from __future__ import annotations

import csv
import io
import json

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from services.trials import trials
from services.trials.models import CONTENT_FIELDS, Trial, db
from services.trials.schemas import (
    BatchResultSchema,
    BatchSchema,
    ExportQueryArgsSchema,
    RecentQueryArgsSchema,
    SnapshotCompleteQueryArgsSchema,
    SnapshotSchema,
    TrialChangeSchema,
    TrialQueryArgsSchema,
    TrialSchema,
)
from shared.api import Blueprint, ErrorSchema, error_example, path_parameter
from shared.auth import service_token_required
from shared.pagination import PAGE_PAST_END, PaginationQueryArgsSchema, page_schema, paginate

blp = Blueprint("trials", __name__, description="Clinical trials: lookup, recent changes, search, history, loading")

EXPORT_COLUMNS = ("trial_id", *CONTENT_FIELDS, "created_at", "updated_at", "withdrawn_at")

# --- Documentation: parameters, worked examples and error messages as the views send them ---

TRIAL_ID = path_parameter("trial_id", "The trial's id: the upstream's project number (과제번호)", "C130010")
SNAPSHOT_ID = path_parameter("snapshot_id", "The snapshot_id its batches were sent with", "pull-20260520T030000Z")
UNKNOWN_TRIAL = "Trial C130010 is not known."

_EXPORT_ROWS = [
    {"trial_id": "C130010", "title": "조직구증식증 임상연구 네트워크 구축 및 운영", "department": "Pediatrics",
     "institution": "서울아산병원", "phase": "코호트", "study_type": "관찰연구", "scope": "국내다기관", "period": "3년",
     "target_subjects": 120, "created_at": "2026-05-13T03:00:41.512907+00:00",
     "updated_at": "2026-05-19T03:00:38.204116+00:00", "withdrawn_at": None},
    {"trial_id": "C150021", "title": "위암 수술 후 장기 추적 레지스트리", "department": "Surgery",
     "institution": "국립암센터", "phase": "코호트", "study_type": "관찰연구", "scope": "단일기관", "period": "5년",
     "target_subjects": None, "created_at": "2026-05-13T03:00:41.512907+00:00",
     "updated_at": "2026-05-13T03:00:41.512907+00:00", "withdrawn_at": None},
]


def _csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(["" if row[c] is None else row[c] for c in EXPORT_COLUMNS] for row in rows)
    return buffer.getvalue()


EXPORT_CSV_EXAMPLE = _csv_text(_EXPORT_ROWS)
EXPORT_JSONL_EXAMPLE = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in _EXPORT_ROWS)
EXPORT_DESCRIPTION = "Every matching trial, streamed: CSV with a header row (format=csv) or JSON lines (format=jsonl)"
EXPORT_HEADERS = {"Content-Disposition": {
    "description": "An attachment named after the format", "schema": {"type": "string"},
    "example": 'attachment; filename="trials.csv"'}}

BATCH_EXAMPLE = {
    "snapshot_id": "pull-20260520T030000Z",
    "records": [
        {"과제번호": "C130010", "과제명": "조직구증식증 임상연구 네트워크 구축 및 운영", "진료과": "Pediatrics",
         "연구책임기관": "서울아산병원", "임상시험단계(연구모형)": "코호트", "연구종류": "관찰연구",
         "연구범위": "국내다기관", "연구기간": "3년", "전체목표연구대상자수": "120"},
        {"trial_id": "C140217", "title": "소아 천식 환자의 흡입 스테로이드 순응도 향상을 위한 중재 연구",
         "department": "Pediatrics", "institution": "삼성서울병원", "phase": "3상", "study_type": "중재연구",
         "scope": "단일기관", "period": "2년", "target_subjects": 200},
        {"과제번호": "C150021", "과제명": "위암 수술 후 장기 추적 레지스트리", "진료과": "Surgery",
         "연구책임기관": "국립암센터", "전체목표연구대상자수": "약 300명"},
    ],
}
BATCH_RESULT_EXAMPLE = {
    "snapshot_id": "pull-20260520T030000Z", "received": 3, "created": 1, "updated": 1, "unchanged": 0,
    "restored": 0, "withdrawn": 0,
    "rejected": [{"index": 2, "trial_id": "C150021", "reason": "target_subjects: Not a valid integer."}],
}
HISTORY_EXAMPLE = {
    "count": 2,
    "data": [
        {"changed_at": "2026-05-19T03:00:38.204116+00:00", "kind": "updated", "snapshot_id": "pull-20260519T030000Z",
         "changes": [{"field": "period", "old": "2년", "new": "3년"},
                     {"field": "target_subjects", "old": 100, "new": 120}]},
        {"changed_at": "2026-05-13T03:00:41.512907+00:00", "kind": "created", "snapshot_id": "pull-20260513T030000Z",
         "changes": [{"field": "title", "old": None, "new": "조직구증식증 임상연구 네트워크 구축 및 운영"},
                     {"field": "department", "old": None, "new": "Pediatrics"},
                     {"field": "institution", "old": None, "new": "서울아산병원"},
                     {"field": "phase", "old": None, "new": "코호트"},
                     {"field": "study_type", "old": None, "new": "관찰연구"},
                     {"field": "scope", "old": None, "new": "국내다기관"},
                     {"field": "period", "old": None, "new": "2년"},
                     {"field": "target_subjects", "old": None, "new": 100}]},
    ],
}


@blp.route("/trials")
class Trials(MethodView):
    @blp.etag
    @blp.arguments(TrialQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, page_schema(TrialSchema))
    @blp.error(404, *PAGE_PAST_END)
    def get(self, page, per_page, **filters):
        """List and search trials

        Every filter narrows the list; `X-Pagination` and `Link` headers describe the pages."""
        return paginate(db.session, trials.filtered_trials(filters), page, per_page)


def _recent(args):
    stmt = trials.recent_trials(args["include_withdrawn"], current_app.config["TRIALS_RECENT_DAYS"])
    return paginate(db.session, stmt, args["page"], args["per_page"])


@blp.route("/trials/recent")
class RecentTrials(MethodView):
    @blp.etag
    @blp.arguments(RecentQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialSchema))
    @blp.error(404, *PAGE_PAST_END)
    def get(self, args):
        """Trials whose content changed in the last 7 x 24 hours, newest first"""
        return _recent(args)


@blp.route("/list")
class RecentTrialsAlias(MethodView):
    @blp.etag
    @blp.arguments(RecentQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialSchema))
    @blp.error(404, *PAGE_PAST_END)
    def get(self, args):
        """Alias of /trials/recent"""
        return _recent(args)


@blp.route("/trials/export")
class TrialExport(MethodView):
    @blp.arguments(ExportQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, {"type": "string"}, content_type="text/csv", description=EXPORT_DESCRIPTION,
                  example=EXPORT_CSV_EXAMPLE, headers=EXPORT_HEADERS)
    @blp.alt_response(200, schema={"type": "string"}, content_type="application/x-ndjson",
                      description=EXPORT_DESCRIPTION, example=EXPORT_JSONL_EXAMPLE)
    def get(self, format, **filters):
        """Export the matching trials as CSV or JSON lines"""
        stmt = trials.filtered_trials(filters)
        rows = stream_with_context(_csv_lines(stmt) if format == "csv" else _jsonl_lines(stmt))
        mimetype = "text/csv" if format == "csv" else "application/x-ndjson"
        return Response(rows, mimetype=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="trials.{format}"'})


def _export_value(trial: Trial, column: str):
    value = getattr(trial, column)
    return value.isoformat() if hasattr(value, "isoformat") else value


def _csv_lines(stmt):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for trial in trials.iter_rows(stmt):
        writer.writerow(["" if v is None else v for v in (_export_value(trial, c) for c in EXPORT_COLUMNS)])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl_lines(stmt):
    for trial in trials.iter_rows(stmt):
        yield json.dumps({c: _export_value(trial, c) for c in EXPORT_COLUMNS}, ensure_ascii=False) + "\n"


def _trial_or_404(trial_id: str) -> Trial:
    # No trial id holds a NUL, and PostgreSQL cannot even compare one: not known, rather than a 500.
    trial = None if "\x00" in trial_id else db.session.get(Trial, trial_id)
    if trial is None:
        abort(404, message=f"Trial {trial_id} is not known.")
    return trial


@blp.route("/trials/<string:trial_id>", parameters=[TRIAL_ID])
class TrialById(MethodView):
    @blp.etag
    @blp.response(200, TrialSchema)
    @blp.error(404, "No trial with this id", UNKNOWN_TRIAL)
    def get(self, trial_id):
        """One trial by its id (과제번호)

        Withdrawn trials are answered too, with `withdrawn_at` set."""
        return _trial_or_404(trial_id)


@blp.route("/trials/<string:trial_id>/history", parameters=[TRIAL_ID])
class TrialHistory(MethodView):
    @blp.arguments(PaginationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialChangeSchema), example=HISTORY_EXAMPLE)
    @blp.alt_response(404, schema=ErrorSchema, description="No trial with this id, or the page is past the last one",
                      examples={"unknown_trial": {"summary": "No trial with this id",
                                                  "value": error_example(404, UNKNOWN_TRIAL)},
                                "page_past_end": {"summary": PAGE_PAST_END[0],
                                                  "value": error_example(404, PAGE_PAST_END[1])}})
    def get(self, args, trial_id):
        """A trial's changes, newest first, as field-level diffs"""
        _trial_or_404(trial_id)
        return paginate(db.session, trials.history_of(trial_id), args["page"], args["per_page"])


@blp.route("/trials/batch")
class TrialBatch(MethodView):
    @service_token_required
    @blp.arguments(BatchSchema, example=BATCH_EXAMPLE)
    @blp.response(200, BatchResultSchema, example=BATCH_RESULT_EXAMPLE)
    @blp.error(409, "The snapshot is already completed (or a concurrent load conflicted twice)",
               "Snapshot pull-20260519T030000Z was completed at 2026-05-19T03:00:09.870251+00:00; "
               "start a new snapshot id.")
    @blp.error(413, "Too many records in one batch (TRIALS_BATCH_MAX, default 5000)",
               "A batch holds at most 5000 records; this one has 5200.")
    def put(self, body):
        """Upsert trial records (English or upstream Korean keys), optionally as part of a snapshot

        Each record is validated on its own: the invalid ones are listed under `rejected` and the rest
        stored. `updated_at` moves, and a history entry is written, only when a trial's content changes."""
        limit = current_app.config["TRIALS_BATCH_MAX"]
        if len(body["records"]) > limit:
            abort(413, message=f"A batch holds at most {limit} records; this one has {len(body['records'])}.")
        try:
            result = trials.store_batch(body["records"], body.get("snapshot_id"))
        except trials.SnapshotError as exc:
            abort(exc.status, message=str(exc))
        current_app.extensions["trials_cache"].clear()
        return result.as_dict()


@blp.route("/trials/snapshots/<string:snapshot_id>/complete", parameters=[SNAPSHOT_ID])
class SnapshotComplete(MethodView):
    @service_token_required
    @blp.arguments(SnapshotCompleteQueryArgsSchema, location="query")
    @blp.response(200, SnapshotSchema)
    @blp.error(404, "Unknown snapshot: no batch was sent with this snapshot_id",
               "Snapshot pull-20260520T030000Z is unknown: send its batches first.")
    @blp.error(409, "The snapshot holds too few of the active trials to be trusted; force=true overrides",
               "Snapshot pull-20260520T030000Z holds 12 of 145 active trials, under the safety ratio 0.5; "
               "completing it would withdraw the rest. Pass force=true if that is intended.")
    def post(self, args, snapshot_id):
        """Complete a full snapshot: withdraw the trials it did not contain

        Snapshots may overlap: a trial that a snapshot started later has seen is left alone.
        Completing an already completed snapshot answers it unchanged."""
        try:
            snapshot = trials.commit_snapshot(snapshot_id, force=args["force"],
                                              min_ratio=current_app.config["TRIALS_MIN_SNAPSHOT_RATIO"])
        except trials.SnapshotError as exc:
            abort(exc.status, message=str(exc))
        current_app.extensions["trials_cache"].clear()
        return snapshot
