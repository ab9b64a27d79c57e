"""`python -m services.collector` against a real collector process over HTTP: list, watch,
logs (--follow), cancel, and where its API key comes from."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from tests.support.collector_keys import create_key
from tests.support.processes import REPO_ROOT, collector_worker, flask_app, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
API = "/api/v1/async-collection"


def process_env(collector_config, **extra) -> dict:
    return {"COLLECTOR_DATABASE_URL": collector_config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": collector_config["REDIS_URL"], "COLLECTOR_NAMESPACE": collector_config["COLLECTOR_NAMESPACE"],
            "SERVICE_TOKEN": collector_config["SERVICE_TOKEN"], "LOG_DIR": str(collector_config["LOG_DIR"]),
            "VAR_DIR": str(collector_config["VAR_DIR"]), "COLLECTOR_PACING_TRIALS": 0, **extra}


@pytest.fixture
def api(app, collector_config, live_process):
    """The collector API alone (no worker: started tasks stay pending), every caller needing a key."""
    port = free_port()
    return live_process(flask_app("services.collector", port), port=port, name="collector",
                        env=process_env(collector_config, COLLECTOR_AUTH="required"))


@pytest.fixture
def operator(app):
    return create_key(app, "operator")


def cli_env(var_dir, **extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in {"COLLECTOR_API_KEY", "COLLECTOR_URL"}}
    return {**env, "VAR_DIR": str(var_dir), **extra}


def cli(url: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.collector", "--url", url, *args], check=False,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)


def start_task(url: str, key, source: str = "trials", **body) -> str:
    response = requests.post(f"{url}{API}/{source}/start", json=body, headers=key, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def all_log_lines(url: str, key, task_id: str) -> list[str]:
    lines, page = [], 1
    while True:
        body = requests.get(f"{url}{API}/task/{task_id}/logs", params={"page": page, "per_page": 100},
                            headers=key, timeout=10).json()
        lines += [line["line"] for line in body["data"]]
        if len(lines) >= body["count"]:
            return lines
        page += 1


def test_the_key_comes_from_the_flag_the_environment_or_the_operator_key_file(app, api, operator, tmp_path):
    empty = tmp_path / "no-key-here"
    refused = cli(api.url, "list", env=cli_env(empty))
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr and "--key, COLLECTOR_API_KEY" in refused.stderr

    by_flag = cli(api.url, "--key", operator.key, "list", env=cli_env(empty))
    assert by_flag.returncode == 0, by_flag.stderr
    assert "0 tasks" in by_flag.stderr
    by_env = cli(api.url, "list", env=cli_env(empty, COLLECTOR_API_KEY=operator.key))
    assert by_env.returncode == 0, by_env.stderr

    var = tmp_path / "var"
    var.mkdir()
    (var / "collector_operator_key").write_text(operator.key + "\n")
    by_file = cli(api.url, "list", env=cli_env(var))
    assert by_file.returncode == 0, by_file.stderr
    for result in (refused, by_flag, by_env, by_file):
        assert operator.key not in result.stdout + result.stderr

    viewer = create_key(app, "viewer")
    task_id = start_task(api.url, operator, countdown=600)
    forbidden = cli(api.url, "--key", viewer.key, "cancel", task_id, env=cli_env(empty))
    assert forbidden.returncode == 1 and "HTTP 403" in forbidden.stderr


def test_list_filters_by_status_and_source_and_cancel_cancels(api, operator, tmp_path):
    env = cli_env(tmp_path, COLLECTOR_API_KEY=operator.key)
    trials_ids = [start_task(api.url, operator, countdown=600) for _ in range(2)]
    babitalk_id = start_task(api.url, operator, "babitalk", target_date="2026-11-20", countdown=600)

    cancelled = cli(api.url, "cancel", trials_ids[0], env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout.lower()
    again = cli(api.url, "cancel", trials_ids[0], env=env)
    assert again.returncode == 1 and "HTTP 409" in again.stderr and "already cancelled" in again.stderr

    listing = cli(api.url, "list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert all(task_id in listing.stdout for task_id in [*trials_ids, babitalk_id])
    assert "3 tasks (page 1 of 1)" in listing.stderr

    only_cancelled = cli(api.url, "list", "--status", "cancelled", env=env)
    assert trials_ids[0] in only_cancelled.stdout
    assert trials_ids[1] not in only_cancelled.stdout and babitalk_id not in only_cancelled.stdout
    babitalk = json.loads(cli(api.url, "list", "--source", "babitalk", "--json", env=env).stdout)
    assert [task["id"] for task in babitalk["data"]] == [babitalk_id] and babitalk["count"] == 1
    both = json.loads(cli(api.url, "list", "--status", "pending,cancelled", "--source", "trials", "--json",
                          env=env).stdout)
    assert sorted(task["id"] for task in both["data"]) == sorted(trials_ids)

    bad = cli(api.url, "list", "--status", "sleeping", env=env)
    assert bad.returncode == 1 and "HTTP 422" in bad.stderr and "status" in bad.stderr


def test_logs_prints_every_line_in_order_across_pages(app, api, operator, tmp_path):
    from services.collector.models import db
    from services.collector.tasks import add_log

    task_id = start_task(api.url, operator, countdown=600)
    with app.app_context():
        for n in range(249):  # 250 with "Task created": two full pages of 100 and a half
            add_log(task_id, f"line {n}")
        db.session.commit()
    result = cli(api.url, "logs", task_id, env=cli_env(tmp_path, COLLECTOR_API_KEY=operator.key))
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert printed == all_log_lines(api.url, operator, task_id)
    assert len(printed) == 250 and printed[-1].endswith("line 248")

    unknown = cli(api.url, "logs", "no-such-task", env=cli_env(tmp_path, COLLECTOR_API_KEY=operator.key))
    assert unknown.returncode == 1 and "HTTP 404" in unknown.stderr


def test_logs_follow_waits_for_the_end_and_prints_each_line_once(api, operator, tmp_path):
    env = cli_env(tmp_path, COLLECTOR_API_KEY=operator.key)
    task_id = start_task(api.url, operator, countdown=600)
    out_path = tmp_path / "follow.out"
    with out_path.open("w") as out:
        follow = subprocess.Popen([sys.executable, "-m", "services.collector", "--url", api.url, "logs", task_id,
                                   "--follow", "--poll", "0.1"], cwd=REPO_ROOT, env=env, stdout=out,
                                  stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "Task created on queue" in out_path.read_text(), what="the first log line")
        assert follow.poll() is None  # a pending task: it keeps following

        assert cli(api.url, "cancel", task_id, env=env).returncode == 0
        _, stderr = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, stderr
    printed = out_path.read_text().splitlines()
    assert printed == all_log_lines(api.url, operator, task_id)
    assert "Cancelled before it started" in printed[-1]
    assert "trials_collect cancelled" in stderr


@pytest.fixture
def stack(api, collector_config, sandbox, trials_service, live_process):
    """A worker beside the API, wired to the sandbox's odcloud and the trials service."""
    live_process(collector_worker(4), name="worker", env=process_env(
        collector_config, ODCLOUD_BASE_URL=sandbox.url + "/api", ODCLOUD_SERVICE_KEY="sandbox-key",
        TRIALS_URL=trials_service.url))
    return api


def test_watch_follows_an_existing_task_to_its_end(stack, operator, sandbox, tmp_path):
    env = cli_env(tmp_path, COLLECTOR_API_KEY=operator.key)
    task_id = start_task(stack.url, operator, per_page=20)
    watched = cli(stack.url, "watch", task_id, "--poll", "0.1", env=env)
    assert watched.returncode == 0, watched.stderr
    assert "trials_collect completed" in watched.stderr and '"created": 145' in watched.stderr
    # Not a terminal: the log as plain lines, each once, in order.
    lines = all_log_lines(stack.url, operator, task_id)
    assert len(lines) > 2
    positions = [watched.stderr.find(line) for line in lines]
    assert all(position >= 0 for position in positions) and positions == sorted(positions)
    assert all(watched.stderr.count(line) == 1 for line in lines)

    requests.post(sandbox.url + "/_sandbox/odcloud/mode", json={"quota_exceeded": True}, timeout=5)
    failing = start_task(stack.url, operator)
    failed = cli(stack.url, "watch", failing, "--poll", "0.1", env=env)
    assert failed.returncode == 1 and "trials_collect failed" in failed.stderr
