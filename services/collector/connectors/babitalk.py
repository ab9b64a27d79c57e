"""Client for Babitalk's web API: reviews, community talks (+ comments), event-ask memos.

No auth. Lists are cursor-paged newest first: `{"data": [...], "pagination": {"has_next",
"search_after"}}`; the first request omits the cursor, the next ones echo `search_after`.
Comments are paged by `page` (1-based, 50 per page) with `has_next` only. Memos carry a
relative Korean time ("20분전", "3일전") resolved against the time of the pull.
See docs/upstreams.md (Babitalk).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.collector.connectors.community import (
    CollectedItem,
    CommunityClient,
    CommunityError,
    MalformedRecord,
    cutoff_of,
    from_kst_text,
    require,
    take,
    user_name,
)

PRODUCTION_BASE_URL = "https://web-api.babitalk.com"
WEB_URL = "https://web.babitalk.com"
CATEGORIES = ("reviews", "talks", "event_ask_memos")
PAGE_SIZE_MAX = 24
COMMENTS_PER_PAGE = 50
TALK_SERVICE_IDS = (79,)                                     # 79 성형 (71 쁘띠/피부, 72 일상)
MEMO_CATEGORY_IDS = (3000, 3100, 3200, 3300, 3400, 3500, 3600)
HEADERS = {
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "ko-KR,ko;q=0.9",
    "Origin": WEB_URL,
    "Referer": WEB_URL + "/",
}
_RELATIVE = re.compile(r"^\s*(\d+)\s*(초|분|시간|일|주|개월|달|년)\s*전\s*$")
_UNIT = {"초": timedelta(seconds=1), "분": timedelta(minutes=1), "시간": timedelta(hours=1),
         "일": timedelta(days=1), "주": timedelta(weeks=1), "개월": timedelta(days=30),
         "달": timedelta(days=30), "년": timedelta(days=365)}


def parse_relative(text: Any, now: datetime) -> datetime:
    """"17시간전" -> now - 17 h; "방금전" -> now; a plain date is taken as Korean time."""
    if not isinstance(text, str):
        raise MalformedRecord(f"first_write_at {text!r} is not text")
    if text.replace(" ", "") in ("방금전", "방금"):
        return now
    match = _RELATIVE.match(text)
    if match:
        return now - int(match.group(1)) * _UNIT[match.group(2)]
    return from_kst_text(text.replace(".", "-"))


class BabitalkClient(CommunityClient):
    source = "babitalk"

    def __init__(self, base_url: str, session, pause=None, warn=None, page_size: int = PAGE_SIZE_MAX,
                 talk_service_ids: Iterable[int] = TALK_SERVICE_IDS,
                 memo_category_ids: Iterable[int] = MEMO_CATEGORY_IDS,
                 now: Callable[[], datetime] | None = None):
        super().__init__(base_url, session, pause, warn)
        self.page_size = max(1, min(page_size, PAGE_SIZE_MAX))
        self.talk_service_ids = tuple(talk_service_ids)
        self.memo_category_ids = tuple(memo_category_ids)
        self.now = now or (lambda: datetime.now(UTC))

    def collect(self, target_date: date, categories: Iterable[str] = CATEGORIES,
                limit: int | None = None) -> Iterator[CollectedItem]:
        """Items of each category, newest first, back to `target_date` (Korean day) or
        `limit` top-level records per category (a talk's comments come with it)."""
        cutoff = cutoff_of(target_date)
        for category in categories:
            if category == "reviews":
                streams = [self._listing("/v2/reviews", {"service": "TREATMENTS", "sort": "recent"},
                                         "reviews", self._review)]
            elif category == "talks":
                streams = [self._listing("/v2/community/talks", {"service_id": sid, "sort": "recent"},
                                         f"talks (service {sid})", self._talk) for sid in self.talk_service_ids]
            elif category == "event_ask_memos":
                streams = [self._listing("/v2/event-ask-memos",
                                         {"category_type": 305, "category_id": cid, "sort": "recent"},
                                         f"event-ask memos (category {cid})", self._memo)
                           for cid in self.memo_category_ids]
            else:
                raise ValueError(f"unknown babitalk category {category!r}")
            yield from take(self._bounded(streams, cutoff, limit, category), self.stats)

    def _bounded(self, streams, cutoff: datetime, limit: int | None, category: str) -> Iterator[CollectedItem]:
        kept = 0
        for stream in streams:
            for item in stream:
                if item.kind != "comment":
                    if item.created_at < cutoff:
                        if item.raw.get("is_notice"):
                            continue          # pinned notices are old but sit on top: not the end
                        break
                    kept += 1
                item.category = category
                yield item
                if item.kind == "post" and item.metrics.get("comments", 0) > 0:
                    for comment in self._comments(item):
                        comment.category = category
                        yield comment
                if limit is not None and kept >= limit:
                    return

    def _listing(self, path: str, params: dict, what: str,
                 parse: Callable[[Any], CollectedItem]) -> Iterator[CollectedItem]:
        """Every record of a cursor-paged list, newest first, until the list ends."""
        cursor, seen = None, set()
        while True:
            query = {**params, "limit": self.page_size}
            if cursor:
                query["search_after"] = cursor
            body = self.request_json("GET", path, what, params=query, headers=HEADERS)
            data = body.get("data") if isinstance(body, dict) else None
            if not data:
                return
            yield from self.parse_each(data, parse, what)
            pagination = body.get("pagination") or {}
            cursor = pagination.get("search_after")
            if not pagination.get("has_next") or not cursor or cursor in seen:
                return
            seen.add(cursor)

    def _comments(self, talk: CollectedItem) -> Iterator[CollectedItem]:
        page = 1
        while True:
            what = f"comments of talk {talk.external_id} page {page}"
            try:
                body = self.request_json("GET", f"/v2/community/talks/{talk.external_id}/comments", what,
                                         params={"page": page}, headers=HEADERS)
            except CommunityError as exc:
                if exc.status != 404:
                    raise
                # The talk was deleted between the listing and now: keep the talk, lose its comments.
                self.warn(f"{what} answered 404; its comments are skipped")
                return
            data = body.get("data") if isinstance(body, dict) else None
            if not data:
                return
            yield from self.parse_each(data, lambda record: self._comment(record, talk), what)
            if len(data) < COMMENTS_PER_PAGE or not (body.get("pagination") or {}).get("has_next"):
                return
            page += 1

    # --- records -> items ---------------------------------------------------------------

    def _review(self, record: Any) -> CollectedItem:
        review_id = require(record, "id", int)
        return CollectedItem(
            source=self.source, kind="review", external_id=str(review_id),
            author=user_name(record.get("user")), text=require(record, "text", str),
            created_at=from_kst_text(require(record, "created_at", str)),
            url=f"{WEB_URL}/reviews/{review_id}",
            metrics={"rating": record.get("rating"), "price": record.get("price"),
                     "images": len(record.get("images") or [])},
            raw=record)

    def _talk(self, record: Any) -> CollectedItem:
        talk_id = require(record, "id", int)
        title = record.get("title") or ""
        return CollectedItem(
            source=self.source, kind="post", external_id=str(talk_id),
            author=user_name(record.get("user")), text=f"{title}\n{require(record, 'text', str)}".strip(),
            created_at=from_kst_text(require(record, "created_at", str)),
            url=f"{WEB_URL}/community/{talk_id}",
            metrics={"comments": record.get("total_comment") or 0, "is_best": bool(record.get("is_best"))},
            raw=record)

    def _memo(self, record: Any) -> CollectedItem:
        memo_id = require(record, "id", int)
        return CollectedItem(
            source=self.source, kind="memo", external_id=str(memo_id),
            author=user_name(record.get("user")), text=require(record, "text", str),
            created_at=parse_relative(record.get("first_write_at"), self.now()),
            url=None,
            metrics={"star_score": record.get("star_score"), "real_price": record.get("real_price")},
            raw=record)

    def _comment(self, record: Any, talk: CollectedItem) -> CollectedItem | None:
        comment_id = require(record, "id", int)
        if record.get("is_del"):
            return None                       # deleted: the platform shows an empty placeholder
        return CollectedItem(
            source=self.source, kind="comment", external_id=str(comment_id),
            author=user_name(record.get("user")), text=require(record, "text", str),
            created_at=from_kst_text(require(record, "created_at", str)),
            url=talk.url, metrics={"parent_id": record.get("parent_id")},
            raw={**record, "talk_id": int(talk.external_id)})
