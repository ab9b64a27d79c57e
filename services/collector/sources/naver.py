"""`naver`: articles (with body and first comments page) of one Naver Cafe, all or some boards."""
from __future__ import annotations

import marshmallow as ma

from services.collector.sources.community import CommunityParamsSchema, CommunitySource
from services.collector.connectors.naver import NaverCafeClient


def menu_ids(value) -> list[int]:
    """"288,289" / 288 / "" -> [288, 289] / [288] / [] (all boards)."""
    parts = value if isinstance(value, list) else str(value if value is not None else "").split(",")
    return [int(str(part).strip()) for part in parts if str(part).strip()]


def _valid_menu_ids(value) -> None:
    try:
        ids = menu_ids(value)
    except ValueError:
        raise ma.ValidationError("A board id or a comma-separated list of board ids, e.g. \"288,289\".") from None
    if any(i <= 0 for i in ids):
        raise ma.ValidationError("Board ids are positive integers.")


class NaverParamsSchema(CommunityParamsSchema):
    cafe_id = ma.fields.Integer(required=True, strict=False, validate=ma.validate.Range(min=1),
                                metadata={"description": "The cafe's numeric id (clubid)"})
    target_date = ma.fields.Date(load_default=None, metadata={
        "description": "Oldest day collected (YYYY-MM-DD, Korean time); default yesterday"})
    menu_id = ma.fields.Raw(load_default="", validate=_valid_menu_ids, metadata={
        "description": "Board id or comma-separated ids; empty = all boards"})
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100), metadata={
        "description": "Articles per list page (the site's own pages use 20, 50 or 100)"})
    naver_cookies = ma.fields.String(load_default="", load_only=True, validate=ma.validate.Length(max=8000),
                                     metadata={"description": "'NID_AUT=...; NID_SES=...' for member-only content "
                                                              "(default NAVER_COOKIES); kept encrypted, never shown"})


class NaverSource(CommunitySource):
    name = "naver"
    description = "Naver Cafe articles (+ body and comments), newest first, per board"
    params_schema = NaverParamsSchema
    secret_params = ("naver_cookies",)
    pacing_seconds = 0.5          # the reference scraper's pause between list pages

    def categories(self, params) -> list[str]:
        ids = menu_ids(params.get("menu_id"))
        return [f"menu {i}" for i in ids] or ["all"]

    def client(self, ctx, params, pause, warn):
        config = ctx.config
        return NaverCafeClient(config["NAVER_API_BASE_URL"], config["NAVER_ARTICLE_BASE_URL"], ctx.http,
                               cookies=params.get("naver_cookies") or config["NAVER_COOKIES"], pause=pause,
                               warn=warn, per_page=params.get("per_page") or 20, max_pages=config["NAVER_MAX_PAGES"])

    def collect(self, client, params, target):
        return client.collect(int(params["cafe_id"]), target, menu_ids(params.get("menu_id")), params.get("limit"))
