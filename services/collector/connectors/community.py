"""What the three community-platform connectors (Babitalk, Gangnamunni, Naver Cafe) share:
the one collected-item form, their errors, and the request/paging helpers.

Each connector pages its platform newest-first and yields `CollectedItem`s until it passes
the target date, reaches its limit or the end. A record it cannot parse is skipped and
reported (`warn`), never fatal: one odd post must not lose a whole pull.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import requests

from shared.redact import redact_text

log = logging.getLogger(__name__)

# The three platforms are Korean and write local times without an offset; Korea has no DST.
KST = timezone(timedelta(hours=9), "KST")

Warn = Callable[[str], None]
Pause = Callable[[], None]


@dataclass
class CollectedItem:
    """One post, review, memo or comment, in the form every platform is stored in."""

    source: str                      # babitalk | gangnamunni | naver
    kind: str                        # post | review | memo | comment
    external_id: str                 # the platform's id, unique within (source, kind)
    author: str | None
    text: str
    created_at: datetime             # aware, UTC
    url: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    category: str | None = None      # the start-body category the item was collected under

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


class CommunityError(Exception):
    """The platform refused the request or answered something that is not a page."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(redact_text(message))
        self.status = status


class CommunityAuthError(CommunityError):
    """401/403: the cookie or token is missing, wrong or expired (or the platform blocks us)."""


class MalformedRecord(ValueError):
    """A record lacks a field the item form needs, or holds one of the wrong type."""


@dataclass
class PullStats:
    """What one pull did, for the task's statistics and result summary."""

    requests: int = 0
    received: int = 0                # records the platform handed out (all kinds)
    skipped: int = 0                 # malformed records, skipped and reported
    by_kind: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)

    def yielded(self, item: CollectedItem) -> None:
        self.by_kind[item.kind] = self.by_kind.get(item.kind, 0) + 1
        if item.category:
            self.by_category[item.category] = self.by_category.get(item.category, 0) + 1


def cutoff_of(target_date: date) -> datetime:
    """The oldest instant a pull keeps: the start of `target_date` in Korea, as UTC."""
    return datetime.combine(target_date, time.min, KST).astimezone(UTC)


def from_epoch_ms(value: Any, name: str = "timestamp") -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MalformedRecord(f"{name} {value!r} is not epoch milliseconds")
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedRecord(f"{name} {value!r} is not epoch milliseconds") from None


def from_kst_text(value: Any) -> datetime:
    """"YYYY-MM-DD HH:MM:SS" (or ISO 8601 with an offset) in Korean time -> aware UTC."""
    if not isinstance(value, str):
        raise MalformedRecord(f"date {value!r} is not text")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedRecord(f"date {value!r} is not YYYY-MM-DD HH:MM:SS") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=KST)
    return parsed.astimezone(UTC)


def require(record: Any, key: str, kinds: type | tuple[type, ...]) -> Any:
    """`record[key]`, checked to be of `kinds` (bool never passes for int)."""
    if not isinstance(record, dict):
        raise MalformedRecord(f"record is {type(record).__name__}, not an object")
    value = record.get(key)
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise MalformedRecord(f"{key} is {value!r}")
    if not isinstance(value, kinds):
        raise MalformedRecord(f"{key} is {value!r}")
    return value


def user_name(user: Any) -> str | None:
    return user.get("name") if isinstance(user, dict) else None


class CommunityClient:
    """Request, pacing and error handling common to the three connectors.

    `pause` is called between two upstream requests (the collector passes `ctx.pace`, which
    also honours a cancel); `warn` receives one line per skipped record or soft failure.
    HTTP 429 is retried by the session (`shared.http.HttpSession` honours `Retry-After`);
    a 429 still there after the retries ends the pull with a `CommunityError`.
    """

    source = "community"

    def __init__(self, base_url: str, session: requests.Session, pause: Pause | None = None,
                 warn: Warn | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session
        self._pause = pause or (lambda: None)
        self._warn = warn
        self.stats = PullStats()
        self._requested = False

    def warn(self, message: str) -> None:
        message = redact_text(message)
        log.warning("%s: %s", self.source, message)
        if self._warn is not None:
            self._warn(message)

    def request_json(self, method: str, path_or_url: str, what: str, **kwargs) -> Any:
        """One paced request; the decoded JSON body of a 200, else a `CommunityError`."""
        response = self.request(method, path_or_url, what, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise CommunityError(f"{self.source} {what}: HTTP 200 but the body is not JSON",
                                 status=response.status_code) from None

    def request(self, method: str, path_or_url: str, what: str, ok: Iterable[int] = (200,),
                **kwargs) -> requests.Response:
        if self._requested:
            self._pause()
        self._requested = True
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        self.stats.requests += 1
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise CommunityError(f"{self.source} {what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise CommunityAuthError(
                f"{self.source} {what}: HTTP {response.status_code}: {self.auth_hint(response)}",
                status=response.status_code)
        if response.status_code == 429:
            raise CommunityError(f"{self.source} {what}: still rate-limited (HTTP 429) after retries",
                                 status=429)
        if response.status_code not in ok:
            raise CommunityError(f"{self.source} {what}: HTTP {response.status_code}", status=response.status_code)
        return response

    def auth_hint(self, response: requests.Response) -> str:
        return "the platform refused the request"

    def newest_first(self, pages: Iterable[Iterable[CollectedItem]], category: str, cutoff: datetime,
                     limit: int | None, replies: Callable[[CollectedItem], Iterable[CollectedItem]],
                     ) -> Iterator[CollectedItem]:
        """The items of `pages` (each page's items, newest first), each followed by its replies,
        until one is older than `cutoff` or `limit` top-level items were kept; all get `category`.

        `replies(item)` is called before the item is yielded, so a connector may complete the
        item there (Naver fills in the article's body); a generator it returns is read after."""
        kept = 0
        for page in pages:
            for item in page:
                if item.created_at < cutoff:
                    return
                item.category = category
                kept += 1
                following = replies(item)
                yield item
                for reply in following:
                    reply.category = category
                    yield reply
                if limit is not None and kept >= limit:
                    return

    def parse_each(self, records: Any, parse: Callable[[Any], CollectedItem | None],
                   what: str) -> Iterator[CollectedItem]:
        """Parse a page's records, skipping (and reporting) the malformed ones."""
        if not isinstance(records, list):
            raise CommunityError(f"{self.source} {what}: the page holds no list of records")
        for position, record in enumerate(records):
            self.stats.received += 1
            try:
                item = parse(record)
            except MalformedRecord as exc:
                self.stats.skipped += 1
                ident = record.get("id", record.get("articleId")) if isinstance(record, dict) else None
                self.warn(f"skipped malformed record #{position} (id {ident!r}) in {what}: {exc}")
                continue
            if item is not None:
                yield item


def take(items: Iterable[CollectedItem], stats: PullStats) -> Iterator[CollectedItem]:
    """Pass items through, counting them in `stats`."""
    for item in items:
        stats.yielded(item)
        yield item
