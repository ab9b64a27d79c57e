"""The original systems' documented requests and client examples (tests/conformance/*.json, from
ORIGINAL_APIS.md), replayed against the stack `make up` starts: only host and port changed.

Not here yet: the labeling task API (`/api/tasks/`, ORIGINAL_APIS.md section A), still being built.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.support.grader import SANDBOX_CLIENT, SANDBOX_KEY
from tests.support.orders import order_body
from tests.support.processes import REPO_ROOT
from tests.support.waiting import wait_for

CASES = Path(__file__).resolve().parent.parent / "conformance"
FINAL = ("completed", "failed", "cancelled")


def cases(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))


GUIDE, TRIALS, ORDERS, GRADER = (cases(name) for name in
                                 ("collection_guide", "clinical_trials", "orders_two_way_sync", "grader_etl"))


# --- B. the async collection guide ---------------------------------------------------------------

def guide_api(stack) -> str:
    return stack.url(GUIDE["service"]) + GUIDE["base"]


def start(api: str, platform: str, body: dict) -> str:
    started = requests.post(f"{api}/{platform}/start", json=body, timeout=10)
    assert started.status_code == 202, started.text
    answer = started.json()
    assert answer["message"] == GUIDE["start_message"].format(platform=platform, task_id=answer["task_id"])
    return answer["task_id"]


def poll(api: str, task_id: str) -> dict:
    task = requests.get(f"{api}/task/{task_id}", timeout=10).json()
    assert set(GUIDE["task_fields"]) <= set(task), set(GUIDE["task_fields"]) - set(task)
    assert task["status"] in GUIDE["states"] or task["status"] in GUIDE["extra_states"]
    return task


def cancel(api: str, task_id: str) -> dict:
    assert requests.delete(f"{api}/task/{task_id}", timeout=10).status_code == 200
    return wait_for(lambda: (task := poll(api, task_id))["status"] in FINAL and task, timeout=60, interval=0.2,
                    what="the cancelled task to stop")


@pytest.mark.parametrize("case", GUIDE["start_bodies"], ids=[c["platform"] for c in GUIDE["start_bodies"]])
def test_the_guides_start_bodies_as_written(stack, case):
    """Accepted as written; the task runs, its progress moves before a category ends; DELETE cancels it."""
    api = guide_api(stack)
    task_id = start(api, case["platform"], case["body"])
    moving = wait_for(lambda: (task := poll(api, task_id))["progress"] > 0 and task, timeout=90, interval=0.2,
                      what=f"{case['platform']} progress to move")
    assert moving["type"] == case["type"] and moving["error"] is None
    assert moving["status"] == "completed" or moving["total"] > moving["progress"]
    assert re.search(r"\(\d+/\d+ records, total (estimated|at most)", moving["current_step"] or "") \
        or moving["status"] == "completed"
    if moving["status"] != "completed":
        assert cancel(api, task_id)["status"] in ("cancelled", "completed")


def test_the_guides_python_client_loop(stack):
    """Start babitalk, poll GET /task/{id} printing status, progress/total and current_step, then result_summary."""
    loop = GUIDE["python_client_loop"]
    api = guide_api(stack)
    task_id = start(api, loop["platform"], loop["body"])
    printed = []

    def done():
        task = poll(api, task_id)
        printed.append(tuple(task[field] for field in loop["prints"]))
        return task if task["status"] in FINAL else None

    task = wait_for(done, timeout=180, interval=0.2, what="the guide's loop to see the task end")
    assert task["status"] == "completed", task["error"]
    assert task[loop["final"]]["total_reviews"] == task[loop["final"]]["total_posts"] == 24
    running = [line for line in printed if line[0] == "running"]
    assert running and all(isinstance(progress, int | float) for _, progress, _, _ in printed)
    assert task["progress"] == task["total"] > 1      # counted in records, not in the two categories


def test_the_guides_javascript_client_body_and_the_listings(stack):
    client = GUIDE["javascript_client"]
    api = guide_api(stack)
    task_id = start(api, client["platform"], client["body"])
    wait_for(lambda: poll(api, task_id)["status"] != "pending", timeout=60, interval=0.2, what="the task to run")
    for call in GUIDE["calls"]:
        response = requests.request(call["method"], api + call["path"], timeout=10)
        assert response.status_code == call["status"], (call, response.text)
    summary = requests.get(f"{api}/status/summary", timeout=10).json()
    assert set(GUIDE["summary_fields"]) <= set(summary)
    listed = requests.get(f"{api}/tasks", timeout=10).json()
    assert task_id in json.dumps(listed)
    assert cancel(api, task_id)["status"] in ("cancelled", "completed")


# --- C. clinical trials --------------------------------------------------------------------------

@pytest.mark.parametrize("call", TRIALS["calls"], ids=[c["name"] for c in TRIALS["calls"]])
def test_the_trials_tasks_addresses(stack, call):
    base = stack.url(TRIALS["service"])
    trial_id = requests.get(base + "/list?per_page=1", timeout=10).json()["data"][0]["trial_id"]
    path = call["path"].format(trial_id=trial_id)
    response = requests.request(call["method"], base + path, timeout=10, allow_redirects=False)
    assert response.status_code == call["status"], response.text
    assert set(call["keys"]) <= set(response.json())
    if "same_as" in call:
        assert response.json() == requests.get(base + call["same_as"].format(trial_id=trial_id), timeout=10).json()


# --- D. orders: the state table ------------------------------------------------------------------

def sync_state(stack, uuid: str) -> dict:
    return requests.get(f"{stack.url(ORDERS['service'])}/orders/{uuid}", timeout=10).json()


def test_the_orders_state_table_is_what_the_status_shows(stack):
    status = requests.get(stack.url(ORDERS["service"]) + "/sync/status", timeout=10).json()
    assert [[row["state"], row["code"]] for row in status["task_states"]] == ORDERS["states"]


def test_the_orders_rows_a_user_can_cause(stack):
    auth = {"Authorization": f"Bearer {stack.service_token}"}
    a, b = stack.url(ORDERS["service"]), stack.url(ORDERS["peer"])
    uuid = None
    for row in ORDERS["live_rows"]:
        side = b if row["on"] == ORDERS["peer"] else a
        if row["action"] == "create":
            created = requests.post(side + "/orders", json=order_body(note=row["row"]), headers=auth, timeout=10)
            assert created.status_code == 201, created.text
            uuid = created.json()["uuid"]
        elif row["action"] == "update":
            changed = requests.put(f"{side}/orders/{uuid}", json=order_body(note=row["note"]), headers=auth,
                                   timeout=10)
            assert changed.status_code == 200, changed.text
        else:
            assert requests.delete(f"{side}/orders/{uuid}", headers=auth, timeout=10).status_code == 204
        want = row["then_on_a"]

        def arrived(want=want, uuid=uuid):
            order = sync_state(stack, uuid)
            state = order.get("sync_state") or {}
            held = {"state": state.get("state"), "code": state.get("code"),
                    **{key: order.get(key) for key in want if key not in ("state", "code")}}
            return held == want and order

        wait_for(arrived, timeout=30, interval=0.1, what=f"A to show {row['row']}")
        if row.get("then_on_b", {}).get("exists"):
            assert requests.get(f"{b}/orders/{uuid}", timeout=10).status_code == 200


# --- E. the grader ETL ---------------------------------------------------------------------------

def test_the_grader_etl_is_one_command(stack):
    day = GRADER["command"][-1]
    env = {**stack.env, "GRADER_API_URL": stack.url("sandbox"), "GRADER_CLIENT": SANDBOX_CLIENT,
           "GRADER_CLIENT_KEY": SANDBOX_KEY}
    command = [str(Path(sys.executable).parent / GRADER["command"][0]), *GRADER["command"][1:]]
    ran = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = (stack.var / "log" / GRADER["log_file"].format(today=datetime.now(UTC).date().isoformat())).read_text()
    assert all(stage in log for stage in GRADER["log_stages"]), log[-3000:]
    expected = requests.get(stack.url("sandbox") + "/_sandbox/grader/expected", params={"date": day}, timeout=10)
    stats = requests.get(stack.url("grader") + "/stats/daily", params={"date": day}, timeout=10).json()
    assert stats["attempts"] == expected.json()["valid"]            # loaded where the grader service reads
