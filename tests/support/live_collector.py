"""A running collector (the e2e stack's) driven over HTTP, as its users' scripts drive it."""
from __future__ import annotations

import requests

from tests.support.waiting import wait_for

COLLECTOR = "/api/v1/async-collection"
FINAL = {"completed", "failed", "cancelled"}


def finished_task(collector: str, task_id: str) -> dict:
    def final():
        task = requests.get(f"{collector}{COLLECTOR}/task/{task_id}", timeout=10).json()
        return task if task["status"] in FINAL else None

    return wait_for(final, timeout=120, interval=0.2, what=f"task {task_id} to end")


def start(collector: str, source: str, body: dict) -> str:
    response = requests.post(f"{collector}{COLLECTOR}/{source}/start", json=body, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]
