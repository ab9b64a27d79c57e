"""Stand-in for Naver Cafe's article list, article detail and menus (docs/upstreams.md section 5).

Reproduces: `GET /cafe-web/cafe2/ArticleListV2dot1.json` (`search.clubid`, `search.menuid`,
`search.page` 1-based, `search.perPage`) with the `message.result` envelope, `hasNext`,
`writeDateTimestamp` in epoch ms and an empty `articleList` past the end;
`GET /gw/v3/cafes/<cafe>/articles/<id>` with SmartEditor `contentHtml` and
`result.comments.items`; `GET /gw/v3/cafes/<cafe>/menus` including P/L/F entries.
Cafe 10001 is public except every 7th article, which is member-only; cafe 20002 is
members-only as a whole. Any other cafe id (a positive integer, as on the real site) is a
public cafe like 10001, generated deterministically from the seed and its id; a board id that
is not among a cafe's menus is a board of its own, generated from the cafe and board ids. A
cafe id that is not a positive integer is a 404 with the `message` envelope: the stand-in
answers 5xx only when a test asks for it (`fail_status` in the faults).
Member-only content without the NID cookies (or with wrong ones) -> HTTP 401
`{"result": {"errorCode": "0004", "reason": "로그인하지 않았습니다."}}`.
Accepted cookies: config `NAVER_NID_AUT` / `NAVER_NID_SES`.
"""
from __future__ import annotations

import random
from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, request

from deploy.sandbox.community_common import (
    GENERATED_BASE,
    NICKNAMES,
    CommunityState,
    OnDemand,
    add_control_routes,
    app_state,
    default_anchor,
    epoch_ms,
    generated_owner,
    sentence,
)
from deploy.sandbox.query import int_arg

blp = Blueprint("naver", __name__)

PUBLIC_CAFE, MEMBERS_CAFE = 10001, 20002
ARTICLES_PER_CAFE, ARTICLE_SPACING = 80, timedelta(hours=3)
ARTICLES_PER_EXTRA_BOARD, EXTRA_BOARD_SPACING = 30, timedelta(hours=7)
MENUS = [
    {"id": 288, "name": "자유게시판", "menuType": "B", "boardType": "L", "sort": 2},
    {"id": 289, "name": "수술 &amp; 시술 후기", "menuType": "B", "boardType": "L", "sort": 1},
    {"id": 290, "name": "질문게시판", "menuType": "B", "boardType": "L", "sort": 3},
    {"id": 1, "name": "프로필", "menuType": "P", "boardType": "", "sort": 0},
    {"id": 2, "name": "공식 블로그", "menuType": "L", "boardType": "", "sort": 4},
    {"id": 3, "name": "게시판 모음", "menuType": "F", "boardType": "", "sort": 5},
]
NOT_LOGGED_IN = {"result": {"errorCode": "0004", "reason": "로그인하지 않았습니다."}}


class NaverState(CommunityState):
    def generate(self) -> None:
        rng = random.Random(self.seed)
        self.articles: dict[int, list[dict]] = {}
        for cafe_id in (PUBLIC_CAFE, MEMBERS_CAFE):
            self.articles[cafe_id] = self._cafe_articles(rng, members_only_cafe=cafe_id == MEMBERS_CAFE)
        self.generated = OnDemand(self.seed)          # other cafes and boards, keyed (cafe, board)

    def _cafe_articles(self, rng, members_only_cafe: bool = False) -> list[dict]:
        return [self._article(rng, 239000 + ARTICLES_PER_CAFE - i, MENUS[i % 3], self.anchor - i * ARTICLE_SPACING,
                              members_only=members_only_cafe or i % 7 == 3)
                for i in range(ARTICLES_PER_CAFE)]

    def cafe(self, cafe_id: int) -> list[dict]:
        """Every article of the cafe (any positive id), newest first."""
        if cafe_id in self.articles:
            return self.articles[cafe_id]
        return self.generated.get((cafe_id, 0), self._cafe_articles)

    def board(self, cafe_id: int, menu_id: int) -> list[dict]:
        """The articles of one board of the cafe (all boards when `menu_id` is 0), newest first."""
        articles = self.cafe(cafe_id)
        if not menu_id:
            return articles
        if any(m["id"] == menu_id for m in MENUS):
            return [a for a in articles if a["menuId"] == menu_id]
        menu = {"id": menu_id, "name": f"게시판 {menu_id}"}
        return self.generated.get((cafe_id, menu_id), lambda rng: [
            self._article(rng, GENERATED_BASE + menu_id * 1000 + ARTICLES_PER_EXTRA_BOARD - i, menu,
                          self.anchor - i * EXTRA_BOARD_SPACING - timedelta(minutes=11),
                          members_only=cafe_id == MEMBERS_CAFE or i % 7 == 3)
            for i in range(ARTICLES_PER_EXTRA_BOARD)])

    def article(self, cafe_id: int, article_id: int) -> dict | None:
        board = self.board(cafe_id, generated_owner(article_id) or 0)
        return next((a for a in board if a["articleId"] == article_id), None)

    def _article(self, rng, article_id: int, menu: dict, created, members_only: bool) -> dict:
        comments = [{"id": 5000000 + article_id * 10 + k, "refId": article_id,
                     "writer": {"id": f"user{k}", "nick": rng.choice(NICKNAMES), "memberKey": f"mk{k}"},
                     "content": sentence(rng), "updateDate": epoch_ms(created + timedelta(minutes=k + 1)),
                     "memberLevel": 2, "isDeleted": False, "isArticleWriter": k == 1, "isNew": False}
                    for k in range(rng.choice((0, 1, 2)))]
        return {"articleId": article_id, "menuId": menu["id"], "menuName": menu["name"],
                "subject": rng.choice(("코수술 후기", "눈성형 질문", "병원 추천 부탁", "붓기 언제 빠지나요")),
                "writerNickname": rng.choice(NICKNAMES), "memberKey": f"mk{rng.randint(1, 999)}",
                "writeDateTimestamp": epoch_ms(created), "readCount": rng.randint(1, 900),
                "commentCount": len(comments), "likeItCount": rng.randint(0, 20), "refArticleId": article_id,
                "_body": sentence(rng), "_comments": comments, "_members_only": members_only}

    def records(self, kind: str) -> list[dict]:
        cafe_id, _, menu_id = kind.partition(":")      # "<cafe>" or "<cafe>:<board>"
        if not (cafe_id.isdigit() and int(cafe_id) > 0 and (not menu_id or menu_id.isdigit())):
            abort(404)
        return [public(a) | {"membersOnly": a["_members_only"]} for a in self.board(int(cafe_id), int(menu_id or 0))]


