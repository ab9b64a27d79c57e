"""Stand-in for Gangnamunni's community search and post pages (docs/upstreams.md section 4a/4b).

Reproduces: `GET /api/solar/search/document` with `start` (0-based offset), `length`,
`sort=createTime` (newest first), `categoryIds`; the cookie `token=<TOKEN>` (missing or
unknown -> HTTP 401); the `{"reason": "SUCCESS", "succeeded", "recordsTotal",
"recordsFiltered", "data"}` envelope with `createTime` in epoch ms; empty `data` past the
end. `GET /community/<id>`: an HTML page whose `<script id="__NEXT_DATA__">` holds
`props.pageProps.communityDocumentComments[]` with nested `replies`; 404 for unknown ids.
Accepted tokens: config `GANGNAMUNNI_TOKENS` (env `SANDBOX_GANGNAMUNNI_TOKENS`).
Any other positive category id serves its own posts, generated from the seed and the id
(community_common.OnDemand).
"""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, jsonify, request

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

blp = Blueprint("gangnamunni", __name__)

CATEGORIES = {11: "병원질문", 2: "시술/수술질문", 1: "자유수다", 5: "발품후기", 13: "의사에게 물어보세요"}
POSTS_PER_CATEGORY, POST_SPACING = 50, timedelta(hours=5)


class GangnamunniState(CommunityState):
    def generate(self) -> None:
        rng = random.Random(self.seed)
        self.posts: dict[int, list[dict]] = {}
        for c, category_id in enumerate(CATEGORIES):
            self.posts[category_id] = [
                self._post(rng, 3476000 + c * 1000 + POSTS_PER_CATEGORY - i, category_id,
                           self.anchor - i * POST_SPACING - timedelta(minutes=7 * c))
                for i in range(POSTS_PER_CATEGORY)]
        self.generated = OnDemand(self.seed)      # posts of other categories

    def posts_of(self, category_id: int) -> list[dict]:
        """A category's posts, newest first: the fixed ones, or generated for any other positive id."""
        if category_id in self.posts:
            return self.posts[category_id]
        if category_id <= 0:
            return []
        return self.generated.get(("posts", category_id), lambda rng: [
            self._post(rng, GENERATED_BASE + category_id * 1000 + POSTS_PER_CATEGORY - i, category_id,
                       self.anchor - i * POST_SPACING - timedelta(minutes=13))
            for i in range(POSTS_PER_CATEGORY)])

    def _post(self, rng, post_id: int, category_id: int, created: datetime) -> dict:
        return {"id": post_id, "categoryId": category_id,
                "categoryName": CATEGORIES.get(category_id, f"카테고리 {category_id}"),
                "writerId": rng.randint(1, 99999), "writerDoctorId": None, "writerProfile": "",
                "writerNickName": rng.choice(NICKNAMES), "writerLevel": rng.randint(1, 9),
                "writerEngagementType": None, "hasThumbUp": False, "commentCount": rng.choice((0, 0, 1, 2)),
                "thumbUpCount": rng.randint(0, 30), "viewCount": rng.randint(1, 900), "createTime": epoch_ms(created),
                "edited": False, "contents": sentence(rng), "photos": ["https://img.example/1.jpg"], "lang": "ko",
                "hasDoctorComment": category_id == 13, "translateResult": None}

    def post(self, post_id: int) -> dict | None:
        owner = generated_owner(post_id)
        candidates = self.posts.values() if owner is None else [self.posts_of(owner)]
        return next((p for posts in candidates for p in posts if p["id"] == post_id), None)

    def comments(self, post: dict) -> list[dict]:
        rng = random.Random(post["id"])
        created = datetime.fromtimestamp(post["createTime"] / 1000, UTC)

        def comment(comment_id: int, minutes: int, replies: list) -> dict:
            moment = (created + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            return {"id": comment_id, "status": "NORMAL",
                    "writer": {"id": rng.randint(1, 99999), "doctorId": None, "profile": "",
                               "nickname": rng.choice(NICKNAMES), "level": 3, "engagementType": None},
                    "createTime": moment, "replyCommentId": None, "isAdmin": False, "edited": False,
                    "contents": sentence(rng), "hasThumbUp": False, "thumbUpCount": 0, "commentCount": len(replies),
                    "calleeNickName": None, "lang": "ko", "translateResult": None, "showOriginalContent": True,
                    "replies": replies}

        top = []
        for k in range(post["commentCount"]):
            base = post["id"] * 100 + k * 10
            replies = [comment(base + 1, k * 10 + 5, [])] if k == 0 else []
            top.append(comment(base, k * 10 + 1, replies))
        return top

    def records(self, kind: str) -> list[dict]:
        if kind == "posts":
            return [p for posts in self.posts.values() for p in posts]
        abort(404)


def state() -> GangnamunniState:
    return app_state("gangnamunni_state", lambda: GangnamunniState(current_app.config.get("COMMUNITY_SEED", 79) + 1,
                                                                   default_anchor()))


def _refused(status: int) -> dict:
    return {"reason": "UNAUTHORIZED" if status == 401 else "FORBIDDEN", "succeeded": False, "data": None}


@blp.get("/api/solar/search/document")
def search_document():
    current = state()
    with current.lock:
        fault = current.faults.intercept(_refused)
        if fault is not None:
            return fault
        if request.cookies.get("token") not in current_app.config.get("GANGNAMUNNI_TOKENS", ["sandbox-token"]):
            return jsonify(_refused(401)), 401
        ids = [int(part) for part in request.args.get("categoryIds", "").split(",") if part.strip().isdigit()]
        posts = sorted((p for cid in dict.fromkeys(ids or CATEGORIES) for p in current.posts_of(cid)),
                       key=lambda p: (p["createTime"], p["id"]), reverse=True)
        if current.faults.empty:
            posts = []
        start, length = max(0, int_arg("start", 0)), max(1, min(int_arg("length", 20), 100))
        rows = [dict(p) for p in posts[start:start + length]]
        if current.faults.malformed and start == 0 and len(rows) > 1:
            rows[1]["createTime"] = "어제"
    return jsonify({"reason": "SUCCESS", "succeeded": True, "recordsTotal": len(posts),
                    "recordsFiltered": len(posts), "data": rows})


@blp.get("/community/<int:post_id>")
def community_page(post_id: int):
    current = state()
    with current.lock:
        fault = current.faults.intercept(_refused)
        if fault is not None:
            return fault
        post = current.post(post_id)
        if post is None:
            return Response("<html><body>404</body></html>", status=404, mimetype="text/html")
        comments = current.comments(post)
    data = {"props": {"pageProps": {"communityDocument": {"id": post_id},
                                    "communityDocumentComments": comments}}, "page": "/community/[id]"}
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    html = ("<!DOCTYPE html><html><head><title>강남언니</title></head><body><div id=\"__next\"></div>"
            f"<script id=\"__NEXT_DATA__\" type=\"application/json\">{payload}</script></body></html>")
    return Response(html, mimetype="text/html")


add_control_routes(blp, "gangnamunni", state)
