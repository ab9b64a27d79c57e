"""Request and response schemas of the grader API."""
from __future__ import annotations

from datetime import UTC, date

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from services.grader import watermarks
from services.grader.examples import BATCH_RECORDS_EXAMPLE, COURSE, OUTCOME_URL, SOURCEDID, USER
from shared.pagination import PaginationQueryArgsSchema
from shared.text import storable
from shared.timeutil import representable_in_utc

LAST_DAY = date(9999, 12, 30)  # the last UTC day whose end (next midnight) a datetime can hold


class AttemptSchema(ma.Schema):
    id = fields.Integer(dump_only=True, metadata={"description": "The service's own id of the attempt",
                                                  "example": 481516})
    user_id = fields.String(metadata={"description": "The learner (the upstream's lti_user_id)", "example": USER})
    oauth_consumer_key = fields.String(allow_none=True, metadata={
        "description": "From passback_params; normally empty", "example": ""})
    lis_result_sourcedid = fields.String(allow_none=True, metadata={
        "description": "The LTI result id (course:lms host-block:user); course_id and block_id come from it",
        "example": SOURCEDID})
    lis_outcome_service_url = fields.String(allow_none=True, metadata={
        "description": "Where the LMS takes the grade; null when passback_params had none", "example": OUTCOME_URL})
    is_correct = fields.Boolean(allow_none=True, metadata={"description": "null for a run", "example": True})
    attempt_type = fields.String(metadata={"description": "run (the code was run) or submit (sent for grading)",
                                           "example": "submit"})
    created_at = fields.AwareDateTime(metadata={"description": "When the learner made the attempt (UTC)",
                                                "example": "2023-05-31T09:17:02.004211+00:00"})
    course_id = fields.String(allow_none=True, dump_only=True, metadata={
        "description": "null: lis_result_sourcedid names no Open edX course", "example": COURSE})
    block_id = fields.String(allow_none=True, dump_only=True, metadata={
        "description": "The task's block within the course; null as for course_id", "example": "0a1b2c"})


class BatchSchema(ma.Schema):
    records = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1), metadata={
        "description": "Attempts (user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url, "
                       "is_correct, attempt_type, created_at) or the upstream's raw records (lti_user_id, "
                       "passback_params, ...); an invalid record is rejected on its own, not the batch",
        "example": BATCH_RECORDS_EXAMPLE})


class RejectedRecordSchema(ma.Schema):
    index = fields.Integer(metadata={"description": "The record's position in `records`, from 0", "example": 17})
    reason = fields.String(metadata={"description": "Why it cannot be stored",
                                     "example": "is_correct of a submit must be 0, 1, true or false, got 2"})


class BatchResultSchema(ma.Schema):
    received = fields.Integer(metadata={"description": "Records in the batch", "example": 1000})
    inserted = fields.Integer(metadata={"description": "Records stored now", "example": 996})
    duplicates = fields.Integer(metadata={"description": "Valid records already stored (same user_id, created_at, "
                                                         "attempt_type)", "example": 2})
    rejected = fields.List(fields.Nested(RejectedRecordSchema), metadata={
        "description": "The invalid records, by index; the others are stored all the same"})


class AttemptQueryArgsSchema(PaginationQueryArgsSchema):
    user_id = fields.String(validate=[validate.Length(min=1, max=128), storable],
                            metadata={"description": "Only this learner's attempts", "example": USER})
    course_id = fields.String(validate=[validate.Length(min=1, max=200), storable],
                              metadata={"description": "Only this course's attempts (see Attempt.course_id)",
                                        "example": COURSE})
    attempt_type = fields.String(validate=validate.OneOf(["run", "submit"]),
                                 metadata={"description": "Only runs or only submits", "example": "submit"})
    is_correct = fields.Boolean(metadata={"description": "Only correct (true) or wrong (false) submits; a run has "
                                                         "none, so any value leaves runs out", "example": True})
    start = fields.AwareDateTime(default_timezone=UTC, validate=representable_in_utc,
                                 metadata={"description": "created_at >= start (ISO 8601; UTC without an offset)",
                                           "example": "2023-05-31T00:00:00Z"})
    end = fields.AwareDateTime(default_timezone=UTC, validate=representable_in_utc,
                               metadata={"description": "created_at < end (after start)",
                                         "example": "2023-06-01T00:00:00Z"})

    @ma.validates_schema
    def ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ma.ValidationError("start must be before end", "start")


