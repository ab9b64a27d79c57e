"""A create's answer on an instance without the integration (B) is built without the schema, as the
push's hot path: it must be, byte for byte, what OrderSchema dumps for the same order (its GET)."""
from __future__ import annotations

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
