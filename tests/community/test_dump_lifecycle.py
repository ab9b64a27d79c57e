"""Dumps run like tasks: on a queue of their own, in slots of the 10-task cap (at most COLLECTOR_MAX_DUMPS
of them), with a heartbeat the reaper watches, and a cancel (services/collector/item_dumps.py)."""
from __future__ import annotations

import logging
import os
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services.collector import item_dumps
from services.collector.models import ItemDump, db
from services.collector.runtime import DUMP_ITEMS, runtime
from shared.timeutil import utcnow
from tests.support.collector import API, start, wait_status
from tests.support.waiting import wait_for


@pytest.fixture
def finished_task(community_app, client, worker) -> dict:
    worker()
    task_id = start(client, "babitalk", target_date=(date.today() - timedelta(days=7)).isoformat(),
                    categories=["reviews"], limit=3)
    return wait_status(client, task_id, "completed")


def rt_actor_queue(app) -> str:
    return runtime().broker.get_actor(DUMP_ITEMS).queue_name


def start_dump(client, community_app, task_id: str) -> str:
    path = os.path.join(community_app.config["COLLECTOR_DUMP_SQLITE_DIR"], "analyst.sqlite3")
    response = client.post(f"{API}/task/{task_id}/dump", json={"database_url": f"sqlite:///{path}", "table": "t"})
    assert response.status_code == 202, response.json
    return response.json["id"]


def dump_status(client, dump_id: str) -> str:
    return client.get(f"{API}/dump/{dump_id}").json["status"]


def test_a_dump_waits_for_a_slot_of_the_cap_on_its_own_queue(finished_task, community_app, client, caplog):
    caplog.set_level(logging.INFO, logger="services.collector.item_dumps")
    with community_app.app_context():
        assert rt_actor_queue(community_app) == community_app.config["COLLECTOR_DUMP_QUEUE"] == "dumps"
        rt = runtime()
        held = [rt.limiter.acquire(f"other-{n}") for n in range(community_app.config["COLLECTOR_MAX_RUNNING"])]
        assert all(held) and rt.limiter.acquire("one-more") is None
        dump_id = start_dump(client, community_app, finished_task["id"])
        # Over the cap the dump goes back to its queue, still pending, holding no worker thread.
        wait_for(lambda: f"dump {dump_id} waits for a slot of the cap" in caplog.text, 30,
                 what="the dump to wait for a slot")
        assert dump_status(client, dump_id) == "pending"
        rt.limiter.release("other-0", held[0])
    wait_for(lambda: dump_status(client, dump_id) == "completed", 30, what="the dump to run once a slot is free")
    with community_app.app_context():
        # The worker gives its slots back once the outcome is recorded (item_dumps.run_dump's finally):
        # a moment after "completed" shows (CI saw the slot still held, once).
        wait_for(lambda: (runtime().limiter.holders(), runtime().dump_limiter.holders()) == (len(held) - 1, 0), 10,
                 what="the dump to give its slots back")


def test_a_running_dump_whose_worker_was_lost_is_reaped(community_app, client, finished_task):
    with community_app.app_context():
        rt = runtime()
        dump_id = str(uuid.uuid4())
        # What a worker killed mid-dump leaves: the row running, its leases, no heartbeat (alive key) any more.
        db.session.add(ItemDump(id=dump_id, task_id=finished_task["id"], status="running", target="sqlite:///x",
                                url_sealed="", table_name="t", rows_written=0, created_at=utcnow(),
                                started_at=utcnow()))
        db.session.commit()
        rt.limiter.acquire(f"dump:{dump_id}")
        rt.dump_limiter.acquire(f"dump:{dump_id}")
        alive = str(uuid.uuid4())
        rt.redis.set(rt.alive_key(alive), 1)  # a dump still beating is left alone
        db.session.add(ItemDump(id=alive, task_id=finished_task["id"], status="running", target="sqlite:///x",
                                url_sealed="", table_name="t", rows_written=0, created_at=utcnow()))
        db.session.commit()
        assert item_dumps.reap_dumps() == [dump_id]
        db.session.expire_all()
        lost = db.session.get(ItemDump, dump_id)
        assert lost.status == "failed" and "no heartbeat" in lost.error and lost.completed_at is not None
        assert db.session.scalar(select(ItemDump.status).where(ItemDump.id == alive)) == "running"
        assert rt.limiter.holders() == 0 and rt.dump_limiter.holders() == 0


def test_a_pending_dump_is_cancelled_and_never_runs(finished_task, community_app, client):
    with community_app.app_context():
        rt = runtime()
        held = [rt.limiter.acquire(f"other-{n}") for n in range(community_app.config["COLLECTOR_MAX_RUNNING"])]
        dump_id = start_dump(client, community_app, finished_task["id"])
        assert item_dumps.cancel_dump(dump_id) == "cancelled"
        for n, token in enumerate(held):
            rt.limiter.release(f"other-{n}", token)
    assert dump_status(client, dump_id) == "cancelled"


def test_a_dump_is_cancelled_over_http_and_says_who_asked(finished_task, community_app, client):
    with community_app.app_context():
        rt = runtime()
        held = [rt.limiter.acquire(f"other-{n}") for n in range(community_app.config["COLLECTOR_MAX_RUNNING"])]
        dump_id = start_dump(client, community_app, finished_task["id"])
        cancelled = client.delete(f"{API}/dump/{dump_id}")
        for n, token in enumerate(held):
            rt.limiter.release(f"other-{n}", token)
    assert cancelled.status_code == 200, cancelled.json
    loopback = {"key_id": None, "name": "loopback", "role": "operator"}
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["requested_by"] == cancelled.json["cancelled_by"] == loopback
    again = client.delete(f"{API}/dump/{dump_id}")
    assert again.status_code == 409 and "already cancelled" in again.json["message"]
    unknown = client.delete(f"{API}/dump/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json["code"] == 404
