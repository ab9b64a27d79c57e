"""The grader HTTP API: attempts and daily statistics."""
from __future__ import annotations

from flask import current_app, jsonify
from flask.views import MethodView
from flask_smorest import abort

from services.grader import attempts, stats
from services.grader.examples import BATCH_RESULT_EXAMPLE, BATCH_TOO_LARGE, DAY_EXAMPLE, RANGE_EXAMPLE, RANGE_TOO_LONG
from services.grader.models import db
from services.grader.schemas import (
    AttemptQueryArgsSchema,
    AttemptSchema,
    BatchResultSchema,
    BatchSchema,
    DailyStatsSchema,
    StatsQueryArgsSchema,
    StatsRangeSchema,
)
from shared.api import Blueprint
from shared.auth import service_token_required
from shared.pagination import PAGE_PAST_END, page_schema, paginate

RANGE_SCHEMA = StatsRangeSchema()

blp = Blueprint("attempts", __name__, description="Student attempts and daily statistics")


@blp.route("/attempts")
class Attempts(MethodView):
    @blp.arguments(AttemptQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, page_schema(AttemptSchema),
                  description="One page of the matching attempts; X-Pagination and Link headers give the others")
    @blp.error(404, *PAGE_PAST_END)
    def get(self, page, per_page, **filters):
        """List attempts, oldest first, filtered by user, course, type, result and time"""
        return paginate(db.session, attempts.filtered_attempts(filters), page, per_page)


@blp.route("/attempts/batch")
class AttemptBatch(MethodView):
    @service_token_required
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchResultSchema, example=BATCH_RESULT_EXAMPLE,
                  description="How many records were stored, were already there, or were rejected (and why)")
    @blp.error(413, "Too many records in one batch (GRADER_BATCH_MAX, 50000 by default)", BATCH_TOO_LARGE)
    def post(self, body):
        """Store a batch of attempts; ones already stored are counted as duplicates"""
        limit = current_app.config["GRADER_BATCH_MAX"]
        if len(body["records"]) > limit:
            abort(413, message=f"A batch holds at most {limit} records; this one has {len(body['records'])}.")
        result = attempts.load_batch(body["records"])
        db.session.commit()
        return result.as_dict()


@blp.route("/stats/daily")
class DailyStats(MethodView):
    @blp.arguments(StatsQueryArgsSchema, location="query")
    @blp.response(200, DailyStatsSchema, description="date=: the day's DailyStats; start= and end=: a StatsRange",
                  examples={"date": {"summary": "date=2023-05-31", "value": DAY_EXAMPLE},
                            "range": {"summary": "start=2023-05-30&end=2023-05-31", "value": RANGE_EXAMPLE}})
    # The 200 has two shapes, by the query (the range is sent as a Response, past the one-day schema).
    @blp.doc(responses={200: {"content": {"application/json": {
        "schema": {"oneOf": [DailyStatsSchema, StatsRangeSchema]}}}}})
    @blp.error(400, "The range is longer than GRADER_STATS_MAX_DAYS (366 by default)", RANGE_TOO_LONG)
    def get(self, args):
        """A day's figures (date=), or {"count", "data": [one row per day]} (start= and end=)"""
        if "date" in args:
            return stats.daily_stats(args["date"])
        days = (args["end"] - args["start"]).days + 1
        limit = current_app.config["GRADER_STATS_MAX_DAYS"]
        if days > limit:
            abort(400, message=f"A range holds at most {limit} days; this one has {days}.")
        rows = stats.stats_between(args["start"], args["end"])
        # The range answer has its own envelope; returning a Response bypasses the one-day schema.
        return jsonify(RANGE_SCHEMA.dump({"count": len(rows), "data": rows}))
