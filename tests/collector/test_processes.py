"""The collector as `make up` runs it: API process, Dramatiq worker process, the CLI client,
and the schedule."""
import subprocess
import sys
from datetime import datetime

import pytest
import requests
from apscheduler.triggers.cron import CronTrigger

from services.collector.scheduler import build_scheduler, start_scheduled
from tests.support.brokers import over_every_broker
from tests.support.collector import trials_count
from tests.support.processes import REPO_ROOT, collector_worker, flask_app, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(app, collector_config, sandbox, trials_service, live_process):
    """Collector API + worker processes wired to the sandbox and the trials service."""
    env = {"COLLECTOR_DATABASE_URL": collector_config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": collector_config["REDIS_URL"], "COLLECTOR_NAMESPACE": collector_config["COLLECTOR_NAMESPACE"],
           "SERVICE_TOKEN": collector_config["SERVICE_TOKEN"], "ODCLOUD_BASE_URL": sandbox.url + "/api",
           "ODCLOUD_SERVICE_KEY": "sandbox-key", "TRIALS_URL": trials_service.url, "COLLECTOR_PACING_TRIALS": 0,
           "LOG_DIR": str(collector_config["LOG_DIR"]), "VAR_DIR": str(collector_config["VAR_DIR"]),
           # The broker (message_broker): Redis, or RabbitMQ on this test's own queues.
           "COLLECTOR_BROKER_URL": collector_config.get("COLLECTOR_BROKER_URL", ""),
           "COLLECTOR_QUEUES": ",".join(collector_config.get("COLLECTOR_QUEUES", ["default", "bulk"])),
           "COLLECTOR_DUMP_QUEUE": collector_config.get("COLLECTOR_DUMP_QUEUE", "dumps")}
    port = free_port()
    api = live_process(flask_app("services.collector", port), env=env, port=port, name="collector")
    live_process(collector_worker(4),
                 env=env, name="worker")
    return api


def cli(api_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.collector", "--url", api_url, *args], check=False,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


@over_every_broker
def test_cli_start_wait_fills_the_trials_service(stack, trials_service):
    result = cli(stack.url, "start", "trials", "per_page=50", "--wait", "--poll", "0.2")
    assert result.returncode == 0, result.stderr
    assert "trials_collect completed" in result.stderr
    assert '"created": 145' in result.stderr
    assert trials_count(trials_service.url) == 145


def test_cli_exits_non_zero_when_the_task_fails(stack, sandbox):
    requests.post(sandbox.url + "/_sandbox/odcloud/mode", json={"quota_exceeded": True}, timeout=5)
    result = cli(stack.url, "start", "trials", "--wait", "--poll", "0.2")
    assert result.returncode == 1
    assert "trials_collect failed" in result.stderr and "code -10" in result.stderr
    refused = cli(stack.url, "start", "trials", "per_page=0")
    assert refused.returncode == 1 and "per_page" in refused.stderr


def test_a_client_loop_start_then_poll(stack, trials_service):
    """What existing client scripts do: POST start, then GET the task every few seconds."""
    api = stack.url + "/api/v1/async-collection"
    started = requests.post(f"{api}/trials/start", json={"per_page": 100}, timeout=10)
    assert started.status_code == 202
    task_id = started.json()["task_id"]

    def final():
        task = requests.get(f"{api}/task/{task_id}", timeout=10).json()
        return task if task["status"] in ("completed", "failed", "cancelled") else None

    task = wait_for(final, timeout=300, interval=2.0, what="the task to end")  # "every few seconds"
    assert task["status"] == "completed"
    assert trials_count(trials_service.url) == 145


def test_dashboard_lists_tasks_and_has_a_start_form(stack):
    api = stack.url + "/api/v1/async-collection"
    task_id = requests.post(f"{api}/trials/start", json={"countdown": 600}, timeout=10).json()["task_id"]
    page = requests.get(stack.url + "/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert f'data-id="{task_id}"' in page.text
    assert 'data-source="trials"' in page.text and 'name="per_page"' in page.text
    assert 'type="password"' in page.text  # the secret service_key field
    assert requests.get(stack.url + "/dashboard-static/dashboard.js", timeout=10).status_code == 200
    sources = requests.get(f"{api}/sources", timeout=10).json()
    assert sources[0]["name"] == "trials" and sources[0]["schedule"]["timezone"] == "Asia/Seoul"
    assert sources[0]["params"]["per_page"]["type"] == "integer"


def test_schedule_runs_trials_daily_at_midnight_seoul_once_per_slot(app):
    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"collect-trials", "reap", "purge"} <= set(jobs)
    trigger = jobs["collect-trials"].trigger
    assert isinstance(trigger, CronTrigger) and str(trigger.timezone) == "Asia/Seoul"
    fire = trigger.get_next_fire_time(None, datetime.fromisoformat("2026-03-01T12:00:00+09:00"))
    assert fire.isoformat() == "2026-03-02T00:00:00+09:00"

    first = start_scheduled(app, "trials", {}, fire)
    assert start_scheduled(app, "trials", {}, fire) == first  # a second scheduler or a replay starts nothing new
    assert app.test_client().get("/api/v1/async-collection/tasks").json["count"] == 1
