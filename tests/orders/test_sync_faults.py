"""Fault injection: both instances and the integration as real processes, the fault proxy
between the integration and B. After every scenario both sides must hold the same orders,
with nothing pending, collided or in ERROR, and further rounds must send no writes."""
from __future__ import annotations

import uuid as uuidlib

import pytest

from tests.orders.live import eventually, snapshot, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(live_process, migrated_database_for, tmp_path):
    stack = start_stack(live_process, migrated_database_for, tmp_path)
    stack.start_integration()
    yield stack
    stack.proxy.stop()


def test_creates_updates_and_deletes_in_both_directions(stack):
    from_b = stack.create(stack.b, customer_name="Made on B")
    from_a = stack.create(stack.a, customer_name="Made on A")
    stack.on_a(from_b["uuid"], lambda o: True)
    stack.on_b(from_a["uuid"], lambda o: True)
    stack.put(stack.b, from_a["uuid"], customer_name="Made on A", status="paid")
    stack.put(stack.a, from_b["uuid"], customer_name="Made on B", note="packed")
    stack.on_a(from_a["uuid"], lambda o: o["status"] == "paid")
    stack.on_b(from_b["uuid"], lambda o: o["note"] == "packed")
    stack.delete(stack.a, from_a["uuid"])
    stack.delete(stack.b, from_b["uuid"])
    stack.on_b(from_a["uuid"], lambda o: o["deleted"])
    stack.on_a(from_b["uuid"], lambda o: o["deleted"])
    stack.assert_converged(expected_orders=2)
    assert stack.status()["states"]["DEL_SYNCED"] == 2


def test_duplicated_and_delayed_delivery(stack):
    stack.proxy.plan("POST", "dup")
    stack.proxy.plan("PUT", "dup", "delay")
    order = stack.create(stack.a)
    stack.on_b(order["uuid"], lambda o: True)
    stack.put(stack.a, order["uuid"], note="one")
    stack.on_b(order["uuid"], lambda o: o["note"] == "one")
    stack.put(stack.a, order["uuid"], note="two")
    stack.on_b(order["uuid"], lambda o: o["note"] == "two")
    stack.assert_converged(expected_orders=1)
    assert stack.get(stack.b, order["uuid"])["version"] == 3  # duplicates moved nothing


def test_lost_response_after_the_peer_committed_then_retry(stack):
    stack.proxy.plan("POST", "cut")
    order = stack.create(stack.a)
    stack.on_b(order["uuid"], lambda o: True)
    stack.assert_converged(expected_orders=1)
    stack.proxy.plan("PUT", "cut", "cut", "cut")
    stack.put(stack.a, order["uuid"], status="shipped")
    stack.on_b(order["uuid"], lambda o: o["status"] == "shipped")
    stack.assert_converged(expected_orders=1)
    assert stack.collisions(open_only=False) == []
    assert stack.get(stack.b, order["uuid"])["version"] == 2


def test_a_stale_request_arriving_late_changes_nothing(stack):
    order = stack.create(stack.a)
    stack.on_b(order["uuid"], lambda o: True)
    stack.proxy.plan("PUT", "hold")  # the first PUT is held back; the client times out and retries
    stack.put(stack.a, order["uuid"], note="first")
    stack.on_b(order["uuid"], lambda o: o["note"] == "first")
    stack.put(stack.a, order["uuid"], note="second")
    stack.on_b(order["uuid"], lambda o: o["note"] == "second")
    assert stack.proxy.release() in ([200], [412])  # "first" arrives after "second": refused or a no-op
    assert stack.get(stack.b, order["uuid"])["note"] == "second"
    stack.assert_converged(expected_orders=1)


def test_peer_down_during_edits_on_both_sides_then_back(stack):
    shared = stack.create(stack.a, note="before")
    stack.on_b(shared["uuid"], lambda o: True)
    stack.proxy.down = True
    a_only = [stack.create(stack.a, customer_name=f"A{i}") for i in range(3)]
    b_only = [stack.create(stack.b, customer_name=f"B{i}") for i in range(3)]
    stack.put(stack.a, shared["uuid"], note="edited on A while apart")
    eventually(lambda: stack.status()["last_error"], message="the integration noticing the outage")
    stack.proxy.down = False
    for order in a_only:
        stack.on_b(order["uuid"], lambda o: True)
    for order in b_only:
        stack.on_a(order["uuid"], lambda o: True)
    stack.on_b(shared["uuid"], lambda o: o["note"] == "edited on A while apart")
    stack.assert_converged(expected_orders=7)
    assert stack.status()["last_error"] is None


