"""The sync engine's decisions, instance A in this process and B's real app behind ClientPeer."""
from __future__ import annotations

import uuid as uuidlib

import pytest

from services.orders.models import db
from services.orders.sync import ledger as ledgers
from services.orders.sync.peer import PeerUnavailable
from tests.orders.inprocess import Pair, put, snapshot
from tests.support.auth import AUTH
from tests.support.orders import order_body


@pytest.fixture
def pair(make_orders_app):
    return Pair(make_orders_app("A"), make_orders_app("B"))


def test_creates_updates_and_deletes_travel_both_ways_without_echo(pair):
    on_b = pair.b.post("/orders", json=order_body(customer_name="From B"), headers=AUTH).json
    on_a = pair.a.post("/orders", json=order_body(customer_name="From A"), headers=AUTH).json
    pair.settle()
    pair.assert_converged()
    put(pair.b, on_a["uuid"], customer_name="From A", status="paid")
    pair.a.delete(f"/orders/{on_b['uuid']}", headers=AUTH)
    pair.settle()
    pair.assert_converged()
    assert pair.b.get(f"/orders/{on_b['uuid']}").json["deleted"] is True
    assert pair.a.get(f"/orders/{on_a['uuid']}").json["status"] == "paid"
    # No echo: B's order was written once on B and once by the integration on A.
    assert pair.b.get(f"/orders/{on_a['uuid']}").json["version"] == 2
    assert pair.status()["states"]["DEL_SYNCED"] == 1


def test_a_lost_acknowledgement_does_not_lock_the_order(pair):
    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.settle()
    put(pair.a, order["uuid"], note="changed on A")
    pair.fault_plan = ["ok", "lose"]  # the feed answers; the PUT lands on B but its answer is lost
    with pytest.raises(PeerUnavailable):
        pair.round()
    assert pair.b.get(f"/orders/{order['uuid']}").json["note"] == "changed on A"
    pair.settle()
    pair.assert_converged()
    assert pair.status()["states"]["OK"] == 1


def test_duplicate_delivery_of_a_create_and_an_update_is_harmless(pair):
    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.fault_plan = ["ok", "dup"]
    pair.round()
    put(pair.a, order["uuid"], note="again")
    pair.fault_plan = ["ok", "dup"]
    pair.round()
    pair.settle()
    pair.assert_converged()
    assert pair.b.get("/orders?since=0").json["count"] == 1


def test_concurrent_edits_collide_and_resolution_keeps_the_loser(pair):
    order = pair.b.post("/orders", json=order_body(), headers=AUTH).json
    pair.settle()
    put(pair.a, order["uuid"], note="A's note")
    put(pair.b, order["uuid"], note="B's note")
    pair.settle()
    collisions = pair.a.get("/sync/collisions").json
    assert len(collisions) == 1 and collisions[0]["peer_content"]["note"] == "B's note"
    assert pair.a.get(f"/orders/{order['uuid']}").json["note"] == "A's note"  # nothing overwritten
    assert pair.b.get(f"/orders/{order['uuid']}").json["note"] == "B's note"
    assert pair.status()["states"]["COLLISION"] == 1
    resolved = pair.a.post(f"/sync/collisions/{order['uuid']}/resolve", json={"take": "local"}, headers=AUTH)
    assert resolved.status_code == 200 and resolved.json["losing_content"]["note"] == "B's note"
    pair.settle()
    pair.assert_converged()
    assert pair.b.get(f"/orders/{order['uuid']}").json["note"] == "A's note"
    again = pair.a.post(f"/sync/collisions/{order['uuid']}/resolve", json={"take": "peer"}, headers=AUTH)
    assert again.status_code == 404


def test_delete_against_edit_collides_and_taking_the_delete_wins(pair):
    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.settle()
    pair.a.delete(f"/orders/{order['uuid']}", headers=AUTH)
    put(pair.b, order["uuid"], status="paid")
    pair.settle()
    assert pair.status()["open_collisions"] == 1
    pair.a.post(f"/sync/collisions/{order['uuid']}/resolve", json={"take": "local"}, headers=AUTH)
    pair.settle()
    pair.assert_converged()
    assert pair.b.get(f"/orders/{order['uuid']}").json["deleted"] is True


