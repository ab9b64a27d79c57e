"""Request and response schemas of the trials API."""
from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import fields, validate

from services.trials.records import MAX_SUBJECTS
from shared.pagination import PaginationQueryArgsSchema
from shared.text import storable
from shared.timeutil import representable_in_utc

SORT_FIELDS = ("trial_id", "title", "updated_at", "created_at", "target_subjects", "institution", "department")
SORT_CHOICES = [prefix + name for name in SORT_FIELDS for prefix in ("", "-")]


class TrialSchema(ma.Schema):
    trial_id = fields.String(dump_only=True, metadata={
        "description": "The upstream's project number (과제번호), the trial's id", "example": "C130010"})
    title = fields.String(allow_none=True, metadata={
        "description": "Project title (과제명)", "example": "조직구증식증 임상연구 네트워크 구축 및 운영"})
    department = fields.String(allow_none=True, metadata={
        "description": "Medical department (진료과), an English specialty name", "example": "Pediatrics"})
    institution = fields.String(allow_none=True, metadata={
        "description": "Lead institution (연구책임기관)", "example": "서울아산병원"})
    phase = fields.String(allow_none=True, metadata={
        "description": "Trial phase or study model (임상시험단계(연구모형))", "example": "코호트"})
    study_type = fields.String(allow_none=True, metadata={
        "description": "Study type (연구종류): 관찰연구, 중재연구 or 기타", "example": "관찰연구"})
    scope = fields.String(allow_none=True, metadata={
        "description": "Study scope (연구범위): 국내다기관 or 단일기관", "example": "국내다기관"})
    period = fields.String(allow_none=True, metadata={
        "description": "Study period (연구기간), free text", "example": "3년"})
    target_subjects = fields.Integer(allow_none=True, metadata={
        "description": "Target number of subjects (전체목표연구대상자수); null when the upstream left it blank",
        "example": 120})
    created_at = fields.AwareDateTime(dump_only=True, metadata={
        "description": "When the trial was first loaded (UTC)", "example": "2026-05-13T03:00:41.512907+00:00"})
    updated_at = fields.AwareDateTime(dump_only=True, metadata={
        "description": "Moves only when the content changes", "example": "2026-05-19T03:00:38.204116+00:00"})
    withdrawn_at = fields.AwareDateTime(dump_only=True, allow_none=True, metadata={
        "description": "Set when a completed snapshot no longer held the trial; null while it is active",
        "example": None})


def _text_filter(max_length: int, description: str, example: str) -> fields.String:
    return fields.String(validate=[validate.Length(max=max_length), storable],
                         metadata={"description": description, "example": example})


class TrialFilterSchema(ma.Schema):
    q = fields.String(validate=[validate.Length(min=1, max=200), storable],
                      metadata={"description": "Free text over title, institution and department "
                                               "(case-insensitive substring; % and _ match literally)",
                                "example": "코호트"})
    department = _text_filter(200, "Exact department (진료과), case-insensitive", "Pediatrics")
    phase = _text_filter(200, "Exact phase or study model (임상시험단계(연구모형)), case-insensitive", "코호트")
    study_type = _text_filter(100, "Exact study type (연구종류): 관찰연구, 중재연구 or 기타", "관찰연구")
    scope = _text_filter(100, "Exact study scope (연구범위): 국내다기관 or 단일기관", "국내다기관")
    institution = _text_filter(200, "Exact lead institution (연구책임기관), case-insensitive", "서울아산병원")
    min_subjects = fields.Integer(validate=validate.Range(min=0, max=MAX_SUBJECTS), metadata={
        "description": "At least this many target subjects; trials without a target are left out", "example": 100})
    max_subjects = fields.Integer(validate=validate.Range(min=0, max=MAX_SUBJECTS), metadata={
        "description": "At most this many target subjects; below min_subjects the list is simply empty",
        "example": 1000})
    updated_since = fields.DateTime(validate=representable_in_utc, metadata={
        "description": "Only trials whose content changed at or after this time; ISO 8601, "
                       "without an offset it is taken as UTC",
        "example": "2026-05-13T00:00:00+09:00"})
    include_withdrawn = fields.Boolean(load_default=False, metadata={
        "description": "Also list trials a completed snapshot withdrew", "example": False})
    sort = fields.String(load_default="trial_id", validate=validate.OneOf(SORT_CHOICES),
                         metadata={"description": "A field, `-` for descending; ties are broken by trial_id",
                                   "example": "-updated_at"})


class TrialQueryArgsSchema(TrialFilterSchema, PaginationQueryArgsSchema):
    pass


class RecentQueryArgsSchema(PaginationQueryArgsSchema):
    include_withdrawn = fields.Boolean(load_default=False, metadata={
        "description": "Also list recently changed trials a completed snapshot withdrew", "example": False})


class ExportQueryArgsSchema(TrialFilterSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "jsonl"]), metadata={
        "description": "`csv` (text/csv, with a header row) or `jsonl` (application/x-ndjson, one object per line)",
        "example": "csv"})


