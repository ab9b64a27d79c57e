"""Request and response schemas of the grader API."""
from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from marshmallow import fields, validate

from shared.pagination import PaginationQueryArgsSchema


class AttemptSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    user_id = fields.String(metadata={"example": "3f2a9c0e5b7d41a8b6c2e9f0a1d3b4c5"})
    oauth_consumer_key = fields.String(allow_none=True, metadata={"example": ""})
    lis_result_sourcedid = fields.String(allow_none=True, metadata={
        "example": "course-v1:SF+DST-3.0+28FEB2021:lms.example.ru-0a1b2c:3f2a9c0e"})
    lis_outcome_service_url = fields.String(allow_none=True)
    is_correct = fields.Boolean(allow_none=True, metadata={"description": "null for a run"})
    attempt_type = fields.String(metadata={"example": "submit"})
    created_at = fields.AwareDateTime()
    course_id = fields.String(allow_none=True, dump_only=True, metadata={"example": "course-v1:SF+DST-3.0+28FEB2021"})
    block_id = fields.String(allow_none=True, dump_only=True, metadata={"example": "0a1b2c"})


class BatchSchema(ma.Schema):
    records = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1), metadata={
        "description": "Attempts (user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url, "
                       "is_correct, attempt_type, created_at) or the upstream's raw records (lti_user_id, "
                       "passback_params, ...)"})


class RejectedRecordSchema(ma.Schema):
    index = fields.Integer()
    reason = fields.String()


class BatchResultSchema(ma.Schema):
    received = fields.Integer()
    inserted = fields.Integer()
    duplicates = fields.Integer(metadata={"description": "Valid records already stored (same user_id, created_at, "
                                                         "attempt_type)"})
    rejected = fields.List(fields.Nested(RejectedRecordSchema))


class AttemptQueryArgsSchema(PaginationQueryArgsSchema):
    user_id = fields.String(validate=validate.Length(min=1, max=128))
    course_id = fields.String(validate=validate.Length(min=1, max=200))
    attempt_type = fields.String(validate=validate.OneOf(["run", "submit"]))
    is_correct = fields.Boolean()
    start = fields.AwareDateTime(default_timezone=UTC,
                                 metadata={"description": "created_at >= start (ISO 8601; UTC without an offset)"})
    end = fields.AwareDateTime(default_timezone=UTC,
                               metadata={"description": "created_at < end"})

    @ma.validates_schema
    def ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ma.ValidationError("start must be before end", "start")


class StatsQueryArgsSchema(ma.Schema):
    date = fields.Date(metadata={"description": "One day (UTC), YYYY-MM-DD"})
    start = fields.Date(metadata={"description": "First day of a range, with end"})
    end = fields.Date(metadata={"description": "Last day of a range (included)"})

    @ma.validates_schema
    def one_day_or_range(self, data, **kwargs):
        if "date" in data and ("start" in data or "end" in data):
            raise ma.ValidationError("give either date or start and end, not both", "date")
        if "date" not in data and ("start" not in data or "end" not in data):
            raise ma.ValidationError("give date=YYYY-MM-DD, or start and end", "date")
        if "start" in data and "end" in data and data["start"] > data["end"]:
            raise ma.ValidationError("start must not be after end", "start")


class FiguresSchema(ma.Schema):
    attempts = fields.Integer()
    runs = fields.Integer()
    submits = fields.Integer()
    correct_submits = fields.Integer()
    success_rate = fields.Float(metadata={"description": "correct_submits / submits; 0 without submits"})
    unique_users = fields.Integer()
    unique_tasks = fields.Integer(metadata={"description": "Distinct (course_id, block_id)"})


class CourseFiguresSchema(FiguresSchema):
    course_id = fields.String(allow_none=True, metadata={"description": "null: lis_result_sourcedid names no course"})


class DailyStatsSchema(FiguresSchema):
    date = fields.String(metadata={"example": "2023-05-31"})
    by_course = fields.List(fields.Nested(CourseFiguresSchema))
    busiest_hour = fields.Integer(allow_none=True, metadata={"description": "UTC hour 0-23 with most attempts"})


class StatsRangeSchema(ma.Schema):
    count = fields.Integer()
    data = fields.List(fields.Nested(DailyStatsSchema))


class ReportRequestSchema(ma.Schema):
    date = fields.Date(required=True, metadata={"description": "The UTC day to report, YYYY-MM-DD"})


class ReportSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    date = fields.Date()
    created_at = fields.AwareDateTime()
    stats = fields.Nested(DailyStatsSchema)
    sheets_status = fields.String(metadata={"description": "published, skipped (not configured) or failed"})
    sheets_detail = fields.String(allow_none=True)
    email_status = fields.String(metadata={"description": "published, skipped (not configured) or failed"})
    email_detail = fields.String(allow_none=True)


class ReportQueryArgsSchema(PaginationQueryArgsSchema):
    date = fields.Date()


class WatermarkSchema(ma.Schema):
    name = fields.String(dump_only=True, metadata={"example": "grader-statistics"})
    position = fields.AwareDateTime(allow_none=True, metadata={
        "description": "Everything before this instant is loaded; null when no pull has run yet"})
    updated_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class WatermarkUpdateSchema(ma.Schema):
    position = fields.AwareDateTime(required=True, allow_none=False, default_timezone=UTC, metadata={
        "description": "Everything before this instant is loaded (a watermark only moves forward)"})