def public(article: dict) -> dict:
    return {k: v for k, v in article.items() if not k.startswith("_")}


def state() -> NaverState:
    return app_state("naver_state", lambda: NaverState(current_app.config.get("COMMUNITY_SEED", 79) + 2,
                                                       default_anchor()))


def logged_in() -> bool:
    config = current_app.config
    return (request.cookies.get("NID_AUT") == config.get("NAVER_NID_AUT", "sandbox-aut")
            and request.cookies.get("NID_SES") == config.get("NAVER_NID_SES", "sandbox-ses"))


def _message(result: dict | None, status: str = "200", code: str = "", msg: str = "") -> dict:
    return {"message": {"status": status, "error": {"code": code, "msg": msg}, "result": result}}


@blp.get("/cafe-web/cafe2/ArticleListV2dot1.json")
def article_list():
    current = state()
    with current.lock:
        fault = current.faults.intercept(lambda status: NOT_LOGGED_IN)
        if fault is not None:
            return fault
        cafe_id = int_arg("search.clubid", 0)
        if cafe_id <= 0:
            return jsonify(_message(None, "404", "0001", "카페 정보가 없습니다.")), 404
        if cafe_id == MEMBERS_CAFE and not logged_in():
            return jsonify(NOT_LOGGED_IN), 401
        articles = current.board(cafe_id, max(0, int_arg("search.menuid", 0)))
        if current.faults.empty:
            articles = []
        page, per_page = max(1, int_arg("search.page", 1)), max(1, min(int_arg("search.perPage", 20), 100))
        rows = [public(a) for a in articles[(page - 1) * per_page: page * per_page]]
        if current.faults.malformed and page == 1 and len(rows) > 1:
            rows[1]["writeDateTimestamp"] = "어제"
    return jsonify(_message({"articleList": rows, "hasNext": len(articles) > page * per_page,
                             "totalArticleCount": len(articles)}))


@blp.get("/gw/v3/cafes/<int:cafe_id>/articles/<int:article_id>")
def article_detail(cafe_id: int, article_id: int):
    current = state()
    with current.lock:
        fault = current.faults.intercept(lambda status: NOT_LOGGED_IN)
        if fault is not None:
            return fault
        article = current.article(cafe_id, article_id) if cafe_id > 0 else None
        if article is None:
            return jsonify({"result": {"errorCode": "0002", "reason": "삭제되었거나 없는 게시글입니다."}}), 404
        if article["_members_only"] and not logged_in():
            return jsonify(NOT_LOGGED_IN), 401
    html = (f'<div class="se-main-container"><div class="se-component se-text"><p class="se-text-paragraph">'
            f'<span>{article["_body"]}</span></p></div><div class="se-component se-image">'
            f'<img src="https://cafeptthumb.example/1.jpg"/></div></div>')
    return jsonify({"result": {
        "cafeId": cafe_id, "articleId": article_id,
        "article": {"id": article_id, "subject": article["subject"], "writeDate": article["writeDateTimestamp"],
                    "readCount": article["readCount"], "contentHtml": html,
                    "writer": {"id": "writer", "nick": article["writerNickname"], "memberKey": article["memberKey"]},
                    "menu": {"id": article["menuId"], "name": article["menuName"]}},
        "comments": {"items": article["_comments"]}}})


@blp.get("/gw/v3/cafes/<int:cafe_id>/menus")
def menus(cafe_id: int):
    if cafe_id <= 0:
        return jsonify({"result": {"errorCode": "0001", "reason": "카페 정보가 없습니다."}}), 404
    return jsonify({"result": {"menus": MENUS}})


add_control_routes(blp, "naver", state)
