"""The grader HTTP API: daily reports to Google Sheets and e-mail."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from services.grader import reports
from services.grader.examples import REPORT_EXAMPLE, REPORT_IN_PROGRESS
from services.grader.models import db
from services.grader.schemas import ReportQueryArgsSchema, ReportRequestSchema, ReportSchema
from shared.api import Blueprint
from shared.auth import service_token_required
from shared.pagination import PAGE_PAST_END, page_schema, paginate

blp = Blueprint("reports", __name__, description="Daily reports: Google Sheets and e-mail")


@blp.route("/reports")
class Reports(MethodView):
    @blp.arguments(ReportQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, page_schema(ReportSchema), example={"count": 1, "data": [REPORT_EXAMPLE]},
                  description="One page of reports; X-Pagination and Link headers give the others")
    @blp.error(404, *PAGE_PAST_END)
    def get(self, page, per_page, date=None):
        """Reports published so far and how each sink took them, newest first"""
        return paginate(db.session, reports.reports_query(date), page, per_page)


@blp.route("/reports/daily")
class DailyReport(MethodView):
    @service_token_required
    @blp.arguments(ReportRequestSchema)
    @blp.response(200, ReportSchema, example=REPORT_EXAMPLE,
                  description="The report as recorded: each sink's status and detail (a failed sink is not an error)")
    @blp.error(409, "A report for the same date is being published right now", REPORT_IN_PROGRESS)
    def post(self, body):
        """Compute a day's figures and publish them (a sink not configured is skipped)

        One publication per date at a time: a second one for the same date while the first
        runs is refused, so the Sheets row is written once and the e-mail sent once."""
        try:
            report = reports.publish_daily_report(current_app.config, body["date"])
        except reports.ReportInProgress as exc:
            abort(409, message=str(exc))
        db.session.commit()
        return report