class StatsQueryArgsSchema(ma.Schema):
    date = fields.Date(validate=validate.Range(max=LAST_DAY), metadata={
        "description": "One day (UTC), YYYY-MM-DD; not with start and end", "example": "2023-05-31"})
    start = fields.Date(validate=validate.Range(max=LAST_DAY), metadata={
        "description": "First day of a range, with end; not with date", "example": "2023-05-30"})
    end = fields.Date(validate=validate.Range(max=LAST_DAY), metadata={
        "description": "Last day of a range (included); at most GRADER_STATS_MAX_DAYS (366) days after start",
        "example": "2023-05-31"})

    @ma.validates_schema
    def one_day_or_range(self, data, **kwargs):
        if "date" in data and ("start" in data or "end" in data):
            raise ma.ValidationError("give either date or start and end, not both", "date")
        if "date" not in data and ("start" not in data or "end" not in data):
            raise ma.ValidationError("give date=YYYY-MM-DD, or start and end", "date")
        if "start" in data and "end" in data and data["start"] > data["end"]:
            raise ma.ValidationError("start must not be after end", "start")


class FiguresSchema(ma.Schema):
    attempts = fields.Integer(metadata={"description": "runs + submits", "example": 1834})
    runs = fields.Integer(metadata={"example": 1296})
    submits = fields.Integer(metadata={"example": 538})
    correct_submits = fields.Integer(metadata={"description": "Submits with is_correct true", "example": 371})
    success_rate = fields.Float(metadata={"description": "correct_submits / submits, 4 decimals; 0 without submits",
                                          "example": 0.6896})
    unique_users = fields.Integer(metadata={"description": "Distinct user_id", "example": 412})
    unique_tasks = fields.Integer(metadata={"description": "Distinct (course_id, block_id)", "example": 57})


class CourseFiguresSchema(FiguresSchema):
    course_id = fields.String(allow_none=True, metadata={"description": "null: lis_result_sourcedid names no course",
                                                         "example": COURSE})


class DailyStatsSchema(FiguresSchema):
    date = fields.String(metadata={"description": "The UTC day, YYYY-MM-DD", "example": "2023-05-31"})
    by_course = fields.List(fields.Nested(CourseFiguresSchema), metadata={
        "description": "The same figures per course, most attempts first"})
    busiest_hour = fields.Integer(allow_none=True, metadata={
        "description": "UTC hour 0-23 with most attempts (the earliest on a tie); null on a day without attempts",
        "example": 9})


class StatsRangeSchema(ma.Schema):
    count = fields.Integer(metadata={"description": "Days in the range, start and end included", "example": 2})
    data = fields.List(fields.Nested(DailyStatsSchema), metadata={"description": "One row per day, oldest first"})


class ReportRequestSchema(ma.Schema):
    date = fields.Date(required=True, validate=validate.Range(max=LAST_DAY), metadata={
        "description": "The UTC day to report, YYYY-MM-DD", "example": "2023-05-31"})


class ReportSchema(ma.Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 42})
    date = fields.Date(metadata={"description": "The UTC day reported", "example": "2023-05-31"})
    created_at = fields.AwareDateTime(metadata={"description": "When it was published",
                                                "example": "2023-06-01T06:00:04+00:00"})
    stats = fields.Nested(DailyStatsSchema, metadata={"description": "The day's figures as published"})
    sheets_status = fields.String(metadata={"description": "published, skipped (not configured) or failed",
                                            "example": "published"})
    sheets_detail = fields.String(allow_none=True, metadata={
        "description": "What was done, why it was skipped, or the failure (redacted)",
        "example": "appended a row to 'Daily'"})
    email_status = fields.String(metadata={"description": "published, skipped (not configured) or failed",
                                           "example": "published"})
    email_detail = fields.String(allow_none=True, metadata={
        "description": "What was done, why it was skipped, or the failure (redacted)",
        "example": "sent to 3 of 3 recipients"})


class ReportQueryArgsSchema(PaginationQueryArgsSchema):
    date = fields.Date(metadata={"description": "Only the reports of this UTC day, YYYY-MM-DD",
                                 "example": "2023-05-31"})


class WatermarkSchema(ma.Schema):
    name = fields.String(dump_only=True, metadata={"description": "The watermark's name",
                                                   "example": "grader-statistics"})
    position = fields.AwareDateTime(allow_none=True, metadata={
        "description": "Everything before this instant is loaded; null when no pull has run yet",
        "example": "2023-06-01T00:00:00+00:00"})
    updated_at = fields.AwareDateTime(dump_only=True, allow_none=True, metadata={
        "description": "When position last moved; null when no pull has run yet",
        "example": "2023-06-01T00:07:41.532118+00:00"})


class WatermarkUpdateSchema(ma.Schema):
    position = fields.AwareDateTime(required=True, allow_none=False, default_timezone=UTC,
                                    validate=representable_in_utc, metadata={
        "description": "Everything before this instant is loaded (a watermark only moves forward; "
                       "UTC without an offset). Not later than now plus GRADER_WATERMARK_MAX_SKEW_SECONDS "
                       "(default 5 minutes): nothing after now can have been loaded",
        "example": "2023-06-01T00:00:00+00:00"})

    @ma.validates("position")
    def not_in_the_future(self, value, **kwargs):
        watermarks.check_not_future(value, current_app.config["GRADER_WATERMARK_MAX_SKEW_SECONDS"])
