"""Stand-in for the code grader's statistics API (docs/upstreams.md section 2).

`GET /api/statistics?client=&client_key=&start=&end=` answers a JSON array of the attempts
whose created_at lies in the window, generated deterministically from (day, index): the
n-th attempt of a day is the same on every call, so a re-pull sees the same rows. A day
holds `GRADER_ATTEMPTS_PER_DAY` attempts (up to millions), spread evenly over 24 hours;
the body is streamed row by row, never built whole in memory.

Edge cases come at known rates (`EDGE_RATES`, per mille of a day's attempts, decided by the
index so their counts are exact): records the connector must reject and records it must
accept with a warning. `/_sandbox/grader/expected?date=` tells how many of each a day holds.

Errors: no client/client_key -> 401 `{"errors": ...}`, wrong ones -> 403 (the real answer is
not public; a non-200 JSON object with `errors` is what one public client checks for);
unparseable start/end -> 400. `/_sandbox/grader/mode` switches on failures (status, invalid
JSON, a non-list body, a delay), window inclusivity and the volume.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from json.encoder import encode_basestring_ascii as encode_string

from flask import Blueprint, Response, current_app, jsonify, request

blp = Blueprint("grader_sandbox", __name__)

DAY_US = 86_400_000_000
MASK64 = (1 << 64) - 1
COURSES = ("course-v1:SkillFactory+DST-3.0+28FEB2021", "course-v1:SkillFactory+PYDA-2.0+01SEP2022",
           "course-v1:SkillFactory+SQL-1.0+15JAN2023", "course-v1:SkillFactory+DSPR-2.0+14APR2021",
           "course-v1:SkillFactory+MLE-1.0+01MAR2023")
BLOCKS_PER_COURSE = 40
LMS_HOST = "lms.skillfactory.ru"
# Per mille of a day's attempts, in this order of index classes (see `edge_case`).
EDGE_RATES = {
    "bad_passback": 5,          # rejected: passback_params is not a dict literal
    "empty_user": 3,            # rejected: lti_user_id ""
    "run_with_result": 2,       # rejected: a run with is_correct 1
    "bad_created_at": 1,        # rejected: created_at not a timestamp
    "no_outcome_url": 50,       # accepted, warning: passback lacks lis_outcome_service_url
    "extra_key": 10,            # accepted, warning: passback has an extra key (dropped)
    "quoted_value": 2,          # accepted: a value with a quote, so repr() uses double quotes
    "boolean_result": 5,        # accepted: a submit's is_correct as true/false
}
REJECTED_KINDS = ("bad_passback", "empty_user", "run_with_result", "bad_created_at")


def mix(value: int) -> int:
    """splitmix64: a cheap, well-spread hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


BLOCKS = [[f"{mix(course * 1000 + number) & 0xFFFFFFFFFFFF:012x}" for number in range(BLOCKS_PER_COURSE)]
          for course in range(len(COURSES))]


def edge_case(index: int) -> str | None:
    """Which edge case the index-th attempt of a day is (exact per-mille counts)."""
    slot = (index * 389) % 1000  # 389 is coprime with 1000: every slot once per 1000 indices
    for kind, rate in EDGE_RATES.items():
        if slot < rate:
            return kind
        slot -= rate
    return None


