"""The original task's transition table (ORIGINAL_APIS.md D), one case per row, played on the
real engine: instance A in this process, B's real app behind ClientPeer (tests/orders/inprocess.py).

Each row is (received, was) -> (becomes, sync) as the task prints it, and what this project
does. "received" is what arrives from B: an order in B's feed (ST_NEW, ST_UPD, ST_DEL), or B's
answer to our write (ST_OK, ST_DEL_SYNCED: it took it; ST_COLLISION: 409/412 with other
content; ST_ERROR: another 4xx). "sync" is whether A then sends B a write for the order (in the
round that received it or the next). Where `ours` differs from the task's, docs/two-way-sync.md
says why, row by row.
"""
from __future__ import annotations

import re
import uuid as uuidlib
from datetime import timedelta

import pytest
import time_machine

from services.orders.models import db
from services.orders.sync import ledger as ledgers
from shared.timeutil import utcnow
from tests.orders.inprocess import Pair, put
from tests.support.auth import AUTH
from tests.support.orders import order_body


@pytest.fixture
def pair(make_orders_app):
    return Pair(make_orders_app("A"), make_orders_app("B"))


def state(pair, uuid) -> str:
    """The order's sync state as A's API shows it, in the task's names."""
    return pair.a.get(f"/orders/{uuid}").json["sync_state"]["state"]


def synced(pair, **overrides) -> str:
    """An order on both sides, in agreement (ST_OK)."""
    uuid = pair.b.post("/orders", json=order_body(**overrides), headers=AUTH).json["uuid"]
    pair.settle()
    assert state(pair, uuid) == "ST_OK"
    return uuid


def collided(pair) -> str:
    uuid = synced(pair)
    put(pair.a, uuid, note="A's edit")
    put(pair.b, uuid, note="B's edit")
    pair.round()
    assert state(pair, uuid) == "ST_COLLISION"
    return uuid


def reread_feed(pair) -> None:
    """The repeated delivery ("*") after a lost connection: the feed is read again from the start."""
    with pair.app_a.app_context():
        ledgers.set_value("peer_checkpoint", 0)
        db.session.commit()


def b_writes_first(pair, call: str, write) -> None:
    """B's own write lands just before A's `call` (create/replace) reaches B."""
    def fault(name):
        if name == call and write:
            write.pop()()
        return "ok"
    write = [write]
    pair.peer.fault = fault


def delete(client, uuid) -> None:
    assert client.delete(f"/orders/{uuid}", headers=AUTH).status_code == 204


# Each scenario sets the row up, lets A receive the row's state, and returns (uuid, pushes): the
# writes of the round that were A carrying its own state out (whose answer is what was received).

def new_new(pair):
    uuid = str(uuidlib.uuid4())
    pair.a.post("/orders", json={"uuid": uuid, **order_body(note="made on A")}, headers=AUTH)
    pair.b.post("/orders", json={"uuid": uuid, **order_body(note="made on B")}, headers=AUTH)
    assert state(pair, uuid) == "ST_NEW"
    pair.round()
    return uuid, 0


def new_ok(pair):
    uuid = synced(pair)
    reread_feed(pair)
    pair.round()
    return uuid, 0


def new_collision(pair):
    uuid, _ = new_new(pair)
    reread_feed(pair)
    pair.round()
    return uuid, 0


def new_none(pair):
    uuid = pair.b.post("/orders", json=order_body(), headers=AUTH).json["uuid"]
    pair.round()
    return uuid, 0


def upd_upd(pair):
    uuid = synced(pair)
    put(pair.a, uuid, note="A's edit")
    assert state(pair, uuid) == "ST_UPD"
    put(pair.b, uuid, note="B's edit")
    pair.round()
    return uuid, 0


def upd_ok(pair):
    uuid = synced(pair)
    put(pair.b, uuid, note="B's edit")
    pair.round()
    assert pair.a.get(f"/orders/{uuid}").json["note"] == "B's edit"
    return uuid, 0


def upd_del(pair):
    uuid = synced(pair)
    delete(pair.a, uuid)
    assert state(pair, uuid) == "ST_DEL"
    put(pair.b, uuid, note="B's edit")
    pair.round()
    return uuid, 0


def upd_collision(pair):
    uuid = collided(pair)
    put(pair.b, uuid, note="B's second edit")
    pair.round()
    return uuid, 0


