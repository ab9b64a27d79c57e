"""Client and record parser for the code grader's statistics API (docs/upstreams.md section 2).

`GET {base}/api/statistics?client=&client_key=&start=&end=` answers the whole window as
one JSON array, so a range is pulled in windows (1 hour by default). Each raw record is
brought to the grader service's attempt shape by `normalize_record`, which never uses
`eval`: `passback_params` goes through a strict parser for the common form and
`ast.literal_eval` for anything else, and must come out a dict of strings.
"""
from __future__ import annotations

import ast
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import requests
import urllib3.exceptions

log = logging.getLogger(__name__)

STATISTICS_PATH = "/api/statistics"
PRODUCTION_BASE_URL = "https://b2b.itresume.ru"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
PASSBACK_KEYS = ("oauth_consumer_key", "lis_result_sourcedid", "lis_outcome_service_url")
ATTEMPT_TYPES = ("run", "submit")
_PASSBACK_KEY_SET = frozenset(PASSBACK_KEYS)
MAX_PASSBACK_LENGTH = 10_000  # ast.literal_eval on megabytes of text is a denial of service
ONE_MICROSECOND = timedelta(microseconds=1)


class GraderApiError(Exception):
    """The statistics API refused the request or answered something that is not a list."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RecordRejected(ValueError):
    """A raw record that cannot become an attempt; the message is the reason."""


# --- passback_params ---------------------------------------------------------------------

# The form the upstream writes (Python repr of a dict of plain strings): parsed by two regular
# expressions, which is an order of magnitude faster than ast.literal_eval. A string they do
# not fully match (escapes, double quotes, other types) falls back to ast.literal_eval, so the
# fast path only ever accepts what literal_eval would read the same way.
_PLAIN_STR = r"'[^'\\\n]*'"
_PLAIN_PAIR = rf"\s*{_PLAIN_STR}\s*:\s*{_PLAIN_STR}\s*"
_PLAIN_DICT = re.compile(rf"[ \t]*\{{(?:{_PLAIN_PAIR}(?:,{_PLAIN_PAIR})*,?)?\s*\}}\s*")
_PLAIN_PAIRS = re.compile(r"'([^'\\\n]*)'\s*:\s*'([^'\\\n]*)'")
# The exact form the upstream writes almost always: its three keys in order, one regex pass.
_CANONICAL = re.compile(r"\{'oauth_consumer_key': '([^'\\\n]*)', 'lis_result_sourcedid': '([^'\\\n]*)', "
                        r"'lis_outcome_service_url': '([^'\\\n]*)'\}")


def parse_passback(raw) -> dict[str, str]:
    """The dict of strings `raw` (a Python dict literal, or already a dict) holds."""
    if isinstance(raw, dict):
        value = raw
    elif isinstance(raw, str):
        if len(raw) > MAX_PASSBACK_LENGTH:
            raise RecordRejected(f"passback_params is longer than {MAX_PASSBACK_LENGTH} characters")
        canonical = _CANONICAL.fullmatch(raw)
        if canonical:
            return dict(zip(PASSBACK_KEYS, canonical.groups(), strict=True))
        if _PLAIN_DICT.fullmatch(raw):
            return dict(_PLAIN_PAIRS.findall(raw))
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise RecordRejected("passback_params is not a Python dict literal") from None
    elif raw is None:
        raise RecordRejected("passback_params is missing")
    else:
        raise RecordRejected(f"passback_params is a {type(raw).__name__}, not a dict literal")
    if not isinstance(value, dict):
        raise RecordRejected(f"passback_params holds a {type(value).__name__}, not a dict")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise RecordRejected("passback_params must map strings to strings")
    return value


# --- one record ----------------------------------------------------------------------------

def parse_created_at(raw) -> datetime:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]` (also ISO 8601 with T or an offset); naive means UTC."""
    if not isinstance(raw, str) or not raw.strip():
        raise RecordRejected("created_at is missing")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise RecordRejected(f"created_at {raw[:40]!r} is not a timestamp") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_is_correct(attempt_type: str, raw) -> bool | None:
    if attempt_type == "run":
        if raw is not None:
            raise RecordRejected(f"is_correct must be null for a run, got {raw!r}")
        return None
    # bool is a subclass of int: True/False and 1/0 all land here; 2 or "1" do not.
    if isinstance(raw, (bool, int)) and raw in (0, 1):
        return bool(raw)
    raise RecordRejected(f"is_correct of a submit must be 0, 1, true or false, got {raw!r}")


def normalize_record(raw, warnings: Counter | None = None) -> dict:
    """An upstream record as an attempt dict (created_at an aware datetime), or RecordRejected.

    Missing passback keys become None and are counted in `warnings` as `missing_<key>`;
    extra keys are dropped and counted as `extra_passback_keys`.
    """
    if not isinstance(raw, dict):
        raise RecordRejected("a record must be a JSON object")
    user_id = raw.get("lti_user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        raise RecordRejected("lti_user_id is missing or empty")
    attempt_type = raw.get("attempt_type")
    if attempt_type not in ATTEMPT_TYPES:
        raise RecordRejected(f"attempt_type must be run or submit, got {attempt_type!r}")
    is_correct = parse_is_correct(attempt_type, raw.get("is_correct"))
    created_at = parse_created_at(raw.get("created_at"))
    params = parse_passback(raw.get("passback_params"))
    if warnings is not None and params.keys() != _PASSBACK_KEY_SET:
        for key in PASSBACK_KEYS:
            if key not in params:
                warnings[f"missing_{key}"] += 1
        extra = sum(1 for key in params if key not in PASSBACK_KEYS)
        if extra:
            warnings["extra_passback_keys"] += extra
    return {
        "user_id": user_id.strip(),
        "oauth_consumer_key": params.get("oauth_consumer_key"),
        "lis_result_sourcedid": params.get("lis_result_sourcedid"),
        "lis_outcome_service_url": params.get("lis_outcome_service_url"),
        "is_correct": is_correct,
        "attempt_type": attempt_type,
        "created_at": created_at,
    }


@dataclass
class ParseResult:
    attempts: list[dict] = field(default_factory=list)
    received: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"index", "reason"}
    warnings: Counter = field(default_factory=Counter)


