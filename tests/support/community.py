"""The community platforms in tests: dates as the sandbox's Korean-time data holds them, and
a token and cookies distinctive enough to search for in any output."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

KST = timezone(timedelta(hours=9))

GANGNAMUNNI_TOKEN = "gn-token-7f3a9c2e41"
NID_AUT, NID_SES = "nid-aut-5b8e11d0c9", "nid-ses-0c4f77a2e3"
# The sandbox environment that makes the platforms accept exactly those secrets.
SECRET_SANDBOX_ENV = {"SANDBOX_GANGNAMUNNI_TOKENS": GANGNAMUNNI_TOKEN, "SANDBOX_NAVER_NID_AUT": NID_AUT,
                      "SANDBOX_NAVER_NID_SES": NID_SES}


def days_before(anchor: datetime, days: int) -> date:
    return anchor.astimezone(KST).date() - timedelta(days=days)


def kst_start(day: date) -> datetime:
    return datetime.combine(day, time.min, KST)


def kst_text_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


def ms_time(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)
