"""Stand-in for Babitalk's web API (docs/upstreams.md section 3).

Reproduces: `/v2/reviews`, `/v2/community/talks` (per `service_id`),
`/v2/event-ask-memos` (per `category_id`), all newest first, `limit` capped at 24, the
int cursor `search_after` (the last id of the page) with `has_next`, `search_after: null`
and `has_next: false` on the last page, empty `data` past the end; comments paged 50 per
page with `has_next` only; memos' relative `first_write_at` ("17시간전"); 404 for an unknown
talk. No auth, as on the real site; 401/403/429 come from the faults (community_common).
Any other positive `service_id` or memo `category_id` serves its own talks or memos, generated
from the seed and the id (community_common.OnDemand).
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, current_app, jsonify

from deploy.sandbox.community_common import (
    GENERATED_BASE,
    NICKNAMES,
    CommunityState,
    OnDemand,
    add_control_routes,
    app_state,
    default_anchor,
    generated_owner,
    kst_text,
    relative_korean,
    sentence,
)
from deploy.sandbox.query import int_arg

blp = Blueprint("babitalk", __name__)

REVIEWS, REVIEW_SPACING = 120, timedelta(hours=2)
TALKS_PER_SERVICE, TALK_SPACING = 60, timedelta(hours=4)
MEMOS_PER_CATEGORY, MEMO_SPACING = 10, timedelta(hours=20)
SERVICE_IDS = (79, 71, 72)
MEMO_CATEGORIES = {3000: "눈", 3100: "코", 3200: "지방흡입/이식", 3300: "안면윤곽/양악", 3400: "가슴",
                   3500: "남자성형", 3600: "기타"}
COMMENTS_PER_PAGE = 50
LONG_THREAD_COMMENTS = 55            # one talk spans two comment pages


def user(rng: random.Random) -> dict:
    return {"id": rng.randint(1, 99999), "name": rng.choice(NICKNAMES), "profile": None}


class BabitalkState(CommunityState):
    def generate(self) -> None:
        rng = random.Random(self.seed)
        self.reviews = [self._review(rng, 700000 + REVIEWS - i, self.anchor - i * REVIEW_SPACING)
                        for i in range(REVIEWS)]
        self.talks: dict[int, list[dict]] = {}
        for s, service_id in enumerate(SERVICE_IDS):
            base = 900000 + s * 10000
            self.talks[service_id] = [
                self._talk(rng, base + TALKS_PER_SERVICE - i, service_id, self.anchor - i * TALK_SPACING,
                           LONG_THREAD_COMMENTS if i == 2 else rng.choice((0, 0, 1, 2, 3)))
                for i in range(TALKS_PER_SERVICE)]
        self.memos: dict[int, list[dict]] = {}
        for c, category_id in enumerate(MEMO_CATEGORIES):
            self.memos[category_id] = self._memos(rng, category_id, 300000 + c * 1000, f"바비성형외과 {c}")
        self.generated = OnDemand(self.seed)      # talks of other services, memos of other categories

    def _memos(self, rng, category_id: int, base: int, hospital: str) -> list[dict]:
        return [{"id": base + MEMOS_PER_CATEGORY - i, "star_score": rng.randint(1, 5),
                 "category": MEMO_CATEGORIES.get(category_id, f"카테고리 {category_id}"),
                 "main_category_id": category_id,
                 "region": rng.choice(("강남", "신사", "압구정", "부산")), "hospital_name": hospital,
                 "user": user(rng), "_created": self.anchor - i * MEMO_SPACING,
                 "real_price": rng.randint(10, 900) * 10000, "text": sentence(rng)}
                for i in range(MEMOS_PER_CATEGORY)]

    def talks_of(self, service_id: int) -> list[dict]:
        """A service's talks, newest first: the fixed ones, or generated for any other positive id."""
        if service_id in self.talks:
            return self.talks[service_id]
        if service_id <= 0:
            return []
        return self.generated.get(("talks", service_id), lambda rng: [
            self._talk(rng, GENERATED_BASE + service_id * 1000 + TALKS_PER_SERVICE - i, service_id,
                       self.anchor - i * TALK_SPACING, rng.choice((0, 0, 1, 2, 3)))
            for i in range(TALKS_PER_SERVICE)])

    def memos_of(self, category_id: int) -> list[dict]:
        if category_id in self.memos:
            return self.memos[category_id]
        if category_id <= 0:
            return []
        return self.generated.get(("memos", category_id), lambda rng: self._memos(
            rng, category_id, GENERATED_BASE + category_id * 1000, "바비성형외과"))

    def _review(self, rng, review_id: int, created: datetime) -> dict:
        return {
            "id": review_id, "categories": ["코성형"], "sub_categories": ["콧대"], "concerns": None,
            "surgery_date": (created - timedelta(days=30)).strftime("%Y-%m-%d"), "created_at": kst_text(created),
            "rating": rng.randint(1, 10), "text": sentence(rng), "is_blind": False, "is_image_blur": False,
            "is_certificated_review": rng.random() < 0.5,
            "images": [{"id": review_id * 10, "url": "https://img.example/r.jpg", "small_url": "https://img.example/s.jpg",
                        "is_after": True, "order": 1, "is_main": True, "is_blur": False}],
            "price": rng.randint(50, 900) * 10000, "service": "TREATMENTS", "user": user(rng),
            "event": None, "search_doctor": None,
            "hospital": {"id": rng.randint(1, 500), "name": "바비성형외과", "image": None, "region": "강남",
                         "star_avg": round(rng.uniform(3, 5), 1), "review_count": rng.randint(1, 900)},
        }

    def _talk(self, rng, talk_id: int, service_id: int, created: datetime, comments: int) -> dict:
        return {"id": talk_id, "service_id": service_id, "title": rng.choice(("질문있어요", "후기", "고민상담")),
                "text": sentence(rng), "total_comment": comments, "created_at": kst_text(created),
                "is_vote": False, "is_best": rng.random() < 0.1, "is_notice": False, "user": user(rng),
                "images": [{"id": None, "url": "https://img.example/t.jpg", "is_after": None}]}

    def talk(self, talk_id: int) -> dict | None:
        owner = generated_owner(talk_id)
        candidates = self.talks.values() if owner is None else [self.talks_of(owner)]
        return next((t for talks in candidates for t in talks if t["id"] == talk_id), None)

    def comments(self, talk: dict) -> list[dict]:
        rng = random.Random(talk["id"])
        created = datetime.fromisoformat(talk["created_at"])
        return [{"id": talk["id"] * 100 + k, "parent_id": None, "is_parent": True, "user": user(rng),
                 "to_name": None, "is_del": 1 if k == 5 else 0, "blind_at": None, "blind_type": None,
                 "text": sentence(rng),
                 "created_at": (created + timedelta(minutes=k + 1)).strftime("%Y-%m-%d %H:%M:%S")}
                for k in range(talk["total_comment"])]

    def memo_view(self, memo: dict) -> dict:
        view = {k: v for k, v in memo.items() if k != "_created"}
        view["first_write_at"] = relative_korean(memo["_created"], datetime.now(UTC))
        return view

    def records(self, kind: str) -> list[dict]:
        if kind == "reviews":
            return self.reviews
        if kind == "talks":
            return [t for talks in self.talks.values() for t in talks]
        if kind == "event_ask_memos":
            return [{**self.memo_view(m), "created_at": kst_text(m["_created"])}
                    for memos in self.memos.values() for m in memos]
        if kind == "comments":
            return [c for talks in self.talks.values() for t in talks for c in self.comments(t)]
        abort(404)