def ok_new(pair):
    uuid = pair.a.post("/orders", json=order_body(), headers=AUTH).json["uuid"]
    assert state(pair, uuid) == "ST_NEW"
    pair.round()                                    # POST, answered 201
    return uuid, 1


def ok_upd(pair):
    uuid = synced(pair)
    put(pair.a, uuid, note="A's edit")
    pair.round()                                    # PUT, answered 200
    assert pair.b.get(f"/orders/{uuid}").json["note"] == "A's edit"
    return uuid, 1


def del_upd(pair):
    uuid = synced(pair)
    put(pair.a, uuid, note="A's edit")
    delete(pair.b, uuid)
    pair.round()
    return uuid, 0


def del_ok(pair):
    uuid = synced(pair)
    delete(pair.b, uuid)
    pair.round()
    assert pair.a.get(f"/orders/{uuid}").json["deleted"] is True
    return uuid, 0


def del_del(pair):
    uuid = synced(pair)
    delete(pair.a, uuid)
    delete(pair.b, uuid)
    pair.round()
    return uuid, 0


def del_del_synced(pair):
    uuid, _ = del_ok(pair)
    reread_feed(pair)
    pair.round()
    return uuid, 0


def del_collision(pair):
    uuid = collided(pair)
    delete(pair.b, uuid)
    pair.round()
    return uuid, 0


def del_synced_del(pair):
    uuid = synced(pair)
    delete(pair.a, uuid)
    pair.round()                                    # PUT deleted: true, answered 200
    assert pair.b.get(f"/orders/{uuid}").json["deleted"] is True
    return uuid, 1


def collision_new(pair):
    uuid = str(uuidlib.uuid4())
    pair.a.post("/orders", json={"uuid": uuid, **order_body(note="made on A")}, headers=AUTH)
    b_writes_first(pair, "create", lambda: pair.b.post(
        "/orders", json={"uuid": uuid, **order_body(note="made on B")}, headers=AUTH))
    pair.round()                                    # POST answered 409, then GET: other content
    return uuid, 1


def collision_upd(pair):
    uuid = synced(pair)
    put(pair.a, uuid, note="A's edit")
    b_writes_first(pair, "replace", lambda: put(pair.b, uuid, note="B's edit"))
    pair.round()                                    # PUT answered 412, then GET: other content
    return uuid, 1


def collision_del(pair):
    uuid = synced(pair)
    delete(pair.a, uuid)
    b_writes_first(pair, "replace", lambda: put(pair.b, uuid, note="B's edit"))
    pair.round()
    return uuid, 1


def collision_collision(pair):
    uuid, pushes = collision_upd(pair)
    reread_feed(pair)
    pair.round()
    return uuid, pushes


def error_any(pair):
    uuid = pair.a.post("/orders", json=order_body(), headers=AUTH).json["uuid"]
    pair.peer.reject_writes = 1                     # B refuses the create with a 422
    pair.round()
    return uuid, 1


def error_synced_error(pair):
    uuid, pushes = error_any(pair)
    assert state(pair, uuid) == "ST_ERROR"
    with time_machine.travel(utcnow() + timedelta(minutes=5), tick=False):   # past the retry backoff
        pair.round()                                # the retried POST, answered 201
    return uuid, pushes + 1


