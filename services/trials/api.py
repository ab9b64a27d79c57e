"""The trials HTTP API."""
from __future__ import annotations

import csv
import io
import json

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort

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
from shared.api import ErrorSchema
from shared.auth import service_token_required
from shared.pagination import PaginationQueryArgsSchema, page_schema, paginate

blp = Blueprint("trials", __name__, description="Clinical trials: lookup, recent changes, search, history, loading")

EXPORT_COLUMNS = ("trial_id", *CONTENT_FIELDS, "created_at", "updated_at", "withdrawn_at")


@blp.route("/trials")
class Trials(MethodView):
    @blp.etag
    @blp.arguments(TrialQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, page_schema(TrialSchema))
    def get(self, page, per_page, **filters):
        """List and search trials"""
        return paginate(db.session, trials.filtered_trials(filters), page, per_page)


def _recent(args):
    stmt = trials.recent_trials(args["include_withdrawn"], current_app.config["TRIALS_RECENT_DAYS"])
    return paginate(db.session, stmt, args["page"], args["per_page"])


@blp.route("/trials/recent")
class RecentTrials(MethodView):
    @blp.etag
    @blp.arguments(RecentQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialSchema))
    def get(self, args):
        """Trials whose content changed in the last 7 x 24 hours, newest first"""
        return _recent(args)


@blp.route("/list")
class RecentTrialsAlias(MethodView):
    @blp.etag
    @blp.arguments(RecentQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialSchema))
    def get(self, args):
        """Alias of /trials/recent"""
        return _recent(args)


@blp.route("/trials/export")
class TrialExport(MethodView):
    @blp.arguments(ExportQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, content_type="text/csv", description="CSV (or JSON lines) of every matching trial, streamed")
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


@blp.route("/trials/<string:trial_id>")
class TrialById(MethodView):
    @blp.etag
    @blp.response(200, TrialSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No trial with this id")
    def get(self, trial_id):
        """One trial by its id (과제번호)"""
        return db.get_or_404(Trial, trial_id, description=f"Trial {trial_id} is not known.")


@blp.route("/trials/<string:trial_id>/history")
class TrialHistory(MethodView):
    @blp.arguments(PaginationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialChangeSchema))
    @blp.alt_response(404, schema=ErrorSchema, description="No trial with this id")
    def get(self, args, trial_id):
        """A trial's changes, newest first, as field-level diffs"""
        db.get_or_404(Trial, trial_id, description=f"Trial {trial_id} is not known.")
        return paginate(db.session, trials.history_of(trial_id), args["page"], args["per_page"])


@blp.route("/trials/batch")
class TrialBatch(MethodView):
    @service_token_required
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchResultSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="The snapshot is already completed")
    @blp.alt_response(413, schema=ErrorSchema, description="Too many records in one batch")
    def put(self, body):
        """Upsert trial records (English or upstream Korean keys), optionally as part of a snapshot"""
        limit = current_app.config["TRIALS_BATCH_MAX"]
        if len(body["records"]) > limit:
            abort(413, message=f"A batch holds at most {limit} records; this one has {len(body['records'])}.")
        try:
            result = trials.store_batch(body["records"], body.get("snapshot_id"))
        except trials.SnapshotError as exc:
            abort(exc.status, message=str(exc))
        current_app.extensions["trials_cache"].clear()
        return result.as_dict()


@blp.route("/trials/snapshots/<string:snapshot_id>/complete")
class SnapshotComplete(MethodView):
    @service_token_required
    @blp.arguments(SnapshotCompleteQueryArgsSchema, location="query")
    @blp.response(200, SnapshotSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Unknown snapshot")
    @blp.alt_response(409, schema=ErrorSchema, description="The snapshot holds too few trials to be trusted")
    def post(self, args, snapshot_id):
        """Complete a full snapshot: withdraw the trials it did not contain"""
        try:
            snapshot = trials.complete_snapshot(snapshot_id, force=args["force"],
                                                min_ratio=current_app.config["TRIALS_MIN_SNAPSHOT_RATIO"])
        except trials.SnapshotError as exc:
            abort(exc.status, message=str(exc))
        db.session.commit()
        current_app.extensions["trials_cache"].clear()
        return snapshot
