"""Client for Naver Cafe: the article list (per board), each article's body and first
page of comments, and the board list.

The list is page-numbered (`search.page`, 1-based) newest first inside
`{"message": {"result": {"articleList", "hasNext"}}}`. Member-only content needs the
`NID_AUT`/`NID_SES` cookies; without them the platform answers 401 with errorCode 0004.
A member-only list ends the pull (nothing can be read); a member-only article keeps what
the list showed (subject, writer, counters) and is reported. See
docs/upstreams.md (Naver Cafe).
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from datetime import date
from html.parser import HTMLParser
from typing import Any

from services.collector.connectors.community import (
    CollectedItem,
    CommunityAuthError,
    CommunityClient,
    CommunityError,
    cutoff_of,
    from_epoch_ms,
    require,
    take,
)

PRODUCTION_LIST_BASE_URL = "https://apis.naver.com"
PRODUCTION_ARTICLE_BASE_URL = "https://article.cafe.naver.com"
WEB_URL = "https://cafe.naver.com"
LIST_PATH = "/cafe-web/cafe2/ArticleListV2dot1.json"
HEADERS = {"Accept": "application/json", "Referer": WEB_URL + "/"}
HIDDEN_MENU_TYPES = {"P", "L", "F"}     # profile, link and folder entries are not boards


class _TextOfHtml(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        if data.strip():
            self.parts.append(data.strip())


def html_to_text(markup: str) -> str:
    """The readable text of SmartEditor HTML, one paragraph per line."""
    parser = _TextOfHtml()
    parser.feed(markup or "")
    parser.close()
    return "\n".join(parser.parts)


class NaverCafeClient(CommunityClient):
    source = "naver"

    def __init__(self, list_base_url: str, article_base_url: str, session, cookies: str = "", pause=None,
                 warn=None, per_page: int = 20, max_pages: int = 50, with_details: bool = True):
        super().__init__(list_base_url, session, pause, warn)
        self.article_base_url = article_base_url.rstrip("/")
        self._headers = {**HEADERS, **({"Cookie": cookies} if cookies else {})}
        self.per_page = per_page
        self.max_pages = max_pages
        self.with_details = with_details

    def auth_hint(self, response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = {}
        result = body.get("result") if isinstance(body, dict) else None
        code = (result or {}).get("errorCode") if isinstance(result, dict) else None
        return f"member-only content and the NID cookies are missing or wrong (errorCode {code})"

    def menus(self, cafe_id: int) -> list[dict]:
        """The cafe's boards in display order, without profile/link/folder entries."""
        body = self.request_json("GET", f"{self.article_base_url}/gw/v3/cafes/{cafe_id}/menus", "menus",
                                 params={"useCafeId": "true", "requestFrom": "A"}, headers=self._headers)
        menus = ((body or {}).get("result") or {}).get("menus") or []
        boards = [m for m in menus if isinstance(m, dict) and m.get("menuType") not in HIDDEN_MENU_TYPES]
        boards.sort(key=lambda m: m.get("sort", 0))
        return [{**m, "name": html.unescape(str(m.get("name", "")))} for m in boards]

    def collect(self, cafe_id: int, target_date: date, menu_ids: Iterable[int] = (),
                limit: int | None = None) -> Iterator[CollectedItem]:
        """Articles (with body and comments) of each board in `menu_ids` (all boards when
        empty), newest first, back to `target_date` (Korean day) or `limit` per board."""
        cutoff = cutoff_of(target_date)
        for menu_id in list(menu_ids) or [None]:
            category = f"menu {menu_id}" if menu_id else "all"
            yield from take(self._board(cafe_id, menu_id, category, cutoff, limit), self.stats)

    def _board(self, cafe_id: int, menu_id: int | None, category: str, cutoff, limit) -> Iterator[CollectedItem]:
        return self.newest_first(self._list_pages(cafe_id, menu_id, category), category, cutoff, limit,
                                 replies=lambda item: self._details(cafe_id, item) if self.with_details else [])

    def _list_pages(self, cafe_id: int, menu_id: int | None, category: str) -> Iterator[Iterator[CollectedItem]]:
        """The board's list pages, newest first, each as its parsed articles (at most NAVER_MAX_PAGES)."""
        for page in range(1, self.max_pages + 1):
            what = f"cafe {cafe_id} {category} page {page}"
            body = self.request_json("GET", LIST_PATH, what, headers=self._headers, params={
                "search.clubid": cafe_id, "search.queryType": "lastArticle", "search.menuid": menu_id or "",
                "search.page": page, "search.perPage": self.per_page, "ad": "false"})
            message = body.get("message") if isinstance(body, dict) else None
            result = message.get("result") if isinstance(message, dict) else None
            if not isinstance(result, dict):
                raise CommunityError(f"naver {what}: no message.result in the answer")
            articles = result.get("articleList")
            if not articles:
                return
            yield self.parse_each(articles, lambda record: self._article(record, cafe_id), what)
            if not result.get("hasNext"):
                return
        self.warn(f"cafe {cafe_id} {category}: stopped after {self.max_pages} pages (NAVER_MAX_PAGES)")

    def _details(self, cafe_id: int, item: CollectedItem) -> list[CollectedItem]:
        """Fill in the article's body; its comments (first page) as items."""
        article_id = item.raw["articleId"]
        what = f"article {cafe_id}/{article_id}"
        try:
            body = self.request_json("GET", f"{self.article_base_url}/gw/v3/cafes/{cafe_id}/articles/{article_id}",
                                     what, headers=self._headers,
                                     params={"query": "", "boardType": "L", "useCafeId": "true", "requestFrom": "A"})
        except CommunityAuthError:
            self.warn(f"{what} is member-only and the NID cookies are missing or wrong: kept without its body")
            return []
        except CommunityError as exc:
            if exc.status != 404:
                raise
            self.warn(f"{what} answered 404 (deleted?): kept without its body")
            return []
        result = body.get("result") if isinstance(body, dict) else None
        article = (result or {}).get("article") or (result or {}).get("scrap") or {}
        content = html_to_text(article.get("contentHtml", "")) if isinstance(article, dict) else ""
        if content:
            item.text = f"{item.raw.get('subject', '')}\n{content}".strip()
        comments = (((result or {}).get("comments") or {}).get("items")) or []
        return list(self.parse_each(comments, lambda record: self._comment(record, cafe_id, item), f"{what} comments"))

    def _article(self, record: Any, cafe_id: int) -> CollectedItem:
        article_id = require(record, "articleId", int)
        return CollectedItem(
            source=self.source, kind="post", external_id=f"{cafe_id}:{article_id}",
            author=record.get("writerNickname"), text=str(record.get("subject") or ""),
            created_at=from_epoch_ms(record.get("writeDateTimestamp"), "writeDateTimestamp"),
            url=f"{WEB_URL}/ca-fe/cafes/{cafe_id}/articles/{article_id}",
            metrics={"reads": record.get("readCount") or 0, "comments": record.get("commentCount") or 0,
                     "likes": record.get("likeItCount", record.get("likeCount")) or 0},
            raw={**record, "cafeId": cafe_id})

    def _comment(self, record: Any, cafe_id: int, article: CollectedItem) -> CollectedItem | None:
        comment_id = require(record, "id", int)
        if record.get("isDeleted"):
            return None
        writer = record.get("writer") if isinstance(record.get("writer"), dict) else {}
        return CollectedItem(
            source=self.source, kind="comment", external_id=f"{cafe_id}:{comment_id}", author=writer.get("nick"),
            text=require(record, "content", str), created_at=from_epoch_ms(record.get("updateDate"), "updateDate"),
            url=article.url, metrics={"member_level": record.get("memberLevel")},
            raw={**record, "cafeId": cafe_id, "articleId": article.raw["articleId"]})
