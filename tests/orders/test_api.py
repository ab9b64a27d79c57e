"""The orders API through the front door: create, retry, replace with If-Match, tombstones, feed."""
from __future__ import annotations

import json
import uuid as uuidlib

from tests.support.auth import AUTH
from tests.support.orders import order_body


def create(client, **overrides):
    response = client.post("/orders", json=order_body(**overrides), headers=AUTH)
    assert response.status_code == 201, response.json
    return response.json


def test_create_derives_total_as_decimal_string_and_sends_etag(client):
    response = client.post("/orders", json=order_body(items=[{"sku": "A", "qty": 3, "unit_price": "0.10"},
                                                             {"sku": "B", "qty": 1, "unit_price": "19.99"}]),
                           headers=AUTH)
    assert response.status_code == 201
    order = response.json
    assert order["total"] == "20.29"
    assert order["items"][0]["unit_price"] == "0.10"
    assert order["version"] == 1 and order["deleted"] is False and order["seq"] == 1
    assert response.headers["ETag"] == '"1"'
    assert order["number"].startswith("ORD-")
    fetched = client.get(f"/orders/{order['uuid']}")
    assert fetched.json == order and fetched.headers["ETag"] == '"1"'


def test_retried_create_returns_the_existing_order_and_different_content_conflicts(client):
    uuid = str(uuidlib.uuid4())
    first = create(client, uuid=uuid)
    again = client.post("/orders", json=order_body(uuid=uuid), headers=AUTH)
    assert again.status_code == 201 and again.json == first
    clash = client.post("/orders", json=order_body(uuid=uuid, note="other"), headers=AUTH)
    assert clash.status_code == 409 and clash.json["code"] == 409
    assert client.get(f"/orders/{uuid}").json["note"] == ""