# received, was, the task's (becomes, sync), ours (becomes, sync), scenario
ROWS = [
    ("ST_NEW", "ST_NEW", ("ST_COLLISION", True), ("ST_COLLISION", False), new_new),
    ("ST_NEW", "ST_OK", ("ST_OK", True), ("ST_OK", False), new_ok),
    ("ST_NEW", "ST_COLLISION", ("ST_COLLISION", True), ("ST_COLLISION", False), new_collision),
    ("ST_NEW", None, ("ST_OK", True), ("ST_OK", False), new_none),
    ("ST_UPD", "ST_UPD", ("ST_COLLISION", True), ("ST_COLLISION", False), upd_upd),
    ("ST_UPD", "ST_OK", ("ST_OK", True), ("ST_OK", False), upd_ok),
    ("ST_UPD", "ST_DEL", ("ST_COLLISION", True), ("ST_COLLISION", False), upd_del),
    ("ST_UPD", "ST_COLLISION", ("ST_COLLISION", True), ("ST_COLLISION", False), upd_collision),
    ("ST_OK", "ST_NEW", ("ST_OK", False), ("ST_OK", False), ok_new),
    ("ST_OK", "ST_UPD", ("ST_OK", False), ("ST_OK", False), ok_upd),
    ("ST_DEL", "ST_UPD", ("ST_COLLISION", True), ("ST_COLLISION", False), del_upd),
    ("ST_DEL", "ST_OK", ("ST_DEL_SYNCED", True), ("ST_DEL_SYNCED", False), del_ok),
    ("ST_DEL", "ST_DEL", ("ST_COLLISION", True), ("ST_DEL_SYNCED", False), del_del),
    ("ST_DEL", "ST_DEL_SYNCED", ("ST_DEL_SYNCED", True), ("ST_DEL_SYNCED", False), del_del_synced),
    ("ST_DEL", "ST_COLLISION", ("ST_COLLISION", True), ("ST_COLLISION", False), del_collision),
    ("ST_DEL_SYNCED", "ST_DEL", ("ST_DEL_SYNCED", False), ("ST_DEL_SYNCED", False), del_synced_del),
    ("ST_COLLISION", "ST_NEW", ("ST_COLLISION", False), ("ST_COLLISION", False), collision_new),
    ("ST_COLLISION", "ST_UPD", ("ST_COLLISION", False), ("ST_COLLISION", False), collision_upd),
    ("ST_COLLISION", "ST_DEL", ("ST_COLLISION", False), ("ST_COLLISION", False), collision_del),
    ("ST_COLLISION", "ST_COLLISION", ("ST_COLLISION", False), ("ST_COLLISION", False), collision_collision),
    ("ST_ERROR", "any", ("ST_ERROR_SYNCED", True), ("ST_ERROR", True), error_any),
    ("ST_ERROR_SYNCED", "ST_ERROR", ("ST_ERROR_SYNCED", False), ("ST_OK", False), error_synced_error),
]


@pytest.mark.parametrize("received, was, task, ours, scenario", ROWS,
                         ids=[f"{r}-{w or 'none'}" for r, w, *_ in ROWS])
def test_transition_row(pair, received, was, task, ours, scenario):
    before = pair.peer.writes
    uuid, pushes = scenario(pair)
    becomes, sync = ours
    assert state(pair, uuid) == becomes
    if sync:    # the refused write is retried once its backoff has passed
        with time_machine.travel(utcnow() + timedelta(minutes=5), tick=False):
            pair.round()
    else:
        pair.round()
    sent = pair.peer.writes - before - pushes
    assert (sent > 0) == sync, f"writes sent after receiving {received} in {was}: {sent}"


def test_the_table_is_the_tasks_twenty_two_rows():
    assert len(ROWS) == 22 and len({(r, w) for r, w, *_ in ROWS}) == 22
    differing = [(r, w) for r, w, task, ours, _ in ROWS if task != ours]
    # Every "+" on a received feed entry or collision: B is a plain API, nothing to confirm to it.
    assert ("ST_DEL", "ST_DEL") in differing and ("ST_ERROR", "any") in differing


def test_status_and_admin_list_show_the_tasks_names_and_codes(pair):
    collided(pair)
    pair.a.post("/orders", json=order_body(), headers=AUTH)
    table = {row["state"]: row for row in pair.status()["task_states"]}
    assert [(name, table[name]["code"]) for name in table] == [
        ("ST_NEW", 1), ("ST_UPD", 2), ("ST_OK", 3), ("ST_DEL", 4), ("ST_DEL_SYNCED", 5), ("ST_COLLISION", 6),
        ("ST_ERROR", 7), ("ST_ERROR_SYNCED", 8), ("ST_SYNC", 9)]
    assert (table["ST_NEW"]["count"], table["ST_COLLISION"]["count"], table["ST_OK"]["count"]) == (1, 1, 0)
    admin = pair.app_a.test_client()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', admin.get("/admin/login").text)[1]
    admin.post("/admin/login", data={"username": "admin", "password": "test-admin-password", "csrf_token": token})
    listing = admin.get("/admin/order/").text
    assert "COLLISION: ST_COLLISION (6)" in listing and "NEW: ST_NEW (1)" in listing
