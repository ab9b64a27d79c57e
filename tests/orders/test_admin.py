"""The admin page through Flask's test client: login, writes through the domain, sync state,
collision resolution by action."""
from __future__ import annotations


import pytest

from tests.orders.inprocess import Pair, put
from tests.support.auth import AUTH
from tests.support.orders import csrf, log_in, order_body


@pytest.fixture
def admin(client):
    assert log_in(client).status_code == 302
    return client


def test_login_refuses_wrong_passwords_and_forged_forms(client):
    assert "Wrong user or password" in log_in(client, password="nope").text
    client.get("/admin/login")
    forged = client.post("/admin/login", data={"username": "admin", "password": "test-admin-password",
                                               "csrf_token": "x"})
    assert "form expired" in forged.text
    assert client.get("/admin/order/").status_code == 302


def test_admin_without_a_configured_password_lets_nobody_in(make_orders_app):
    client = make_orders_app("A", ORDERS_ADMIN_PASSWORD="").test_client()
    assert "Admin login is disabled" in log_in(client, password="").text


def test_create_edit_delete_go_through_the_domain(admin, client):
    form = admin.get("/admin/order/new/").text
    response = admin.post("/admin/order/new/", data={
        "csrf_token": csrf(form), "customer_name": "Admin Made", "customer_email": "admin@example.com",
        "items": '[{"sku": "X", "name": "x", "qty": 2, "unit_price": "1.25"}]', "currency": "usd",
        "status": "new", "note": ""})
    assert response.status_code == 302
    order = client.get("/orders").json["data"][0]
    assert order["total"] == "2.50" and order["currency"] == "USD" and order["version"] == 1
    assert order["number"].startswith("ORD-")
    edit_url = f"/admin/order/edit/?id={order['uuid']}"
    admin.post(edit_url, data={"csrf_token": csrf(admin.get(edit_url).text), "number": order["number"],
                               "customer_name": "Admin Made", "customer_email": "admin@example.com",
                               "items": '[{"sku": "X", "name": "x", "qty": 3, "unit_price": "1.25"}]',
                               "currency": "USD", "status": "paid", "note": "edited"})
    edited = client.get(f"/orders/{order['uuid']}").json
    assert (edited["status"], edited["total"], edited["version"], edited["seq"]) == ("paid", "3.75", 2, 2)
    listing = admin.get("/admin/order/").text
    assert "Sync state" in listing and "NEW" in listing
    admin.post("/admin/order/delete/", data={"csrf_token": csrf(listing), "id": order["uuid"]})
    assert client.get(f"/orders/{order['uuid']}").json["deleted"] is True  # a tombstone, not a row gone


def test_bad_items_are_refused_with_a_message_and_nothing_stored(admin, client):
    form = admin.get("/admin/order/new/").text
    response = admin.post("/admin/order/new/", follow_redirects=True, data={
        "csrf_token": csrf(form), "customer_name": "X", "customer_email": "x@example.com",
        "items": '[{"sku": "X", "qty": 0, "unit_price": "1"}]', "currency": "EUR", "status": "new"})
    assert "Not saved" in response.text
    assert client.get("/orders").json["count"] == 0


def test_collisions_are_listed_and_resolved_by_action(make_orders_app):
    pair = Pair(make_orders_app("A"), make_orders_app("B"))
    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.settle()
    put(pair.a, order["uuid"], note="mine")
    put(pair.b, order["uuid"], note="theirs")
    pair.settle()
    assert log_in(pair.a).status_code == 302
    listing = pair.a.get("/admin/collision/").text
    assert "theirs" in listing and "mine" in listing
    assert "COLLISION" in pair.a.get("/admin/order/").text
    collision_id = pair.a.get("/sync/collisions").json[0]["id"]
    pair.a.post("/admin/collision/action/", data={"action": "take_peer", "rowid": str(collision_id)})
    assert len(pair.a.get("/sync/collisions").json) == 1  # no CSRF token, no resolution
    pair.a.post("/admin/collision/action/", data={"csrf_token": csrf(listing), "action": "take_peer",
                                                  "rowid": str(collision_id)})
    assert pair.a.get(f"/orders/{order['uuid']}").json["note"] == "theirs"
    pair.settle()
    pair.assert_converged()