def test_put_honours_if_match_and_a_no_op_write_keeps_the_version(client):
    order = create(client)
    url = f"/orders/{order['uuid']}"
    changed = client.put(url, json=order_body(status="paid"), headers={**AUTH, "If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json["version"] == 2 and changed.json["seq"] == 2
    stale = client.put(url, json=order_body(status="shipped"), headers={**AUTH, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json["code"] == 412
    same = client.put(url, json=order_body(status="paid"), headers=AUTH)
    assert same.json["version"] == 2 and same.json["seq"] == 2
    # A retried write that had already landed is not refused even with the old ETag.
    retried = client.put(url, json=order_body(status="paid"), headers={**AUTH, "If-Match": '"1"'})
    assert retried.status_code == 200 and retried.json["version"] == 2
    assert client.get(url).json["status"] == "paid"


def test_put_creates_an_absent_order_unless_if_match_names_a_version(client):
    uuid = str(uuidlib.uuid4())
    refused = client.put(f"/orders/{uuid}", json=order_body(), headers={**AUTH, "If-Match": '"1"'})
    assert refused.status_code == 412
    created = client.put(f"/orders/{uuid}", json=order_body(deleted=True), headers=AUTH)
    assert created.status_code == 200 and created.json["uuid"] == uuid and created.json["deleted"] is True


def test_delete_leaves_a_tombstone_in_the_feed_but_not_in_the_list(client):
    keep, gone = create(client, customer_name="Keep"), create(client, customer_name="Gone")
    assert client.delete(f"/orders/{gone['uuid']}", headers=AUTH).status_code == 204
    listed = client.get("/orders").json
    assert [o["uuid"] for o in listed["data"]] == [keep["uuid"]]
    tomb = client.get(f"/orders/{gone['uuid']}").json
    assert tomb["deleted"] is True and tomb["version"] == 2
    feed = client.get("/orders?since=0").json
    assert [(o["uuid"], o["deleted"]) for o in feed["data"]] == [(keep["uuid"], False), (gone["uuid"], True)]
    assert client.get("/orders?since=2").json["data"][0]["uuid"] == gone["uuid"]
    assert client.delete(f"/orders/{uuidlib.uuid4()}", headers=AUTH).status_code == 404


def test_feed_is_ordered_by_seq_and_moves_a_changed_order_to_the_end(client):
    a = create(client, customer_name="A")
    create(client, customer_name="B")
    client.put(f"/orders/{a['uuid']}", json=order_body(customer_name="A2"), headers=AUTH)
    feed = client.get("/orders?since=0").json["data"]
    assert [o["customer_name"] for o in feed] == ["B", "A2"]
    assert [o["seq"] for o in feed] == [2, 3]
    assert client.get("/orders?since=3").json == {"count": 0, "data": []}


def test_filters_by_status_and_customer(client):
    create(client, customer_name="Grace Hopper", customer_email="grace@example.com", status="paid")
    create(client, customer_name="Alan Turing", customer_email="alan@example.com")
    assert [o["customer_name"] for o in client.get("/orders?status=paid").json["data"]] == ["Grace Hopper"]
    assert [o["customer_name"] for o in client.get("/orders?customer=TURING").json["data"]] == ["Alan Turing"]
    page = client.get("/orders?per_page=1&page=2")
    assert page.json["count"] == 2 and len(page.json["data"]) == 1 and "X-Pagination" in page.headers


def test_bad_input_is_a_4xx_in_the_one_error_shape_and_changes_nothing(client):
    order = create(client)
    url = f"/orders/{order['uuid']}"
    for body in (order_body(items=[{"sku": "A", "qty": 1, "unit_price": "1.001"}]),
                 order_body(items=[{"sku": "A", "qty": 0, "unit_price": "1"}]),
                 order_body(status="lost"), order_body(customer_email="not-an-email"),
                 order_body(items=[{"sku": "A", "qty": 1, "unit_price": "NaN"}])):
        response = client.put(url, json=body, headers=AUTH)
        assert response.status_code == 422, body
        assert set(response.json) >= {"code", "status", "message"}
    assert client.put(url, json=order_body(), headers={**AUTH, "If-Match": "garbage"}).status_code == 400
    assert client.get("/orders?since=-1").status_code == 422
    assert client.get(f"/orders?since={10**40}").status_code == 422  # past any database integer
    assert client.get(f"/orders?page={2**40}").status_code == 422
    assert client.get("/orders/not-a-uuid").status_code == 404
    assert client.get(url).json == order


def test_writes_need_the_service_token(client):
    assert client.post("/orders", json=order_body()).status_code == 401
    assert client.post("/orders", json=order_body(), headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/orders").json["count"] == 0


def post_raw(client, body: dict):
    """POST with the body JSON-escaped by hand: the test client cannot encode a lone surrogate itself."""
    return client.post("/orders", data=json.dumps(body), content_type="application/json", headers=AUTH)


def test_text_no_database_can_hold_is_a_422_and_never_poisons_the_list(client):
    # A NUL failed in PostgreSQL (500); a lone surrogate failed to store, or (inside items, which
    # are stored as escaped JSON) was stored and then broke every list and feed page holding it.
    for body in (order_body(customer_name="Ada\x00"), order_body(note="\ud800"), order_body(number="ORD-\udfff"),
                 order_body(items=[{"sku": "MUG-\ud800", "qty": 1, "unit_price": "1"}]),
                 order_body(items=[{"sku": "MUG-1", "name": "Mug\x00", "qty": 1, "unit_price": "1"}])):
        response = post_raw(client, body)
        assert response.status_code == 422, (body, response.json)
    assert client.get("/orders?customer=%00").status_code == 422
    assert client.get("/orders").json["count"] == 0 and client.get("/orders?since=0").status_code == 200


def test_a_currency_code_with_a_trailing_newline_is_refused(client):
    # Regexp's `$` matched before the newline: "EUR\n" was stored (a 500 in PostgreSQL's 3-character column).
    response = client.post("/orders", json=order_body(currency="EUR\n"), headers=AUTH)
    assert response.status_code == 422 and "currency" in response.json["errors"]["json"]
    assert create(client, currency="usd")["currency"] == "USD"


def test_a_negative_zero_price_is_stored_as_zero(client):
    # "-0.00" did not match the documented unit_price pattern.
    order = create(client, items=[{"sku": "FREE-1", "qty": 1, "unit_price": "-0"}])
    assert order["items"][0]["unit_price"] == "0.00" and order["total"] == "0.00"


def test_if_match_with_a_non_ascii_digit_is_a_400(client):
    # str.isdigit() takes "²" (latin-1, so a valid header byte), which int() refuses: a 500.
    order = create(client)
    response = client.put(f"/orders/{order['uuid']}", json=order_body(), headers={**AUTH, "If-Match": '"\xb2"'})
    assert response.status_code == 400 and response.json["message"].startswith("If-Match must be")


def test_since_is_bounded_by_the_seq_column(client):
    # seq is a 32-bit integer: PostgreSQL refused a larger bound with a 500.
    assert client.get(f"/orders?since={2**31 - 1}").json == {"count": 0, "data": []}
    assert client.get(f"/orders?since={2**31}").status_code == 422


def test_a_well_formed_etag_that_is_not_the_current_version_is_a_412(client):
    # RFC 9110 §13.1.1: If-Match that matches no current ETag is a failed precondition; a 400
    # was answered for any entity-tag that was not digits.
    order = create(client)
    url = f"/orders/{order['uuid']}"
    for tag in ('"stale-0"', 'W/"stale-0"', '""', '"1x"', f'"{"9" * 5000}"', '"7", "8"'):
        response = client.put(url, json=order_body(status="paid"), headers={**AUTH, "If-Match": tag})
        assert response.status_code == 412 and response.json["code"] == 412, (tag, response.json)
        assert client.delete(url, headers={**AUTH, "If-Match": tag}).status_code == 412, tag
    assert client.put(f"/orders/{uuidlib.uuid4()}", json=order_body(),
                      headers={**AUTH, "If-Match": '"stale-0"'}).status_code == 412  # absent: not created
    assert client.get(url).json == order
    # A list naming the current version among others passes.
    listed = client.put(url, json=order_body(status="paid"), headers={**AUTH, "If-Match": '"stale-0", "1"'})
    assert listed.status_code == 200 and listed.json["version"] == 2
    for malformed in ("garbage", '"unterminated', '"1" "2"', '"1",', 'W/ "1"'):
        response = client.put(url, json=order_body(), headers={**AUTH, "If-Match": malformed})
        assert response.status_code == 400 and response.json["message"].startswith("If-Match must be"), malformed
