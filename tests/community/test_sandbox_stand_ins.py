"""The community stand-ins reproduce the platforms' envelopes, cursors and end-of-list shapes
(docs/upstreams.md sections 3-5), and leave the odcloud catch-all 404 in place."""
from __future__ import annotations

import json
import re

import requests


def get(sandbox, path, **kwargs):
    return requests.get(sandbox.url + path, timeout=10, **kwargs)


def test_babitalk_cursor_pages_to_a_null_cursor_then_empty(sandbox):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"service": "TREATMENTS", "sort": "recent", "limit": 50}
        if cursor:
            params["search_after"] = cursor
        body = get(sandbox, "/v2/reviews", params=params).json()
        pages += 1
        assert len(body["data"]) <= 24                      # limit is capped at 24
        seen += [r["id"] for r in body["data"]]
        if not body["pagination"]["has_next"]:
            assert body["pagination"]["search_after"] is None
            break
        cursor = body["pagination"]["search_after"]
        assert cursor == body["data"][-1]["id"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 120 and pages == 5
    assert get(sandbox, "/v2/reviews", params={"search_after": min(seen)}).json()["data"] == []


def test_babitalk_comments_and_memos(sandbox):
    talks = get(sandbox, "/v2/community/talks", params={"service_id": 79}).json()["data"]
    assert {"id", "service_id", "title", "text", "total_comment", "created_at", "is_notice", "user",
            "images"} <= set(talks[0])
    long_thread = max(sandbox.dataset("babitalk", "talks")[1], key=lambda t: t["total_comment"])
    first = get(sandbox, f"/v2/community/talks/{long_thread['id']}/comments", params={"page": 1}).json()
    second = get(sandbox, f"/v2/community/talks/{long_thread['id']}/comments", params={"page": 2}).json()
    assert len(first["data"]) == 50 and first["pagination"] == {"has_next": True}
    assert len(second["data"]) == long_thread["total_comment"] - 50 and second["pagination"] == {"has_next": False}
    assert get(sandbox, "/v2/community/talks/1/comments").status_code == 404
    memos = get(sandbox, "/v2/event-ask-memos", params={"category_type": 305, "category_id": 3100}).json()["data"]
    assert all(re.fullmatch(r"방금전|\d+(분|시간|일)전", m["first_write_at"]) for m in memos)


def test_gangnamunni_offsets_token_and_next_data_page(sandbox):
    assert get(sandbox, "/api/solar/search/document").status_code == 401
    cookies = {"token": "sandbox-token"}
    first = get(sandbox, "/api/solar/search/document", cookies=cookies,
                params={"start": 0, "length": 20, "sort": "createTime", "categoryIds": 1}).json()
    assert first["reason"] == "SUCCESS" and first["succeeded"] is True and first["recordsTotal"] == 50
    times = [p["createTime"] for p in first["data"]]
    assert times == sorted(times, reverse=True) and all(isinstance(t, int) for t in times)
    assert get(sandbox, "/api/solar/search/document", cookies=cookies,
               params={"start": 50, "length": 20, "categoryIds": 1}).json()["data"] == []
    commented = next(p for p in first["data"] if p["commentCount"] > 0)
    page = get(sandbox, f"/community/{commented['id']}").text
    data = json.loads(re.search(r'<script id="__NEXT_DATA__" type="application/json">(.*?)</script>', page).group(1))
    comments = data["props"]["pageProps"]["communityDocumentComments"]
    assert len(comments) == commented["commentCount"] and len(comments[0]["replies"]) == 1
    assert get(sandbox, "/community/1").status_code == 404


def test_naver_list_detail_menus_and_member_only(sandbox):
    body = get(sandbox, "/cafe-web/cafe2/ArticleListV2dot1.json",
               params={"search.clubid": 10001, "search.page": 1, "search.perPage": 50}).json()
    result = body["message"]["result"]
    assert body["message"]["status"] == "200" and result["hasNext"] is True and len(result["articleList"]) == 50
    last = get(sandbox, "/cafe-web/cafe2/ArticleListV2dot1.json",
               params={"search.clubid": 10001, "search.page": 3, "search.perPage": 50}).json()["message"]["result"]
    assert last["articleList"] == [] and last["hasNext"] is False
    members_only = next(a for a in sandbox.dataset("naver", "10001")[1] if a["membersOnly"])
    path = f"/gw/v3/cafes/10001/articles/{members_only['articleId']}"
    refused = get(sandbox, path)
    assert refused.status_code == 401 and refused.json()["result"]["errorCode"] == "0004"
    opened = get(sandbox, path, headers={"Cookie": "NID_AUT=sandbox-aut; NID_SES=sandbox-ses"}).json()["result"]
    assert "se-main-container" in opened["article"]["contentHtml"] and "items" in opened["comments"]
    menus = get(sandbox, "/gw/v3/cafes/10001/menus").json()["result"]["menus"]
    assert {m["menuType"] for m in menus} >= {"B", "P", "L", "F"}
    assert get(sandbox, "/cafe-web/cafe2/ArticleListV2dot1.json", params={"search.clubid": 20002}).status_code == 401


def test_odcloud_catch_all_still_answers_unknown_paths(sandbox):
    response = get(sandbox, "/no/such/thing")
    assert response.status_code == 404 and response.text == "not found service"