class GraderDay:
    """The attempts of one UTC day: the n-th one's timestamp and content."""

    def __init__(self, day: date, per_day: int, seed: int):
        self.day, self.per_day, self.seed = day, per_day, seed
        self.start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        self.prefix = day.isoformat()
        self.users = max(50, per_day // 20)
        self.step = max(1, DAY_US // per_day)
        self.ordinal_bits = day.toordinal() << 24
        self._user_ids: dict[int, str] = {}

    def offset_us(self, index: int) -> int:
        base = index * DAY_US // self.per_day
        return base + mix(self.seed ^ self.ordinal_bits ^ index) % max(1, self.step // 2)

    def index_range(self, low_us: int, high_us: int) -> range:
        """Indices whose offset may lie in [low_us, high_us] (the caller filters exactly)."""
        first = max(0, low_us * self.per_day // DAY_US - 1)
        last = min(self.per_day - 1, high_us * self.per_day // DAY_US + 1)
        return range(first, last + 1)

    def user_id(self, number: int) -> str:
        user = self._user_ids.get(number)
        if user is None:
            user = self._user_ids[number] = f"{mix(number + self.seed):016x}{mix(number):016x}"
        return user

    def created_at(self, offset_us: int) -> str:
        seconds, micros = divmod(offset_us, 1_000_000)
        hours, rest = divmod(seconds, 3600)
        return f"{self.prefix} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{micros:06d}"

    def record(self, index: int, offset_us: int) -> dict:
        h = mix((self.seed << 32) ^ (self.day.toordinal() << 40) ^ index)
        kind = edge_case(index)
        user = self.user_id(h % self.users)
        course_number = (h >> 8) % len(COURSES)
        course, block = COURSES[course_number], BLOCKS[course_number][(h >> 16) % BLOCKS_PER_COURSE]
        submit = (h >> 24) % 10 < 4
        is_correct = (1 if (h >> 32) % 100 < 55 else 0) if submit else None
        created_at = self.created_at(offset_us)
        sourcedid = f"{course}:{LMS_HOST}-{block}:{user[:8]}"
        outcome = f"https://{LMS_HOST}/courses/{course}/xblock/block-v1:{block}/handler_noauth/grade_handler"
        if kind is None:  # the common case, written as the upstream's repr() would write it
            passback = (f"{{'oauth_consumer_key': '', 'lis_result_sourcedid': '{sourcedid}', "
                        f"'lis_outcome_service_url': '{outcome}'}}")
            return {"lti_user_id": user, "passback_params": passback, "is_correct": is_correct,
                    "attempt_type": "submit" if submit else "run", "created_at": created_at}
        params = {"oauth_consumer_key": "", "lis_result_sourcedid": sourcedid, "lis_outcome_service_url": outcome}
        if kind == "no_outcome_url":
            del params["lis_outcome_service_url"]
        elif kind == "extra_key":
            params["context_id"] = course
        elif kind == "quoted_value":
            params["oauth_consumer_key"] = "consumer's key"
        elif kind == "boolean_result":
            submit, is_correct = True, bool(h & 1)
        elif kind == "empty_user":
            user = ""
        elif kind == "run_with_result":
            submit, is_correct = False, 1
        elif kind == "bad_created_at":
            created_at = "31/05/2023 09:16"
        passback = repr(params)
        if kind == "bad_passback":
            passback = passback[: len(passback) // 2]
        return {"lti_user_id": user, "passback_params": passback, "is_correct": is_correct,
                "attempt_type": "submit" if submit else "run", "created_at": created_at}


@lru_cache(maxsize=64)
def generated_day(day: date, per_day: int, seed: int) -> GraderDay:
    return GraderDay(day, per_day, seed)


class GraderState:
    def __init__(self, config: dict):
        self.lock = threading.Lock()
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.per_day = int(self.config["GRADER_ATTEMPTS_PER_DAY"])
        self.seed = int(self.config["GRADER_SEED"])
        self.start_inclusive = True
        self.end_inclusive = True
        self.fail_status: int | None = None
        self.fail_times = 0          # how many of the next requests fail (0 with fail_status: all)
        self.body_mode = "list"      # list | invalid_json | object
        self.delay_seconds = 0.0
        self.requests: deque[dict] = deque(maxlen=1000)  # the last ones, for tests and demos

    def settings(self) -> dict:
        return {"per_day": self.per_day, "seed": self.seed, "start_inclusive": self.start_inclusive,
                "end_inclusive": self.end_inclusive, "fail_status": self.fail_status, "fail_times": self.fail_times,
                "body_mode": self.body_mode, "delay_seconds": self.delay_seconds}

    def failure_now(self) -> int | None:
        with self.lock:
            if self.fail_status is None:
                return None
            if self.fail_times:
                self.fail_times -= 1
                status = self.fail_status
                if self.fail_times == 0:
                    self.fail_status = None
                return status
            return self.fail_status


def state() -> GraderState:
    app = current_app._get_current_object()
    if "grader_state" not in app.extensions:
        app.extensions["grader_state"] = GraderState(app.config)
    return app.extensions["grader_state"]


def parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def attempts_between(start: datetime, end: datetime, per_day: int, seed: int,
                     start_inclusive: bool = True, end_inclusive: bool = True):
    """The generated attempts with created_at in the window, oldest first."""
    day = start.date()
    while datetime(day.year, day.month, day.day, tzinfo=UTC) <= end:
        generated = generated_day(day, per_day, seed)
        low = (start - generated.start) // timedelta(microseconds=1)
        high = (end - generated.start) // timedelta(microseconds=1)
        if high >= 0 and low < DAY_US:
            for index in generated.index_range(max(low, 0), min(high, DAY_US)):
                offset = generated.offset_us(index)
                if (offset > low or (start_inclusive and offset == low)) and \
                        (offset < high or (end_inclusive and offset == high)):
                    yield generated.record(index, offset)
        day += timedelta(days=1)


def _json_result(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _record_json(record: dict) -> str:
    """json.dumps(record), written out for the five known keys (three times faster)."""
    return (f'{{"lti_user_id": {encode_string(record["lti_user_id"])}, '
            f'"passback_params": {encode_string(record["passback_params"])}, '
            f'"is_correct": {_json_result(record["is_correct"])}, "attempt_type": "{record["attempt_type"]}", '
            f'"created_at": {encode_string(record["created_at"])}}}')


def _stream(records, chunk_rows: int = 2000):
    """The JSON array, a chunk of rows at a time."""
    yield "["
    chunk, first = [], True
    for record in records:
        chunk.append(_record_json(record))
        if len(chunk) >= chunk_rows:
            yield ("" if first else ",") + ",".join(chunk)
            chunk, first = [], False
    if chunk:
        yield ("" if first else ",") + ",".join(chunk)
    yield "]"


def _errors(message: str, status: int):
    return jsonify({"errors": message}), status


@blp.get("/api/statistics")
def statistics():
    current = state()
    current.requests.append({k: v for k, v in request.args.items() if k != "client_key"})
    client, key = request.args.get("client"), request.args.get("client_key")
    if not client or not key:
        return _errors("client and client_key are required", 401)
    if client != current_app.config["GRADER_CLIENT"] or key != current_app.config["GRADER_CLIENT_KEY"]:
        return _errors("invalid client or client_key", 403)
    start, end = parse_time(request.args.get("start")), parse_time(request.args.get("end"))
    if start is None or end is None:
        return _errors("start and end must be timestamps (YYYY-MM-DD HH:MM:SS.ffffff)", 400)
    if current.delay_seconds:
        time.sleep(current.delay_seconds)  # the slow-response mode the real API shows on long windows
    status = current.failure_now()
    if status is not None:
        return _errors(f"internal error ({status})", status)
    if current.body_mode == "invalid_json":
        return Response('[{"lti_user_id": "x", ', mimetype="application/json")
    if current.body_mode == "object":
        return jsonify({"errors": "window too large"})
    records = attempts_between(start, end, current.per_day, current.seed, current.start_inclusive,
                               current.end_inclusive)
    return Response(_stream(records), mimetype="application/json")


@blp.post("/_sandbox/grader/mode")
def mode():
    body = request.get_json(silent=True) or {}
    current = state()
    with current.lock:
        if "per_day" in body:
            current.per_day = max(1, int(body["per_day"]))
        for key in ("start_inclusive", "end_inclusive"):
            if key in body:
                setattr(current, key, bool(body[key]))
        if "fail_status" in body:
            current.fail_status = int(body["fail_status"]) if body["fail_status"] else None
            current.fail_times = int(body.get("fail_times", 0))
        if "body_mode" in body:
            current.body_mode = body["body_mode"] if body["body_mode"] in ("list", "invalid_json", "object") else "list"
        if "delay_seconds" in body:
            current.delay_seconds = max(0.0, float(body["delay_seconds"]))
        return jsonify(current.settings())


@blp.post("/_sandbox/grader/reset")
def reset():
    current = state()
    with current.lock:
        current.reset()
    return jsonify(current.settings())


@blp.get("/_sandbox/grader/requests")
def requests_seen():
    """The query strings received so far (without client_key)."""
    return jsonify(list(state().requests))


def expected_counts(day: date, per_day: int) -> dict:
    counts = {kind: 0 for kind in EDGE_RATES}
    for index in range(per_day):
        kind = edge_case(index)
        if kind:
            counts[kind] += 1
    rejected = sum(counts[kind] for kind in REJECTED_KINDS)
    return {"date": day.isoformat(), "attempts": per_day, "valid": per_day - rejected, "rejected": rejected,
            "edge_cases": counts}


@blp.get("/_sandbox/grader/expected")
def expected():
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return _errors("date=YYYY-MM-DD is required", 400)
    return jsonify(expected_counts(day, state().per_day))
