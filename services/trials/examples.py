"""Worked examples for the trials OpenAPI document: path parameters, bodies, answers, and
error messages worded as the views send them."""
from __future__ import annotations

import json

from services.trials.trials import EXPORT_COLUMNS
from shared.api import error_example, path_parameter
from shared.csvfile import csv_text
from shared.pagination import PAGE_PAST_END

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
EXPORT_CSV_EXAMPLE = csv_text(EXPORT_COLUMNS, ([row[c] for c in EXPORT_COLUMNS] for row in _EXPORT_ROWS))
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

# The 404 of a trial's history: an unknown trial, or a page past the last one.
HISTORY_NOT_FOUND = {"unknown_trial": {"summary": "No trial with this id", "value": error_example(404, UNKNOWN_TRIAL)},
                     "page_past_end": {"summary": PAGE_PAST_END[0], "value": error_example(404, PAGE_PAST_END[1])}}

SNAPSHOT_COMPLETED = ("Snapshot pull-20260519T030000Z was completed at 2026-05-19T03:00:09.870251+00:00; "
                      "start a new snapshot id.")
BATCH_TOO_LARGE = "A batch holds at most 5000 records; this one has 5200."
UNKNOWN_SNAPSHOT = "Snapshot pull-20260520T030000Z is unknown: send its batches first."
SNAPSHOT_TOO_SMALL = ("Snapshot pull-20260520T030000Z holds 12 of 145 active trials, under the safety ratio 0.5; "
                      "completing it would withdraw the rest. Pass force=true if that is intended.")
