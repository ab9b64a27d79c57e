"""What the three community-platform stand-ins share: the time anchor their generated
records hang from, the faults a test can switch on, and the `/_sandbox/<name>/...` routes.

Records are generated deterministically (seeded) with creation times spread back from an
anchor (`SANDBOX_COMMUNITY_ANCHOR`, ISO 8601; default: the start of the current hour), so
paging back to a target date is testable. Faults (`POST /_sandbox/<name>/faults`):
`{"rate_limit": n, "retry_after": s}` answers the next n data requests with 429 and
`Retry-After: s`; `{"fail_status": 403, "fail_times": n}` answers n requests with that status
(only requests whose path contains `fail_path`, if given);
`{"malformed": true}` corrupts one record on each first page; `{"empty": true}` serves no data.
`GET /_sandbox/<name>/faults` also tells when each data request arrived (`request_times`).

Besides its fixed records, each stand-in serves any board or category id a client asks for
(a real site has many): generated on demand from the seed and the id (`OnDemand`), numbered
`GENERATED_BASE + id * 1000 + n` so a record's id alone says which set to regenerate.
"""
from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from flask import Blueprint, current_app, jsonify, request

KST = timezone(timedelta(hours=9), "KST")


def default_anchor() -> datetime:
    configured = current_app.config.get("COMMUNITY_ANCHOR")
    if configured:
        anchor = datetime.fromisoformat(configured)
        return anchor if anchor.tzinfo else anchor.replace(tzinfo=KST)
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


GENERATED_BASE, GENERATED_KEPT = 10**9, 256


def generated_owner(record_id: int) -> int | None:
    """The board/category id an on-demand record belongs to (None for a fixed record)."""
    return (record_id - GENERATED_BASE) // 1000 if record_id > GENERATED_BASE else None


class OnDemand:
    """Record sets generated on first use from (seed, key), the least recently used dropped past
    GENERATED_KEPT: regenerating one gives the same records, so dropping is harmless."""

    def __init__(self, seed: int):
        self.seed = seed
        self.sets: OrderedDict[tuple, list[dict]] = OrderedDict()

    def get(self, key: tuple, make: Callable[[random.Random], list[dict]]) -> list[dict]:
        if key not in self.sets:
            self.sets[key] = make(random.Random(":".join(map(str, (self.seed, *key)))))
            while len(self.sets) > GENERATED_KEPT:
                self.sets.popitem(last=False)
        self.sets.move_to_end(key)
        return self.sets[key]


class Faults:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.rate_limit = 0
        self.retry_after = 1
        self.fail_status: int | None = None
        self.fail_times = 0
        self.fail_path = ""
        self.malformed = False
        self.empty = False
        self.served = {"requests": 0, "rate_limited": 0, "failed": 0}
        # When each data request arrived (epoch seconds): shows the pacing a site sees across tasks.
        self.request_times: list[float] = []
        # Seconds between each 429 and the request that followed it: shows Retry-After was honoured.
        self.waits_after_429: list[float] = []
        self._last_429: float | None = None

    def configure(self, body: dict) -> dict:
        if "rate_limit" in body:
            self.rate_limit = int(body["rate_limit"])
            self.retry_after = int(body.get("retry_after", 1))
        if "fail_status" in body:
            self.fail_status = int(body["fail_status"])
            self.fail_times = int(body.get("fail_times", 1))
            self.fail_path = str(body.get("fail_path", ""))
        for flag in ("malformed", "empty"):
            if flag in body:
                setattr(self, flag, bool(body[flag]))
        return self.describe()

    def describe(self) -> dict:
        return {"rate_limit": self.rate_limit, "retry_after": self.retry_after, "fail_status": self.fail_status,
                "fail_times": self.fail_times, "malformed": self.malformed, "empty": self.empty,
                "served": dict(self.served), "waits_after_429": list(self.waits_after_429),
                "request_times": list(self.request_times)}

    def intercept(self, failure_body: Callable[[int], object] = lambda status: {"error": status}):
        """The fault response for this request, if one is due; counts every data request."""
        self.served["requests"] += 1
        self.request_times.append(time.time())
        if self._last_429 is not None:
            self.waits_after_429.append(time.monotonic() - self._last_429)
            self._last_429 = None
        if self.rate_limit > 0:
            self.rate_limit -= 1
            self._last_429 = time.monotonic()
            self.served["rate_limited"] += 1
            response = jsonify({"message": "Too Many Requests"})
            response.status_code = 429
            response.headers["Retry-After"] = str(self.retry_after)
            return response
        if self.fail_status and self.fail_times > 0 and self.fail_path in request.path:
            self.fail_times -= 1
            self.served["failed"] += 1
            response = jsonify(failure_body(self.fail_status))
            response.status_code = self.fail_status
            return response
        return None


