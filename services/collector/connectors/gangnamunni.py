"""Client for Gangnamunni's community: the document search (posts) and each post's page
(comments, from the `__NEXT_DATA__` JSON embedded in the HTML).

The search is offset-paged (`start`, `length`) newest first, behind the cookie
`token=<TOKEN>`; a page is good only if `reason == "SUCCESS"`; the end is an empty
`data`. A post page that answers 404 (frequent on the real site) loses only that post's
comments. See docs/upstreams.md (Gangnamunni).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from services.collector.connectors.community import (
    CollectedItem,
    CommunityClient,
    CommunityError,
    cutoff_of,
    from_epoch_ms,
    from_kst_text,
    require,
    take,
)

PRODUCTION_BASE_URL = "https://www.gangnamunni.com"
CATEGORY_IDS = {"hospital_question": 11, "surgery_question": 2, "free_chat": 1, "review": 5, "ask_doctor": 13}
CATEGORIES = tuple(CATEGORY_IDS)
PAGE_LENGTH = 20
_NEXT_DATA = re.compile(r'<script id="__NEXT_DATA__" type="application/json">(.*?)</script>', re.DOTALL)


class GangnamunniClient(CommunityClient):
    source = "gangnamunni"

    def __init__(self, base_url: str, session, token: str, pause=None, warn=None, page_length: int = PAGE_LENGTH,
                 with_comments: bool = True):
        super().__init__(base_url, session, pause, warn)
        if not token:
            raise CommunityError("gangnamunni: no token configured (GANGNAMUNNI_TOKEN or the start body's token)")
        self._token = token
        self.page_length = page_length
        self.with_comments = with_comments
        self.headers = {"Accept": "application/json, text/plain, */*", "Referer": PRODUCTION_BASE_URL + "/",
                        "Origin": PRODUCTION_BASE_URL}

    def auth_hint(self, response) -> str:
        return "the token cookie is missing, wrong or expired"

    def collect(self, target_date: date, categories: Iterable[str] = CATEGORIES, limit: int | None = None,
                save_as_reviews: bool = False) -> Iterator[CollectedItem]:
        """Posts of each category (and their comments), newest first, back to `target_date`
        (Korean day) or `limit` posts per category. With `save_as_reviews`, posts of the
        `review` board (발품후기) are stored as kind `review` instead of `post`."""
        cutoff = cutoff_of(target_date)
        for category in categories:
            if category not in CATEGORY_IDS:
                raise ValueError(f"unknown gangnamunni category {category!r}")
            kind = "review" if save_as_reviews and category == "review" else "post"
            yield from take(self._category(category, kind, cutoff, limit), self.stats)

    def _category(self, category: str, kind: str, cutoff, limit: int | None) -> Iterator[CollectedItem]:
        return self.newest_first(self._pages(category, kind), category, cutoff, limit, replies=self._replies)

    def _replies(self, post: CollectedItem) -> Iterable[CollectedItem]:
        return self._comments(post) if self.with_comments and post.metrics["comments"] > 0 else ()

    def _pages(self, category: str, kind: str) -> Iterator[Iterator[CollectedItem]]:
        """The search's pages of `category`, newest first, each as its parsed posts."""
        start = 0
        while True:
            what = f"{category} posts from {start}"
            body = self.request_json("GET", "/api/solar/search/document", what, headers=self.headers,
                                     cookies={"token": self._token},
                                     params={"start": start, "length": self.page_length, "sort": "createTime",
                                             "categoryIds": CATEGORY_IDS[category]})
            if not isinstance(body, dict) or body.get("reason") != "SUCCESS":
                reason = body.get("reason") if isinstance(body, dict) else None
                raise CommunityError(f"gangnamunni {what}: reason {reason!r}")
            data = body.get("data")
            if not data:
                return
            yield self.parse_each(data, lambda record: self._post(record, kind), what)
            start += len(data)

    def _comments(self, post: CollectedItem) -> Iterator[CollectedItem]:
        what = f"comments of post {post.external_id}"
        try:
            response = self.request("GET", f"/community/{post.external_id}", what, headers={"Accept": "text/html"})
        except CommunityError as exc:
            if exc.status != 404:
                raise
            self.warn(f"{what}: the post page answered 404; its comments are skipped")
            return
        match = _NEXT_DATA.search(response.text)
        try:
            comments = json.loads(match.group(1))["props"]["pageProps"]["communityDocumentComments"]
        except (AttributeError, ValueError, KeyError, TypeError):
            self.warn(f"{what}: the page holds no __NEXT_DATA__ comments; skipped")
            return
        yield from self.parse_each(list(flatten(comments)), lambda record: self._comment(record, post), what)

    def _post(self, record: Any, kind: str) -> CollectedItem:
        post_id = require(record, "id", int)
        return CollectedItem(
            source=self.source, kind=kind, external_id=str(post_id), author=record.get("writerNickName"),
            text=require(record, "contents", str), created_at=from_epoch_ms(record.get("createTime"), "createTime"),
            url=f"{PRODUCTION_BASE_URL}/community/{post_id}",
            metrics={"comments": record.get("commentCount") or 0, "thumbs_up": record.get("thumbUpCount") or 0,
                     "views": record.get("viewCount") or 0},
            raw=record)

    def _comment(self, record: Any, post: CollectedItem) -> CollectedItem | None:
        comment_id = require(record, "id", int)
        if record.get("status") == "DELETED":
            return None
        created = record.get("createTime")
        writer = record.get("writer") if isinstance(record.get("writer"), dict) else {}
        return CollectedItem(
            source=self.source, kind="comment", external_id=str(comment_id), author=writer.get("nickname"),
            text=require(record, "contents", str),
            created_at=from_epoch_ms(created) if isinstance(created, (int, float)) else from_kst_text(created),
            url=post.url, metrics={"thumbs_up": record.get("thumbUpCount") or 0},
            raw={**{k: v for k, v in record.items() if k != "replies"}, "post_id": int(post.external_id)})


def flatten(comments: Any) -> Iterator[Any]:
    """Comments and their nested `replies`, depth first."""
    for comment in comments if isinstance(comments, list) else []:
        yield comment
        if isinstance(comment, dict):
            yield from flatten(comment.get("replies"))
