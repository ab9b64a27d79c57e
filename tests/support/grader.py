"""The grader service in tests: its test configuration, attempts to post, the sandbox's
statistics-API credentials."""
from __future__ import annotations

from pathlib import Path

from tests.support.auth import AUTH, SERVICE_TOKEN

# The statistics-API stand-in's defaults (deploy/sandbox/grader.py).
SANDBOX_CLIENT, SANDBOX_KEY = "Skillfactory", "sandbox-grader-key"


def grader_config(database_url: str, tmp_path: Path, **overrides) -> dict:
    return {"TESTING": True, "GRADER_DATABASE_URL": database_url, "SQLALCHEMY_DATABASE_URI": database_url,
            "SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": str(tmp_path / "log"), "VAR_DIR": str(tmp_path),
            **overrides}


def attempt(user="u1", kind="run", correct=None, at="2024-03-01T09:15:00.000001+00:00", block="b1",
            course="course-v1:SF+DST-3.0+28FEB2021"):
    return {"user_id": user, "oauth_consumer_key": "", "attempt_type": kind, "is_correct": correct,
            "created_at": at, "lis_result_sourcedid": f"{course}:lms.example.ru-{block}:u",
            "lis_outcome_service_url": "https://lms.example.ru/grade"}


DAY = [
    attempt("u1", "run", None, "2024-03-01T09:15:00+00:00", "b1"),
    attempt("u1", "submit", 1, "2024-03-01T09:20:00+00:00", "b1"),
    attempt("u2", "submit", 0, "2024-03-01T09:59:59.999999+00:00", "b2"),
    attempt("u2", "submit", True, "2024-03-01T23:59:59.999999+00:00", "b2"),
    attempt("u3", "run", None, "2024-03-01T00:00:00+00:00", "b9", course="course-v1:SF+SQL-1.0+15JAN2023"),
    attempt("u4", "run", None, "2024-03-02T00:00:00+00:00", "b1"),  # the next day
]


def post_batch(client, records, headers=AUTH):
    return client.post("/attempts/batch", json={"records": records}, headers=headers)