def state() -> BabitalkState:
    return app_state("babitalk_state", lambda: BabitalkState(current_app.config.get("COMMUNITY_SEED", 79),
                                                             default_anchor()))


def _cursor_page(records: list[dict], view=lambda r: r):
    current = state()
    with current.lock:
        fault = current.faults.intercept()
        if fault is not None:
            return fault
        if current.faults.empty:
            return jsonify({"data": [], "pagination": {"has_next": False, "search_after": None}})
        limit = max(1, min(int_arg("limit", 24), 24))
        after = int_arg("search_after", 0)
        remaining = [r for r in records if not after or r["id"] < after]
        rows = [view(r) for r in remaining[:limit]]
        has_next = len(remaining) > limit
        if current.faults.malformed and not after and len(rows) > 1:
            rows[1] = {**rows[1], "created_at": "어제쯤", "first_write_at": None, "text": None}
    return jsonify({"data": rows, "pagination": {"has_next": has_next,
                                                 "search_after": rows[-1]["id"] if has_next else None}})


@blp.get("/v2/reviews")
def reviews():
    return _cursor_page(state().reviews)


@blp.get("/v2/community/talks")
def talks():
    current = state()
    with current.lock:
        talks = current.talks_of(int_arg("service_id", 79))
    return _cursor_page(talks)


@blp.get("/v2/event-ask-memos")
def event_ask_memos():
    current = state()
    with current.lock:
        memos = current.memos_of(int_arg("category_id", 3000))
    return _cursor_page(memos, current.memo_view)


@blp.get("/v2/community/talks/<int:talk_id>/comments")
def talk_comments(talk_id: int):
    current = state()
    with current.lock:
        fault = current.faults.intercept()
        if fault is not None:
            return fault
        talk = current.talk(talk_id)
        if talk is None:
            return jsonify({"message": "Not Found"}), 404
        comments = current.comments(talk)
    page = max(1, int_arg("page", 1))
    rows = comments[(page - 1) * COMMENTS_PER_PAGE: page * COMMENTS_PER_PAGE]
    return jsonify({"data": rows, "pagination": {"has_next": len(comments) > page * COMMENTS_PER_PAGE}})


add_control_routes(blp, "babitalk", state)
