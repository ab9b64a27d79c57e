"""Request and response schemas of the trials API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from services.trials.records import MAX_SUBJECTS
from shared.pagination import PaginationQueryArgsSchema

SORT_FIELDS = ("trial_id", "title", "updated_at", "created_at", "target_subjects", "institution", "department")
SORT_CHOICES = [prefix + name for name in SORT_FIELDS for prefix in ("", "-")]


class TrialSchema(ma.Schema):
    trial_id = fields.String(dump_only=True, metadata={"example": "C130010"})
    title = fields.String(allow_none=True, metadata={"example": "조직구증식증 임상연구 네트워크 구축 및 운영"})
    department = fields.String(allow_none=True, metadata={"example": "Pediatrics"})
    institution = fields.String(allow_none=True, metadata={"example": "서울아산병원"})
    phase = fields.String(allow_none=True, metadata={"example": "코호트"})
    study_type = fields.String(allow_none=True, metadata={"example": "관찰연구"})
    scope = fields.String(allow_none=True, metadata={"example": "국내다기관"})
    period = fields.String(allow_none=True, metadata={"example": "3년"})
    target_subjects = fields.Integer(allow_none=True, metadata={"example": 120})
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True, metadata={"description": "Moves only when the content changes"})
    withdrawn_at = fields.AwareDateTime(dump_only=True, allow_none=True,
                                        metadata={"description": "Set when a completed snapshot no longer held the trial"})


class TrialFilterSchema(ma.Schema):
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Free text over title, institution and department"})
    department = fields.String(validate=validate.Length(max=200))
    phase = fields.String(validate=validate.Length(max=200))
    study_type = fields.String(validate=validate.Length(max=100))
    scope = fields.String(validate=validate.Length(max=100))
    institution = fields.String(validate=validate.Length(max=200))
    min_subjects = fields.Integer(validate=validate.Range(min=0, max=MAX_SUBJECTS))
    max_subjects = fields.Integer(validate=validate.Range(min=0, max=MAX_SUBJECTS),
                                  metadata={"description": "Below min_subjects the list is simply empty"})
    updated_since = fields.DateTime(metadata={"description": "ISO 8601; without an offset it is taken as UTC"})
    include_withdrawn = fields.Boolean(load_default=False)
    sort = fields.String(load_default="trial_id", validate=validate.OneOf(SORT_CHOICES),
                         metadata={"description": "A field, `-` for descending; ties are broken by trial_id"})


class TrialQueryArgsSchema(TrialFilterSchema, PaginationQueryArgsSchema):
    pass


class RecentQueryArgsSchema(PaginationQueryArgsSchema):
    include_withdrawn = fields.Boolean(load_default=False)


class ExportQueryArgsSchema(TrialFilterSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "jsonl"]))


class FieldChangeSchema(ma.Schema):
    field = fields.String()
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class TrialChangeSchema(ma.Schema):
    changed_at = fields.AwareDateTime()
    kind = fields.String(metadata={"description": "created, updated, withdrawn or restored"})
    snapshot_id = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(FieldChangeSchema))


class BatchSchema(ma.Schema):
    snapshot_id = fields.String(validate=[validate.Length(min=1, max=100), validate.Regexp(r"^[A-Za-z0-9_.:-]+$")],
                                metadata={"description": "Marks the records as part of this full snapshot"})
    # Records are validated one by one (services/trials/records.py) so that one bad record is
    # reported and the rest stored, instead of the whole batch failing with a 422.
    records = fields.List(fields.Raw(allow_none=True), required=True, validate=validate.Length(min=1), metadata={
        "description": "Records with the English keys of Trial or the upstream's Korean keys "
                       "(과제번호, 과제명, 진료과, 연구책임기관, 임상시험단계(연구모형), 연구종류, 연구범위, 연구기간, "
                       "전체목표연구대상자수); trial_id is required, target_subjects an integer or numeric string",
        "example": [{"과제번호": "C130010", "과제명": "예시 코호트 연구", "전체목표연구대상자수": "120"}]})


class RejectedRecordSchema(ma.Schema):
    index = fields.Integer()
    trial_id = fields.String(allow_none=True)
    reason = fields.String()


class BatchResultSchema(ma.Schema):
    snapshot_id = fields.String(allow_none=True)
    received = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    restored = fields.Integer(metadata={"description": "Withdrawn trials seen again"})
    withdrawn = fields.Integer()
    rejected = fields.List(fields.Nested(RejectedRecordSchema))


class SnapshotCompleteQueryArgsSchema(ma.Schema):
    force = fields.Boolean(load_default=False, metadata={
        "description": "Complete even when the snapshot holds less than TRIALS_MIN_SNAPSHOT_RATIO of the active trials"})


class SnapshotSchema(ma.Schema):
    snapshot_id = fields.String()
    started_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    received = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    withdrawn = fields.Integer()
