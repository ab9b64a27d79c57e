"""Driving the collector's API in tests: start a task, read it, wait for a status."""
from __future__ import annotations

import requests

from tests.support.waiting import wait_for

API = "/api/v1/async-collection"
FINAL = {"completed", "failed", "cancelled"}


def start(client, source: str = "trials", **body) -> str:
    response = client.post(f"{API}/{source}/start", json=body)
    assert response.status_code == 202, response.json
    return response.json["task_id"]


def task_of(client, task_id: str) -> dict:
    response = client.get(f"{API}/task/{task_id}")
    assert response.status_code == 200, response.json
    return response.json


def wait_status(client, task_id: str, statuses, timeout: float = 60.0) -> dict:
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def reached():
        task = task_of(client, task_id)
        return task if task["status"] in statuses else None

    return wait_for(reached, timeout, what=f"task {task_id} to be {statuses}")


def trials_count(trials_url: str) -> int:
    return requests.get(f"{trials_url}/trials?per_page=1", timeout=10).json()["count"]
