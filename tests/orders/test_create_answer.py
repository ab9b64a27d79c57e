"""A create's answer on an instance without the integration (B) is built without the schema, as the
push's hot path: it must be, byte for byte, what OrderSchema dumps for the same order (its GET)."""
from __future__ import annotations

import json
import uuid as uuidlib

import pytest

from tests.support.auth import AUTH
from tests.support.orders import order_body

CONTENTS = [
    {},
    {"uuid": str(uuidlib.uuid4()), "number": "PRE-7", "status": "paid", "currency": "krw", "deleted": True},
    {"customer_name": "김민지 🙂", "customer_email": "minji@example.kr",
     "note": 'call first \u2028 "quoted" \\ back\x01slash \t tab </script>',
     "items": [{"sku": "컵-1", "name": "머그컵", "qty": 1_000_000, "unit_price": "1000000000"},
               {"sku": "B", "qty": 3, "unit_price": 0.1}, {"sku": "C", "qty": 1, "unit_price": "-0"}]},
    {"items": []},
]


@pytest.mark.parametrize("overrides", CONTENTS, ids=["plain", "all-fields", "text-and-money", "no-items"])
def test_a_create_on_b_answers_exactly_what_the_schema_dumps(make_orders_app, overrides):
    client = make_orders_app("B").test_client()
    created = client.post("/orders", json=order_body(**overrides), headers=AUTH)
    assert created.status_code == 201, created.json
    fetched = client.get(f"/orders/{created.json['uuid']}")
    assert created.data == fetched.data
    assert created.mimetype == fetched.mimetype == "application/json"
    assert created.headers["ETag"] == fetched.headers["ETag"] == '"1"'


def test_a_retried_create_on_b_answers_the_stored_order(make_orders_app):
    client = make_orders_app("B").test_client()
    body = order_body(uuid=str(uuidlib.uuid4()), note="once")
    first = client.post("/orders", json=body, headers=AUTH)
    again = client.post("/orders", json=body, headers=AUTH)
    assert first.status_code == again.status_code == 201
    assert again.data == first.data
    assert client.get("/orders?since=0").json["count"] == 1


def test_the_change_feed_answers_each_order_as_the_schema_dumps_it(make_orders_app):
    client = make_orders_app("B").test_client()
    made = [client.post("/orders", json=order_body(**overrides), headers=AUTH).json["uuid"] for overrides in CONTENTS]
    client.put(f"/orders/{made[0]}", json=order_body(note="changed"), headers={**AUTH, "If-Match": '"1"'})
    client.delete(f"/orders/{made[3]}", headers=AUTH)
    in_seq_order = [made[1], made[2], made[0], made[3]]  # the changed and the deleted one moved to the end

    feed = client.get("/orders?since=0&per_page=3&page=1")
    assert feed.status_code == 200 and feed.json["count"] == len(made)
    assert feed.json["data"] == [client.get(f"/orders/{uuid}").json for uuid in in_seq_order[:3]]
    rest = client.get("/orders?since=0&per_page=3&page=2")
    assert rest.json["data"] == [client.get(f"/orders/{uuid}").json for uuid in in_seq_order[3:]]
    assert json.loads(feed.headers["X-Pagination"]) == {"total": 4, "total_pages": 2, "first_page": 1,
                                                        "last_page": 2, "page": 1, "per_page": 3, "next_page": 2}
    assert 'rel="next"' in feed.headers["Link"] and "since=0" in feed.headers["Link"]
    assert client.get("/orders?since=0&per_page=3&page=3").status_code == 404
    later = client.get(f"/orders?since={feed.json['data'][-1]['seq']}&per_page=10").json
    assert [order["uuid"] for order in later["data"]] == in_seq_order[3:] and later["count"] == 1
