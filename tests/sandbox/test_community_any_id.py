"""The community stand-ins serve any cafe, board and category id a real site would, generated
deterministically from the seed and the id, and answer 5xx only when a test asks for it."""
import json
import re

import pytest

from deploy.sandbox import create_app

NAVER_LIST = "/cafe-web/cafe2/ArticleListV2dot1.json"
GUIDE_CAFE = 10912875                      # the async collection guide's naver body


def sandbox_client(seed=7):
    """The stand-ins in this process, with the naver NID cookies and a gangnamunni token set."""
    client = create_app({"COMMUNITY_SEED": seed, "COMMUNITY_ANCHOR": "2025-01-10T12:00:00+09:00"}).test_client()
    for name, value in (("NID_AUT", "sandbox-aut"), ("NID_SES", "sandbox-ses"), ("token", "sandbox-token")):
        client.set_cookie(name, value)
    return client


@pytest.fixture
def client():
    return sandbox_client()


def naver_list(client, cafe, menu="", page=1, **kwargs):
    return client.get(NAVER_LIST, query_string={"search.clubid": cafe, "search.menuid": menu, "search.page": page,
                                                "search.perPage": 20}, **kwargs)


def test_the_guides_cafe_is_a_public_cafe_the_same_in_every_process(client):
    first = naver_list(client, GUIDE_CAFE)
    assert first.status_code == 200
    result = first.json["message"]["result"]
    assert len(result["articleList"]) == 20 and result["hasNext"] is True
    assert naver_list(sandbox_client(), GUIDE_CAFE).json == first.json
    assert naver_list(sandbox_client(seed=8), GUIDE_CAFE).json != first.json
    assert client.get(f"/gw/v3/cafes/{GUIDE_CAFE}/menus").json["result"]["menus"]
    article = result["articleList"][0]
    detail = client.get(f"/gw/v3/cafes/{GUIDE_CAFE}/articles/{article['articleId']}")
    assert detail.status_code == 200 and detail.json["result"]["article"]["subject"] == article["subject"]
    records = client.get(f"/_sandbox/naver/records/{GUIDE_CAFE}").json["data"]
    assert [r["articleId"] for r in records[:20]] == [a["articleId"] for a in result["articleList"]]


def test_a_board_not_on_the_menus_is_a_board_of_its_own_that_survives_a_reset(client):
    board = naver_list(client, GUIDE_CAFE, menu=4711).json["message"]["result"]["articleList"]
    assert board and {a["menuId"] for a in board} == {4711}
    records = client.get(f"/_sandbox/naver/records/{GUIDE_CAFE}:4711").json["data"]
    assert records[0]["articleId"] == board[0]["articleId"]
    client.post("/_sandbox/naver/reset", json={"anchor": "2025-01-10T12:00:00+09:00"})
    detail = client.get(f"/gw/v3/cafes/{GUIDE_CAFE}/articles/{board[0]['articleId']}")
    assert detail.status_code == 200 and detail.json["result"]["article"]["menu"]["id"] == 4711


def test_known_boards_still_filter_the_cafe(client):
    board = naver_list(client, GUIDE_CAFE, menu=289).json["message"]["result"]["articleList"]
    assert board and {a["menuId"] for a in board} == {289}


def test_a_cafe_id_that_is_not_a_positive_integer_is_a_404_in_the_envelope(client):
    for cafe in ("", "0", "-5", "abc"):
        response = naver_list(client, cafe)
        assert response.status_code == 404, cafe
        assert response.json["message"]["error"]["code"] == "0001"
    assert client.get("/gw/v3/cafes/0/menus").status_code == 404


def test_babitalk_talks_and_memos_of_any_service_and_category(client):
    talks = client.get("/v2/community/talks", query_string={"service_id": 555}).json["data"]
    assert talks and {t["service_id"] for t in talks} == {555}
    assert sandbox_client().get("/v2/community/talks", query_string={"service_id": 555}).json["data"] == talks
    thread = next(t for t in talks if t["total_comment"])
    comments = client.get(f"/v2/community/talks/{thread['id']}/comments").json["data"]
    assert len(comments) == thread["total_comment"]
    memos = client.get("/v2/event-ask-memos", query_string={"category_type": 305, "category_id": 3900}).json["data"]
    assert memos and {m["main_category_id"] for m in memos} == {3900}
    assert client.get("/v2/community/talks", query_string={"service_id": 0}).json["data"] == []


def test_gangnamunni_posts_of_any_category(client):
    body = client.get("/api/solar/search/document", query_string={"start": 0, "length": 20, "categoryIds": "77"}).json
    assert body["succeeded"] is True and body["recordsTotal"] == 50
    assert {p["categoryId"] for p in body["data"]} == {77}
    commented = next(p for p in body["data"] if p["commentCount"])
    page = client.get(f"/community/{commented['id']}").get_data(as_text=True)
    data = json.loads(re.search(r'<script id="__NEXT_DATA__" type="application/json">(.*?)</script>', page).group(1))
    assert len(data["props"]["pageProps"]["communityDocumentComments"]) == commented["commentCount"]


@pytest.mark.parametrize("path, query", [
    (NAVER_LIST, {"search.clubid": "99999999999999999999", "search.menuid": "-1", "search.page": "x"}),
    (NAVER_LIST, {"search.clubid": "3", "search.menuid": "999999999999", "search.perPage": "0"}),
    ("/gw/v3/cafes/123/articles/999", {}),
    ("/gw/v3/cafes/123/articles/1000999999", {}),
    ("/v2/community/talks", {"service_id": "99999999999999999999"}),
    ("/v2/community/talks/1000000001/comments", {"page": "-1"}),
    ("/v2/event-ask-memos", {"category_id": "-3"}),
    ("/community/1000000001", {}),
])
def test_no_request_gets_a_5xx_unless_a_fault_asks_for_one(client, path, query):
    assert client.get(path, query_string=query).status_code < 500


def test_a_5xx_when_the_faults_ask_for_one(client):
    client.post("/_sandbox/naver/faults", json={"fail_status": 503, "fail_times": 1})
    assert naver_list(client, GUIDE_CAFE).status_code == 503
    assert naver_list(client, GUIDE_CAFE).status_code == 200
