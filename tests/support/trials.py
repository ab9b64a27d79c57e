"""Test data for the trials service."""
from __future__ import annotations


def trial(trial_id: str, **fields) -> dict:
    """A record in the upstream's Korean-keyed form."""
    record = {
        "과제번호": trial_id,
        "과제명": f"{trial_id} 코호트 연구",
        "연구기간": "3년",
        "연구범위": "국내다기관",
        "연구종류": "관찰연구",
        "연구책임기관": "서울아산병원",
        "임상시험단계(연구모형)": "코호트",
        "전체목표연구대상자수": "120",
        "진료과": "Pediatrics",
    }
    record.update(fields)
    return record
