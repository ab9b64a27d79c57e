"""The analysts' client loop against real processes: sandbox, collector API, Dramatiq worker.

POST /<source>/start, then GET the task until it is completed, failed or cancelled, and
read result_summary; then sample, export and dump it over HTTP."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import requests

from tests.support.community import GANGNAMUNNI_TOKEN, NID_AUT, NID_SES, SECRET_SANDBOX_ENV
from tests.support.processes import collector_worker, flask_app, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
FINAL = ("completed", "failed", "cancelled")


@pytest.fixture
def sandbox_env() -> dict:
    return SECRET_SANDBOX_ENV


@pytest.fixture
def stack(app, collector_config, sandbox, live_process, tmp_path):
    """Collector API + worker processes pointed at the sandbox (as `make up` wires them)."""
    url = sandbox.url
    env = {"COLLECTOR_DATABASE_URL": collector_config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": collector_config["REDIS_URL"], "COLLECTOR_NAMESPACE": collector_config["COLLECTOR_NAMESPACE"],
           "SERVICE_TOKEN": collector_config["SERVICE_TOKEN"], "LOG_DIR": str(collector_config["LOG_DIR"]),
           "VAR_DIR": str(collector_config["VAR_DIR"]), "BABITALK_BASE_URL": url,
           "GANGNAMUNNI_BASE_URL": url, "GANGNAMUNNI_TOKEN": GANGNAMUNNI_TOKEN,
           "NAVER_API_BASE_URL": url, "NAVER_ARTICLE_BASE_URL": url,
           "COLLECTOR_PACING_BABITALK": 0.01, "COLLECTOR_PACING_GANGNAMUNNI": 0.01, "COLLECTOR_PACING_NAVER": 0.01,
           "COLLECTOR_DUMP_SQLITE_DIR": str(tmp_path / "dumps")}
    port = free_port()
    api = live_process(flask_app("services.collector", port), env=env, port=port, name="collector")
    live_process(collector_worker(4),
                 env=env, name="worker")
    return api.url + "/api/v1/async-collection"


def client_loop(api: str, source: str, body: dict) -> dict:
    started = requests.post(f"{api}/{source}/start", json=body, timeout=10)
    assert started.status_code == 202, started.text
    task_id = started.json()["task_id"]

    def finished():
        task = requests.get(f"{api}/task/{task_id}", timeout=10).json()
        return task if task["status"] in FINAL else None

    task = wait_for(finished, timeout=120, interval=0.2, what=f"{source} task to finish")
    print(source, json.dumps(task["result_summary"], ensure_ascii=False))
    return task


def week_ago() -> str:
    return (date.today() - timedelta(days=7)).isoformat()


def test_babitalk_client_loop_then_sample_export_dump(stack, tmp_path):
    task = client_loop(stack, "babitalk", {"target_date": week_ago(), "categories": ["reviews", "talks"], "limit": 24})
    assert task["status"] == "completed", task["error"]
    summary = task["result_summary"]
    assert summary["total_reviews"] == 24 and summary["total_posts"] == 24
    assert summary["unique_authors"] > 1

    sample = requests.get(f"{stack}/task/{task['id']}/sample?size=7", timeout=10).json()
    assert sample["count"] == summary["total_items"] and len(sample["data"]) == 7
    with requests.get(f"{stack}/task/{task['id']}/export?format=jsonl", stream=True, timeout=30) as response:
        lines = [line for line in response.iter_lines() if line]
    assert len(lines) == summary["total_items"]

    dump = requests.post(f"{stack}/task/{task['id']}/dump", timeout=10, json={
        "database_url": f"sqlite:///{tmp_path / 'dumps' / 'mine.sqlite3'}", "table": "babitalk"}).json()
    done = wait_for(lambda: (s := requests.get(f"{stack}/dump/{dump['id']}", timeout=10).json())["status"]
                    in ("completed", "failed") and s, timeout=60, what="dump")
    assert done["status"] == "completed" and done["rows_written"] == summary["total_items"]


def test_gangnamunni_client_loop(stack):
    task = client_loop(stack, "gangnamunni", {"target_date": week_ago(), "categories": ["hospital_question", "review"],
                                              "save_as_reviews": True, "limit": 10})
    assert task["status"] == "completed", task["error"]
    assert task["result_summary"]["total_posts"] == 10 and task["result_summary"]["total_reviews"] == 10


def test_naver_client_loop(stack):
    task = client_loop(stack, "naver", {"cafe_id": 10001, "target_date": week_ago(), "menu_id": "", "per_page": 20,
                                        "naver_cookies": f"NID_AUT={NID_AUT}; NID_SES={NID_SES}"})
    assert task["status"] == "completed", task["error"]
    assert task["result_summary"]["total_posts"] > 20 and task["result_summary"]["skipped"] == 0
    assert task["params"]["naver_cookies"] == "***"
