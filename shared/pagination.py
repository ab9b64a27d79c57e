"""List pagination: `page`/`per_page` in, `{"count", "data"}` out, plus `X-Pagination` and `Link` headers."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import after_this_request, request
from flask_smorest import abort
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.sansio.utils import get_current_url

from shared.api import known_query_args

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # far past any real list; keeps OFFSET within every backend's integer range
DEFAULT_PER_PAGE = 20


class PaginationQueryArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE),
                             metadata={"description": "1-based page number", "example": 1})
    per_page = ma.fields.Integer(load_default=DEFAULT_PER_PAGE, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE),
                                 metadata={"description": f"Items per page (at most {MAX_PER_PAGE})",
                                           "example": DEFAULT_PER_PAGE})


@cache
def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The `{"count": n, "data": [...]}` envelope for a list of `item_schema`."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return ma.Schema.from_dict(
        {
            "count": ma.fields.Integer(required=True,
                                       metadata={"description": "Items matching the query, all pages", "example": 1}),
            "data": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        },
        name=name,
    )


def past_the_end(page: int, last_page: int, count: int) -> str:
    return f"Page {page} is past the last page ({last_page}) for {count} items."


# Every paginated view answers this 404; its OpenAPI doc: `@blp.error(404, *PAGE_PAST_END)`.
PAGE_PAST_END = ("The page is past the last page", past_the_end(3, 2, 37))


@dataclass
class Page:
    count: int
    data: list[Any]


def pagination_metadata(page: int, per_page: int, count: int) -> dict[str, int]:
    last_page = max(1, math.ceil(count / per_page))
    meta = {"total": count, "total_pages": math.ceil(count / per_page), "first_page": 1,
            "last_page": last_page, "page": page, "per_page": per_page}
    if page > 1:
        meta["previous_page"] = page - 1
    if page < last_page:
        meta["next_page"] = page + 1
    return meta


# request.base_url works the URL out afresh (IRI decoding included) at every call: a tenth of an
# uncached list page's time. It depends on these four parts only; kept for the last few hundred.
_base_url = lru_cache(maxsize=512)(get_current_url)


def _kept_query(served, known: set[str]) -> str:
    """The query's parameters that the view declared, other than the page's, encoded again. A query
    whose names are plain and none of them kept (`?page=3&per_page=20`) is not parsed at all."""
    query = served.environ.get("QUERY_STRING", "")
    names = {pair.partition("=")[0] for pair in query.split("&")}
    if known.isdisjoint(names) and not any("%" in name or "+" in name for name in names):
        return ""
    return urlencode([(name, value) for name, value in served.args.items(multi=True) if name in known])


def _link_header(meta: dict[str, int]) -> str:
    """Links to the other pages, keeping the view's own query parameters and none a client made up."""
    served = request._get_current_object()  # one look-up through the proxy, not six
    kept = _kept_query(served, known_query_args() - {"page", "per_page"})
    base = _base_url(served.scheme, served.host, served.root_path, served.path)
    prefix = f"<{base}?{kept}&" if kept else f"<{base}?"
    per_page = meta["per_page"]
    return ", ".join(f'{prefix}page={meta[key]}&per_page={per_page}>; rel="{rel}"'
                     for rel, key in (("first", "first_page"), ("prev", "previous_page"), ("next", "next_page"),
                                      ("last", "last_page"))
                     if key in meta)


def set_pagination_headers(page: int, per_page: int, count: int) -> None:
    """Reject a page past the end, and attach the paging headers to the response."""
    meta = pagination_metadata(page, per_page, count)
    if page > meta["last_page"]:
        abort(404, message=past_the_end(page, meta["last_page"], count))

    @after_this_request
    def add_headers(response):
        response.headers["X-Pagination"] = json.dumps(meta)
        response.headers["Link"] = _link_header(meta)
        return response


def counted(stmt: Select) -> Select:
    """How many rows `stmt` selects, as a statement (its order dropped: it changes no count)."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def paginate(session: Session, stmt: Select, page: int, per_page: int) -> Page:
    """One page of `stmt` (which must have a stable ORDER BY) and the total count."""
    count = session.scalar(counted(stmt))
    set_pagination_headers(page, per_page, count)
    items = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(count=count, data=list(items))
