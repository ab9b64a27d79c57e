"""Property: whatever interleaving of edits on both sides, sync rounds, lost, dropped and
duplicated calls, and crashes before the checkpoint, once the faults stop and collisions
are resolved both instances hold the same orders, with no ERROR state, and one more
round sends no writes.

ORDERS_HYPOTHESIS_EXAMPLES raises the number of examples (default kept small for CI).
"""
from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from services.orders.models import (
    Collision,
    FeedCounter,
    Order,
    SyncLedger,
    SyncValue,
    db,
)
from services.orders.sync.peer import PeerUnavailable
from tests.orders.inprocess import FAULTS, Pair
from tests.support.auth import AUTH
from tests.support.orders import order_body

UUIDS = ["00000000-0000-4000-8000-00000000000" + str(i) for i in range(3)]
EXAMPLES = int(os.environ.get("ORDERS_HYPOTHESIS_EXAMPLES", "25"))

edit = st.tuples(st.just("edit"), st.sampled_from("ab"), st.sampled_from(UUIDS),
                 st.sampled_from(["new", "paid", "shipped"]), st.sampled_from(["", "x", "y"]))
remove = st.tuples(st.just("delete"), st.sampled_from("ab"), st.sampled_from(UUIDS))
sync_round = st.tuples(st.just("round"), st.lists(st.sampled_from(FAULTS), max_size=6))
crash = st.tuples(st.just("crash"))
resolve = st.tuples(st.just("resolve"), st.sampled_from(UUIDS), st.sampled_from(["local", "peer"]))
steps = st.lists(st.one_of(edit, remove, sync_round, crash, resolve), min_size=1, max_size=25)


def reset(app) -> None:
    with app.app_context():
        for model in (Order, SyncLedger, Collision, SyncValue):
            db.session.execute(delete(model))
        db.session.execute(update(FeedCounter).values(value=0))
        db.session.commit()


@pytest.fixture
def apps(make_orders_app):
    return make_orders_app("A"), make_orders_app("B")


@pytest.mark.parametrize("policy", ["manual", "newest-wins"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps, takes=st.lists(st.sampled_from(["local", "peer"]), min_size=3, max_size=3))
def test_any_interleaving_converges(apps, policy, script, takes):
    app_a, app_b = apps
    reset(app_a)
    reset(app_b)
    pair = Pair(app_a, app_b, policy=policy)
    clients = {"a": pair.a, "b": pair.b}
    for step in script:
        kind = step[0]
        if kind == "edit":
            _, side, uuid, status, note = step
            response = clients[side].put(f"/orders/{uuid}", json=order_body(status=status, note=note), headers=AUTH)
            assert response.status_code == 200
        elif kind == "delete":
            _, side, uuid = step
            assert clients[side].delete(f"/orders/{uuid}", headers=AUTH).status_code in (204, 404)
        elif kind == "round":
            pair.fault_plan = list(step[1])
            with contextlib.suppress(PeerUnavailable):
                pair.round()
            pair.fault_plan = []
        elif kind == "crash":
            pair.crash_before_checkpoint = True
            with contextlib.suppress(SystemExit):
                pair.round()
            pair.crash_before_checkpoint = False
        elif kind == "resolve":
            _, uuid, take = step
            response = pair.a.post(f"/sync/collisions/{uuid}/resolve", json={"take": take}, headers=AUTH)
            assert response.status_code in (200, 404)

    for _ in range(4):  # faults have stopped; people resolve what collided
        pair.settle()
        open_collisions = pair.a.get("/sync/collisions").json
        if not open_collisions:
            break
        for collision, take in zip(open_collisions, takes * 3, strict=False):
            pair.a.post(f"/sync/collisions/{collision['uuid']}/resolve", json={"take": take}, headers=AUTH)
    pair.settle()
    pair.assert_converged()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.one_of(edit, remove, sync_round, crash), min_size=1, max_size=25),
       writer=st.sampled_from("ab"))
def test_one_writer_never_collides_whatever_the_faults(apps, script, writer):
    """Lost answers, duplicates and crashes alone must never look like a conflict (no lock-up)."""
    app_a, app_b = apps
    reset(app_a)
    reset(app_b)
    pair = Pair(app_a, app_b)
    client = {"a": pair.a, "b": pair.b}[writer]
    for step in script:
        if step[0] == "edit":
            client.put(f"/orders/{step[2]}", json=order_body(status=step[3], note=step[4]), headers=AUTH)
        elif step[0] == "delete":
            client.delete(f"/orders/{step[2]}", headers=AUTH)
        else:
            pair.fault_plan = list(step[1]) if step[0] == "round" else []
            pair.crash_before_checkpoint = step[0] == "crash"
            with contextlib.suppress(PeerUnavailable, SystemExit):
                pair.round()
            pair.fault_plan, pair.crash_before_checkpoint = [], False
    pair.settle()
    assert pair.a.get("/sync/collisions?open=false").json == []
    pair.assert_converged()