class FieldChangeSchema(ma.Schema):
    field = fields.String(metadata={"description": "The Trial field that changed", "example": "target_subjects"})
    old = fields.Raw(allow_none=True, metadata={"description": "Its value before; null when it was empty",
                                                "example": 100})
    new = fields.Raw(allow_none=True, metadata={"description": "Its value after; null when it is now empty",
                                                "example": 120})


class TrialChangeSchema(ma.Schema):
    changed_at = fields.AwareDateTime(metadata={"description": "When the change was stored (UTC)",
                                                "example": "2026-05-19T03:00:38.204116+00:00"})
    kind = fields.String(metadata={"description": "created, updated, withdrawn or restored", "example": "updated"})
    snapshot_id = fields.String(allow_none=True, metadata={
        "description": "The snapshot whose load made the change; null for a batch outside a snapshot",
        "example": "pull-20260519T030000Z"})
    changes = fields.List(fields.Nested(FieldChangeSchema), metadata={
        "description": "Field-level diffs: every filled field for `created`, none for `withdrawn` and `restored`"})


SNAPSHOT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def _snapshot_id(value: str) -> None:
    # Not validate.Regexp: its `$` also matches before a final newline, so "pull-1\n" passed.
    if not SNAPSHOT_ID.fullmatch(value):
        raise ma.ValidationError("Letters, digits and _.:- only, 1 to 100 of them.")


class BatchSchema(ma.Schema):
    snapshot_id = fields.String(validate=_snapshot_id,
                                metadata={"description": "Marks the records as part of this full snapshot "
                                                         "(letters, digits and `_.:-`, at most 100)",
                                          "pattern": f"^{SNAPSHOT_ID.pattern}$", "example": "pull-20260520T030000Z"})
    # Records are validated one by one (services/trials/records.py) so that one bad record is
    # reported and the rest stored, instead of the whole batch failing with a 422.
    records = fields.List(fields.Raw(allow_none=True), required=True, validate=validate.Length(min=1), metadata={
        "description": "Records with the English keys of Trial or the upstream's Korean keys "
                       "(과제번호, 과제명, 진료과, 연구책임기관, 임상시험단계(연구모형), 연구종류, 연구범위, 연구기간, "
                       "전체목표연구대상자수); trial_id is required, target_subjects an integer or numeric string",
        "example": [{"과제번호": "C130010", "과제명": "예시 코호트 연구", "전체목표연구대상자수": "120"}]})


class RejectedRecordSchema(ma.Schema):
    index = fields.Integer(metadata={"description": "The record's 0-based position in `records`", "example": 2})
    trial_id = fields.String(allow_none=True, metadata={"description": "The id the record claimed, if it had one",
                                                        "example": "C150021"})
    reason = fields.String(metadata={"description": "Why it was not stored, field by field",
                                     "example": "target_subjects: Not a valid integer."})


class BatchResultSchema(ma.Schema):
    snapshot_id = fields.String(allow_none=True, metadata={"description": "The snapshot the batch was part of, if any",
                                                           "example": "pull-20260520T030000Z"})
    received = fields.Integer(metadata={"description": "Records in the batch", "example": 3})
    created = fields.Integer(metadata={"description": "Trials seen for the first time", "example": 1})
    updated = fields.Integer(metadata={"description": "Trials whose content changed", "example": 1})
    unchanged = fields.Integer(metadata={"description": "Trials stored already with the same content", "example": 0})
    restored = fields.Integer(metadata={"description": "Withdrawn trials seen again (also counted as unchanged)",
                                        "example": 0})
    withdrawn = fields.Integer(metadata={
        "description": "Always 0 for a batch: trials are withdrawn when their snapshot is completed", "example": 0})
    rejected = fields.List(fields.Nested(RejectedRecordSchema), metadata={
        "description": "Records that were not stored; the others were"})


class SnapshotCompleteQueryArgsSchema(ma.Schema):
    force = fields.Boolean(load_default=False, metadata={
        "description": "Complete even when the snapshot holds less than TRIALS_MIN_SNAPSHOT_RATIO (default 0.5) "
                       "of the active trials",
        "example": False})


class SnapshotSchema(ma.Schema):
    snapshot_id = fields.String(metadata={"description": "The snapshot's id", "example": "pull-20260520T030000Z"})
    started_at = fields.AwareDateTime(metadata={"description": "When its first batch arrived (UTC)",
                                                "example": "2026-05-20T03:00:02.118734+00:00"})
    completed_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When it was completed (UTC); completing again changes nothing",
        "example": "2026-05-20T03:00:09.870251+00:00"})
    received = fields.Integer(metadata={"description": "Records received over all its batches", "example": 145})
    created = fields.Integer(metadata={"description": "Trials it created", "example": 2})
    updated = fields.Integer(metadata={"description": "Trials whose content it changed", "example": 3})
    unchanged = fields.Integer(metadata={"description": "Trials it held with unchanged content", "example": 140})
    rejected = fields.Integer(metadata={"description": "Records it rejected", "example": 0})
    withdrawn = fields.Integer(metadata={
        "description": "Active trials neither it nor a later-started snapshot held, withdrawn on completion",
        "example": 1})
