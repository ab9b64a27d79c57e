"""The odcloud stand-in reproduces the gateway's parameters, counters, auth and errors."""
import xml.etree.ElementTree as ET

import pytest

from deploy.sandbox import create_app
from deploy.sandbox.odcloud import KEYS, generate_trials
from shared.connectors.odcloud import DATASET_PATH

URL = "/api" + DATASET_PATH


@pytest.fixture
def client():
    """The stand-in under test, in this process (tests elsewhere use the `sandbox` process)."""
    return create_app({"ODCLOUD_KEYS": ["good-key"], "ODCLOUD_TRIALS": 145, "ODCLOUD_SEED": 1}).test_client()


def test_defaults_and_counters(client):
    body = client.get(URL, query_string={"serviceKey": "good-key"}).json
    assert (body["page"], body["perPage"], body["currentCount"]) == (1, 10, 10)
    assert body["totalCount"] == body["matchCount"] == 145
    assert set(body["data"][0]) == set(KEYS)
    assert all(isinstance(v, str) for v in body["data"][0].values())


def test_unparsable_page_arguments_fall_back_to_defaults(client):
    body = client.get(URL + "?page=x&perPage=&serviceKey=good-key").json
    assert (body["page"], body["perPage"]) == (1, 10)


@pytest.mark.parametrize("value", ["x", "", " 2", "2 ", "1_0", "٢", "2.0", "0", "-3", str(2**31), "9" * 5000])
def test_a_page_argument_the_gateway_would_not_take_as_a_positive_int32_is_the_default(client, value):
    body = client.get(URL, query_string={"serviceKey": "good-key", "page": value, "perPage": value}).json
    assert (body["page"], body["perPage"]) == (1, 10)


def test_page_arguments_are_decimal_with_an_optional_sign(client):
    body = client.get(URL, query_string={"serviceKey": "good-key", "page": "+2", "perPage": "007"}).json
    assert (body["page"], body["perPage"], body["data"]) == (2, 7, generate_trials(145, 1)[7:14])


def test_header_auth_and_last_pages(client):
    headers = {"Authorization": "Infuser good-key"}
    page2 = client.get(URL + "?page=2&perPage=100", headers=headers).json
    assert page2["currentCount"] == 45
    assert page2["data"] == generate_trials(145, 1)[100:]
    past = client.get(URL + "?page=3&perPage=100", headers=headers).json
    assert past["data"] == [] and past["currentCount"] == 0 and past["totalCount"] == 145


def test_data_is_deterministic(client):
    assert generate_trials(20, 5) == generate_trials(20, 5)
    assert generate_trials(20, 5) != generate_trials(20, 6)
    assert len({r["과제번호"] for r in generate_trials(1000, 5)}) == 1000


def test_missing_key_is_401(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json == {"code": -401, "msg": "인증키는 필수 항목 입니다."}
    # Key extraction runs before routing: a wrong path without a key is a 401 too.
    assert client.get("/api/1/v1/nothing").status_code == 401


def test_unknown_key_is_400_minus_4_or_401_when_configured(client):
    response = client.get(URL + "?serviceKey=typo")
    assert (response.status_code, response.json["code"]) == (400, -4)
    client.post("/_sandbox/odcloud/mode", json={"unknown_key_status": 401})
    response = client.get(URL + "?serviceKey=typo")
    assert (response.status_code, response.json["code"]) == (401, -401)


def test_wrong_path_and_outside_api(client):
    response = client.get("/api/3074271/v2/other?serviceKey=good-key")
    assert (response.status_code, response.json["code"]) == (400, -3)
    outside = client.get("/v1/whatever")
    assert (outside.status_code, outside.get_data(as_text=True)) == (404, "not found service")


def test_quota_mode(client):
    client.post("/_sandbox/odcloud/mode", json={"quota_exceeded": True})
    response = client.get(URL + "?serviceKey=good-key")
    assert (response.status_code, response.json["code"]) == (400, -10)


def test_xml_mode(client):
    response = client.get(URL + "?serviceKey=good-key&returnType=XML&perPage=3")
    root = ET.fromstring(response.data)
    assert root.tag == "results"
    assert root.findtext("totalCount") == "145"
    assert len(root.find("data").findall("item")) == 3


def test_revise_changes_drops_and_adds(client):
    before = {r["과제번호"]: r for r in client.get(URL + "?serviceKey=good-key&perPage=500").json["data"]}
    revision = client.post("/_sandbox/odcloud/revise", json={"change": 3, "drop": 2, "add": 4}).json
    after = {r["과제번호"]: r for r in client.get(URL + "?serviceKey=good-key&perPage=500").json["data"]}
    assert len(after) == 145 - 2 + 4
    assert not set(revision["dropped"]) & set(after)
    assert all(after[i] != before[i] for i in revision["changed"])
    assert set(revision["added"]) == set(after) - set(before)
    client.post("/_sandbox/odcloud/reset")
    assert {r["과제번호"]: r for r in client.get(URL + "?serviceKey=good-key&perPage=500").json["data"]} == before
