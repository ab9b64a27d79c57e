"""The trials HTTP API."""
from __future__ import annotations

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from services.trials import reads, trials
from services.trials.examples import (
    BATCH_EXAMPLE,
    BATCH_RESULT_EXAMPLE,
    BATCH_TOO_LARGE,
    EXPORT_CSV_EXAMPLE,
    EXPORT_DESCRIPTION,
    EXPORT_HEADERS,
    EXPORT_JSONL_EXAMPLE,
    HISTORY_EXAMPLE,
    HISTORY_NOT_FOUND,
    SNAPSHOT_COMPLETED,
    SNAPSHOT_ID,
    SNAPSHOT_TOO_SMALL,
    TRIAL_ID,
    UNKNOWN_SNAPSHOT,
    UNKNOWN_TRIAL,
)
from services.trials.models import Trial, db
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
from services.trials.query_args import TrialsBlueprint
from shared.api import ErrorSchema
from shared.auth import service_token_required
from shared.pagination import PAGE_PAST_END, PaginationQueryArgsSchema, page_schema, paginate

blp = TrialsBlueprint("trials", __name__,
                      description="Clinical trials: lookup, recent changes, search, history, loading")


class ReadView(MethodView):
    """A view that keeps nothing on `self`: one instance serves every request (Flask makes one
    per request otherwise)."""

    init_every_request = False


@blp.route("/trials")
class Trials(ReadView):
    @blp.body_etag
    @blp.arguments(TrialQueryArgsSchema, location="query", as_kwargs=True)
    @blp.body_response(200, page_schema(TrialSchema))
    @blp.error(404, *PAGE_PAST_END)
    def get(self, page, per_page, **filters):
        """List and search trials

        Every filter narrows the list; `X-Pagination` and `Link` headers describe the pages."""
        # The page is written from rows by the serialiser built from TrialSchema, or on SQLite by SQLite
        # under the same keys (services/trials/reads.py), not dumped by marshmallow per row: the schema
        # above stays its contract.
        return reads.tagged_json(reads.list_page(filters, page, per_page))


# strict_slashes=False: the original task's deployed addresses carry a trailing slash (/list/);
# both forms answer the same, without a redirect that a client may not follow.
@blp.route("/trials/recent", strict_slashes=False)
class RecentTrials(ReadView):
    @blp.body_etag
    @blp.arguments(RecentQueryArgsSchema, location="query")
    @blp.body_response(200, page_schema(TrialSchema))
    @blp.error(404, *PAGE_PAST_END)
    def get(self, args):
        """Trials whose content changed in the last 7 x 24 hours, newest first"""
        return reads.tagged_json(reads.recent_page(args["include_withdrawn"], current_app.config["TRIALS_RECENT_DAYS"],
                                                   args["page"], args["per_page"]))


@blp.route("/list", strict_slashes=False)
class RecentTrialsAlias(RecentTrials):
    """/list: the original API's name for /trials/recent; the same view, summarised as an alias."""

    get = blp.doc(summary="Alias of /trials/recent")(RecentTrials.get)


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
        rows = stream_with_context(trials.export_csv(stmt) if format == "csv" else trials.export_jsonl(stmt))
        mimetype = "text/csv" if format == "csv" else "application/x-ndjson"
        return Response(rows, mimetype=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="trials.{format}"'})


def _trial_or_404(trial_id: str) -> Trial:
    # No trial id holds a NUL, and PostgreSQL cannot even compare one: not known, rather than a 500.
    trial = None if "\x00" in trial_id else db.session.get(Trial, trial_id)
    if trial is None:
        abort(404, message=f"Trial {trial_id} is not known.")
    return trial


@blp.route("/trials/<string:trial_id>", parameters=[TRIAL_ID], strict_slashes=False)
class TrialById(ReadView):
    @blp.body_etag
    @blp.body_response(200, TrialSchema)
    @blp.error(404, "No trial with this id", UNKNOWN_TRIAL)
    def get(self, trial_id):
        """One trial by its id (과제번호)

        Withdrawn trials are answered too, with `withdrawn_at` set."""
        row = reads.trial_row(trial_id)
        if row is None:
            abort(404, message=f"Trial {trial_id} is not known.")
        return reads.tagged_json(reads.json_bytes(current_app.extensions["trials_json"].record(row)))


@blp.route("/trials/<string:trial_id>/history", parameters=[TRIAL_ID])
class TrialHistory(MethodView):
    @blp.arguments(PaginationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TrialChangeSchema), example=HISTORY_EXAMPLE)
    @blp.alt_response(404, schema=ErrorSchema, description="No trial with this id, or the page is past the last one",
                      examples=HISTORY_NOT_FOUND)
    def get(self, args, trial_id):
        """A trial's changes, newest first, as field-level diffs"""
        _trial_or_404(trial_id)
        return paginate(db.session, trials.history_of(trial_id), args["page"], args["per_page"])


@blp.route("/trials/batch")
class TrialBatch(MethodView):
    @service_token_required
    @blp.arguments(BatchSchema, example=BATCH_EXAMPLE)
    @blp.response(200, BatchResultSchema, example=BATCH_RESULT_EXAMPLE)
    @blp.error(409, "The snapshot is already completed (or a concurrent load conflicted twice)", SNAPSHOT_COMPLETED)
    @blp.error(413, "Too many records in one batch (TRIALS_BATCH_MAX, default 5000)", BATCH_TOO_LARGE)
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
    @blp.error(404, "Unknown snapshot: no batch was sent with this snapshot_id", UNKNOWN_SNAPSHOT)
    @blp.error(409, "The snapshot holds too few of the active trials to be trusted; force=true overrides",
               SNAPSHOT_TOO_SMALL)
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