def test_concurrent_edits_collide_then_resolution(stack):
    order = stack.create(stack.b)
    stack.on_a(order["uuid"], lambda o: True)
    stack.proxy.down = True
    stack.put(stack.a, order["uuid"], note="A says")
    stack.put(stack.b, order["uuid"], note="B says")
    stack.proxy.down = False
    collision = eventually(stack.collisions, message="a collision")[0]
    assert collision["uuid"] == order["uuid"] and collision["peer_content"]["note"] == "B says"
    assert stack.status()["states"]["COLLISION"] == 1
    assert stack.get(stack.a, order["uuid"])["note"] == "A says"
    assert stack.get(stack.b, order["uuid"])["note"] == "B says"
    resolved = stack.resolve(order["uuid"], "peer")
    assert resolved["losing_content"]["note"] == "A says"
    stack.on_a(order["uuid"], lambda o: o["note"] == "B says")
    stack.assert_converged(expected_orders=1)


def test_delete_against_edit(stack):
    order = stack.create(stack.a)
    stack.on_b(order["uuid"], lambda o: True)
    stack.proxy.down = True
    stack.delete(stack.a, order["uuid"])
    stack.put(stack.b, order["uuid"], status="paid")
    stack.proxy.down = False
    eventually(stack.collisions, message="a collision")
    stack.resolve(order["uuid"], "local")
    stack.on_b(order["uuid"], lambda o: o["deleted"])
    stack.assert_converged(expected_orders=1)
    assert stack.get(stack.a, order["uuid"])["deleted"] is True


def test_same_uuid_created_on_both_sides(stack):
    clash, twin = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    stack.proxy.down = True
    stack.create(stack.a, uuid=clash, note="A's")
    stack.create(stack.b, uuid=clash, note="B's")
    stack.create(stack.a, uuid=twin, note="same")
    stack.create(stack.b, uuid=twin, note="same")
    stack.proxy.down = False
    eventually(lambda: [c["uuid"] for c in stack.collisions()] == [clash], message="one collision")
    stack.resolve(clash, "local")
    stack.on_b(clash, lambda o: o["note"] == "A's")
    stack.assert_converged(expected_orders=2)


def test_killed_between_applying_and_saving_the_checkpoint(stack):
    stack.integration.stop()
    crashing = stack.start_integration(ORDERS_SYNC_FAULT="crash-before-checkpoint")
    order = stack.create(stack.b)
    eventually(lambda: crashing.process.poll() is not None, message="the integration crashing")
    assert crashing.stop() == 3  # (stop() of an exited process only closes its log)
    assert stack.get(stack.a, order["uuid"])["version"] == 1  # applied before the crash
    assert stack.status()["checkpoint"] == 0  # ... but the checkpoint was not saved
    writes = stack.proxy.writes()
    stack.start_integration()
    eventually(lambda: stack.status()["checkpoint"] == 1, message="the checkpoint moving")
    stack.assert_converged(expected_orders=1)
    assert stack.proxy.writes() == writes  # re-reading the page wrote nothing anywhere
    assert stack.get(stack.a, order["uuid"])["version"] == 1


@pytest.fixture
def skewed_stack(live_process, migrated_database_for, tmp_path):
    stack = start_stack(live_process, migrated_database_for, tmp_path, b_env={"ORDERS_CLOCK_SKEW_SECONDS": "3600"})
    stack.start_integration()
    yield stack
    stack.proxy.stop()


def test_one_clock_an_hour_off(skewed_stack):
    stack = skewed_stack
    order = stack.create(stack.b, note="B, an hour ahead")
    stack.on_a(order["uuid"], lambda o: True)
    # A's later edit carries an older timestamp than B's; sync goes by versions, so it still wins.
    stack.put(stack.a, order["uuid"], note="A, later but earlier on the clock")
    stack.on_b(order["uuid"], lambda o: o["note"] == "A, later but earlier on the clock")
    assert stack.get(stack.b, order["uuid"])["updated_at"] > stack.get(stack.a, order["uuid"])["updated_at"]
    stack.assert_converged(expected_orders=1)
    assert len(snapshot(stack.a)) == 1