def parse_records(raws: Iterable, on_reject: Callable[[int, str], None] | None = None) -> ParseResult:
    """Normalise every record; a bad one is rejected with its reason and never stops the rest."""
    result = ParseResult()
    attempts, rejected, warnings = result.attempts, result.rejected, result.warnings
    index = -1
    for index, raw in enumerate(raws):
        try:
            attempts.append(normalize_record(raw, warnings))
        except RecordRejected as exc:
            rejected.append({"index": index, "reason": str(exc)})
            if on_reject is not None:
                on_reject(index, str(exc))
    result.received = index + 1
    return result


def attempt_to_json(attempt: dict) -> dict:
    """An attempt as the grader service's batch endpoint takes it."""
    return {**attempt, "created_at": attempt["created_at"].isoformat()}


# --- course and block from lis_result_sourcedid --------------------------------------------

def course_and_block(sourcedid: str | None) -> tuple[str | None, str | None]:
    """`course-v1:ORG+COURSE+RUN:<lms host>-<block hash>:<user>` -> (`course-v1:ORG+COURSE+RUN`, `<block hash>`).

    Open edX writes the LTI result id this way; anything else gives (None, None).
    """
    if not sourcedid:
        return None, None
    parts = sourcedid.split(":")
    if len(parts) < 3 or not parts[0].startswith("course-v1") or not parts[1]:
        return None, None
    block = parts[2].rsplit("-", 1)[-1]
    return f"{parts[0]}:{parts[1]}"[:200], (block or None) and block[:200]


# --- windows and the client ----------------------------------------------------------------

def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def windows(start: datetime, end: datetime,
            size: timedelta = timedelta(hours=1)) -> Iterator[tuple[datetime, datetime]]:
    """Half-open windows [a, b) covering [start, end), each at most `size` long."""
    if size <= timedelta(0):
        raise ValueError("the window size must be positive")
    cursor = start
    while cursor < end:
        upper = min(cursor + size, end)
        yield cursor, upper
        cursor = upper


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


@dataclass
class WindowDownload:
    start: datetime
    end: datetime
    records: list
    seconds: float


class GraderClient:
    def __init__(self, base_url: str, client: str, client_key: str, session: requests.Session):
        if not client or not client_key:
            raise GraderApiError("GRADER_CLIENT and GRADER_CLIENT_KEY must be configured")
        self.url = base_url.rstrip("/") + STATISTICS_PATH
        self.client = client
        self.client_key = client_key
        self.session = session

    def fetch(self, start: datetime, end: datetime) -> list:
        """The raw records the API answers for start..end (its own inclusivity)."""
        params = {"client": self.client, "client_key": self.client_key,
                  "start": format_timestamp(start), "end": format_timestamp(end)}
        where = f"{format_timestamp(start)} .. {format_timestamp(end)}"
        try:
            response = self.session.get(self.url, params=params, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            # Not str(exc): it quotes the URL, client_key included.
            raise GraderApiError(f"statistics {where}: {_transport_failure(exc)}") from exc
        if response.status_code != 200:
            raise GraderApiError(f"statistics {where}: HTTP {response.status_code}: {_error_text(response)}",
                                 status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            raise GraderApiError(f"statistics {where}: HTTP 200 but the body is not JSON", status=200) from None
        if not isinstance(body, list):
            detail = body.get("errors") if isinstance(body, dict) else None
            raise GraderApiError(f"statistics {where}: expected a JSON array, got {type(body).__name__}"
                                 + (f": {detail}" if detail else ""), status=200)
        return body

    def fetch_window(self, start: datetime, end: datetime) -> WindowDownload:
        """The records with start <= created_at < end, whatever the API's inclusivity.

        Asks for [start - 1 µs, end] (so an exclusive start or an inclusive end loses nothing)
        and drops what falls outside the half-open window, so adjacent windows never overlap.
        """
        began = time.perf_counter()
        raws = self.fetch(start - ONE_MICROSECOND, end)
        low, high = format_timestamp(start), format_timestamp(end)
        kept = [raw for raw in raws if _inside(raw, low, high, start, end)]
        return WindowDownload(start, end, kept, time.perf_counter() - began)


def _inside(raw, low: str, high: str, start: datetime, end: datetime) -> bool:
    """Whether a raw record belongs to [start, end); unparseable ones are kept for the
    validator to reject with a reason."""
    created = raw.get("created_at") if isinstance(raw, dict) else None
    if isinstance(created, str) and len(created) == 26 and created[10] == " ":
        return low <= created < high  # the upstream's own format compares as text
    try:
        value = parse_created_at(created)
    except RecordRejected:
        return True
    return start <= value < end


def _transport_failure(exc: requests.RequestException) -> str:
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the last error
    if isinstance(exc, requests.Timeout) or isinstance(reason, (TimeoutError, urllib3.exceptions.TimeoutError)):
        return "Timeout: no answer in time"
    return f"{type(exc).__name__}: {type(reason).__name__ if isinstance(reason, Exception) else 'no connection'}"


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:200]
    if isinstance(body, dict) and "errors" in body:
        return str(body["errors"])[:200]
    return str(body)[:200]