def test_same_uuid_created_on_both_sides(pair):
    uuid = str(uuidlib.uuid4())
    put(pair.a, uuid, note="A")
    put(pair.b, uuid, note="B")
    same = str(uuidlib.uuid4())
    put(pair.a, same, note="same")
    put(pair.b, same, note="same")
    pair.settle()
    assert [c["uuid"] for c in pair.a.get("/sync/collisions").json] == [uuid]
    pair.a.post(f"/sync/collisions/{uuid}/resolve", json={"take": "peer"}, headers=AUTH)
    pair.settle()
    pair.assert_converged()
    assert pair.a.get(f"/orders/{uuid}").json["note"] == "B"


def test_newest_wins_policy_resolves_by_itself(make_orders_app):
    pair = Pair(make_orders_app("A"), make_orders_app("B"), policy="newest-wins")
    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.settle()
    put(pair.a, order["uuid"], note="older")
    put(pair.b, order["uuid"], note="newer")
    pair.settle()
    pair.assert_converged()
    collision = pair.a.get("/sync/collisions?open=false").json[0]
    assert collision["resolution"] == "auto-peer" and collision["losing_content"]["note"] == "older"


def test_crash_between_apply_and_checkpoint_re_applies_nothing_twice(pair):
    pair.b.post("/orders", json=order_body(), headers=AUTH)
    pair.crash_before_checkpoint = True
    with pytest.raises(SystemExit):
        pair.round()
    with pair.app_a.app_context():
        assert ledgers.checkpoint() == 0
        db.session.rollback()
    assert len(snapshot(pair.a)) == 1
    version_on_a = next(iter(snapshot(pair.a)))
    pair.settle()
    pair.assert_converged()
    assert pair.a.get(f"/orders/{version_on_a}").json["version"] == 1
    assert pair.status()["checkpoint"] == 1


def test_peer_down_then_back_catches_up(pair):
    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.settle()
    pair.fault_plan = ["drop"] * 3
    for _ in range(3):
        with pytest.raises(PeerUnavailable):
            put(pair.a, order["uuid"], note=f"edit {_}")
            pair.round()
    pair.b.post("/orders", json=order_body(customer_name="made while apart"), headers=AUTH)
    pair.settle()
    pair.assert_converged()


def test_a_parallel_push_cut_off_midway_moves_the_ledger_only_for_answered_writes(pair):
    pair.push_concurrency = 4
    made = [pair.a.post("/orders", json=order_body(note=f"order {i}"), headers=AUTH).json["uuid"] for i in range(12)]
    pair.fault_plan = ["ok"] + ["ok"] * 5 + ["drop"]  # the feed, five creates, then the peer goes away
    with pytest.raises(PeerUnavailable):
        pair.round()
    on_b = snapshot(pair.b)
    with pair.app_a.app_context():
        synced = {uuid for uuid in made if (ledger := db.session.get(ledgers.SyncLedger, uuid)) is not None
                  and ledger.state == "OK"}
        db.session.rollback()
    assert synced and synced <= set(on_b)  # every order the ledger calls synced is on B
    assert len(synced) < len(made)  # and the ones not answered are still pending
    assert status_pending(pair) == len(made) - len(synced)
    pair.settle()
    pair.assert_converged()
    assert len(snapshot(pair.b)) == len(made)  # no duplicate from the retried writes


def status_pending(pair) -> int:
    return pair.status()["lag"]["local_pending"]


def test_a_refused_write_is_an_error_retried_with_backoff_then_ok(pair):
    import time_machine

    order = pair.a.post("/orders", json=order_body(), headers=AUTH).json
    pair.peer.reject_writes = 1
    pair.round()
    status = pair.status()
    assert status["states"]["ERROR"] == 1
    with pair.app_a.app_context():
        ledger = db.session.get(ledgers.SyncLedger, order["uuid"])
        assert ledger.attempts == 1 and "stricter peer says no" in ledger.last_error
        db.session.rollback()
    writes = pair.peer.writes
    pair.round()
    assert pair.peer.writes == writes  # still backing off
    with time_machine.travel(_later(), tick=True):
        pair.settle()
    pair.assert_converged()


def _later():
    from datetime import timedelta

    from shared.timeutil import utcnow

    return utcnow() + timedelta(seconds=60)