class CommunityState:
    """One platform's generated records and faults; subclasses fill `generate()`."""

    def __init__(self, seed: int, anchor: datetime):
        self.lock = threading.Lock()
        self.seed = seed
        self.faults = Faults()
        self.reset(anchor)

    def reset(self, anchor: datetime) -> None:
        self.anchor = anchor
        self.faults.reset()
        self.generate()

    def generate(self) -> None:
        raise NotImplementedError

    def records(self, kind: str) -> list[dict]:
        """Every record of `kind`, as the platform would show it (for tests' expectations)."""
        raise NotImplementedError


def add_control_routes(blp: Blueprint, name: str, state: Callable[[], CommunityState]) -> None:
    @blp.post(f"/_sandbox/{name}/reset", endpoint="sandbox_reset")
    def reset():
        body = request.get_json(silent=True) or {}
        current = state()
        with current.lock:
            anchor = datetime.fromisoformat(body["anchor"]) if body.get("anchor") else default_anchor()
            current.reset(anchor if anchor.tzinfo else anchor.replace(tzinfo=KST))
        return jsonify({"anchor": current.anchor.isoformat()})

    @blp.post(f"/_sandbox/{name}/faults", endpoint="sandbox_faults")
    def faults():
        current = state()
        with current.lock:
            return jsonify(current.faults.configure(request.get_json(silent=True) or {}))

    @blp.get(f"/_sandbox/{name}/faults", endpoint="sandbox_faults_served")
    def served():
        return jsonify(state().faults.describe())

    @blp.get(f"/_sandbox/{name}/records/<kind>", endpoint="sandbox_records")
    def records(kind):
        current = state()
        return jsonify({"anchor": current.anchor.isoformat(), "data": current.records(kind)})


def kst_text(moment: datetime) -> str:
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def relative_korean(moment: datetime, now: datetime) -> str:
    """How Babitalk shows an age: "방금전", "20분전", "17시간전", "3일전"."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "방금전"
    if seconds < 3600:
        return f"{seconds // 60}분전"
    if seconds < 86400:
        return f"{seconds // 3600}시간전"
    return f"{seconds // 86400}일전"


def app_state(key: str, factory: Callable[[], CommunityState]) -> CommunityState:
    app = current_app._get_current_object()
    if key not in app.extensions:
        app.extensions[key] = factory()
    return app.extensions[key]


NICKNAMES = ("코끝요정", "눈매장인", "붓기빼는중", "성형초보", "리프팅러버", "뷰티탐험가", "라인정리", "자연스럽게",
             "수술고민중", "회복일기", "강남언니팬", "피부고민")
OPENINGS = ("코 수술 후기 남겨요.", "눈 성형 3주차입니다.", "지방흡입 상담 다녀왔어요.", "안면윤곽 고민 중이에요.",
            "가슴 수술 병원 추천 부탁드려요.", "리프팅 받고 왔어요.", "쌍꺼풀 재수술 고민돼요.",
            "보톡스 처음 맞아봤어요.")
DETAILS = ("붓기가 아직 많이 남아 있어요.", "가격이 생각보다 비쌌어요.", "부작용이 걱정돼요.", "결과에 정말 만족해요.",
           "상담 실장님이 친절했어요.", "멍이 2주 넘게 갔어요.", "후회는 없어요.", "회복 기간이 길었어요.",
           "원장님 설명이 자세했어요.", "사진이랑 결과가 달라서 속상해요.")


def sentence(rng) -> str:
    return f"{rng.choice(OPENINGS)} {rng.choice(DETAILS)} {rng.choice(DETAILS)}"
