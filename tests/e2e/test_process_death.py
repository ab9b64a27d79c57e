"""A process of `make up` that dies (kill -9, as an out-of-memory kill does) comes back by itself
while the others keep serving, and a collector task whose worker died mid-way still completes,
once, with every item stored once."""
from __future__ import annotations

import json
import os
import signal
from datetime import date, timedelta
from pathlib import Path

import requests

from tests.support.live_collector import COLLECTOR, finished_task, start
from tests.support.waiting import wait_for


def states(stack) -> dict[str, dict]:
    from deploy.stack import process_states

    return process_states(stack.var / "supervisor.sock")


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def healthy(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def restarted(stack, name: str, old_pid: int):
    info = states(stack).get(name, {})
    return info.get("statename") == "RUNNING" and info["pid"] not in (0, old_pid) and info


def test_killed_worker_and_web_process_come_back_and_the_task_completes_once(stack):
    collector = stack.url("collector")
    before = states(stack)
    worker, orders_a = before["collector-worker"]["pid"], before["orders-a"]["pid"]
    task_id = start(collector, "babitalk", {"target_date": (date.today() - timedelta(days=3)).isoformat(),
                                            "categories": ["reviews", "talks"]})

    def task():
        return requests.get(f"{collector}{COLLECTOR}/task/{task_id}", timeout=10).json()

    wait_for(lambda: task()["status"] == "running" and task()["rows_written"] > 0, timeout=60,
             what="the task to store its first items")
    # The process that runs the task is one of dramatiq's children (another serves its metrics): the
    # one an out-of-memory kill would pick. The task's log names it: "Started ... on <host>:<pid>".
    lines = requests.get(f"{collector}{COLLECTOR}/task/{task_id}/logs", timeout=10).json()["data"]
    (started,) = [line["message"] for line in lines if line["message"].startswith("Started ")]
    worker_process = int(started.rsplit(":", 1)[1])
    assert worker_process in children(worker)
    os.kill(worker_process, signal.SIGKILL)
    os.kill(orders_a, signal.SIGKILL)

    # Once supervisord has seen both deaths (and is starting them again), the others still serve.
    wait_for(lambda: all(states(stack)[name]["pid"] != pid for name, pid in
                         [("collector-worker", worker), ("orders-a", orders_a)]), timeout=30,
             what="supervisord to see both processes die")
    others = ["sandbox", "trials", "grader", "collector", "orders-b"]
    assert all(healthy(stack.url(name)) for name in others)
    assert all(states(stack)[name]["pid"] == before[name]["pid"] for name in others)

    wait_for(lambda: restarted(stack, "collector-worker", worker), timeout=60, what="a new collector-worker")
    wait_for(lambda: restarted(stack, "orders-a", orders_a), timeout=60, what="a new orders-a")
    wait_for(lambda: healthy(stack.url("orders-a")), timeout=60, what="orders-a's /health")
    assert all(healthy(stack.url(name)) for name in others)
    assert {name for name, info in states(stack).items() if info["statename"] != "RUNNING"} == set()
    stack_log = (stack.var / "log" / "stack.log").read_text()
    assert "exited: orders-a (terminated by SIGKILL; not expected)" in stack_log
    assert "exited: collector-worker" in stack_log

    final = finished_task(collector, task_id)
    assert final["status"] == "completed", final
    assert final["attempt"] == 2
    assert any("lost: no heartbeat" in line and "re-running (attempt 2)" in line for line in final["logs"])
    summary = final["result_summary"]
    exported = [json.loads(line) for line in requests.get(f"{collector}{COLLECTOR}/task/{task_id}/export",
                                                          params={"format": "jsonl"}, timeout=30).text.splitlines()]
    keys = [(item["source"], item["kind"], item["external_id"]) for item in exported]
    assert len(keys) == len(set(keys)) == summary["total_items"] > 0
    sample = requests.get(f"{collector}{COLLECTOR}/task/{task_id}/sample", timeout=10).json()
    assert sample["count"] == summary["total_items"]
