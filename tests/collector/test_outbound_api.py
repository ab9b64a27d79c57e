"""Issue 13, items 1, 3, 5 and 9 through the API: the targets a caller names (callback_url, dump
and label_table databases, sample reads) are checked against COLLECTOR_OUTBOUND_ALLOW, refused
targets are never connected to, a MySQL server asking for a local file gets nothing, a database
that never answers cannot take the API down, and a callback URL's credentials are sealed."""
from __future__ import annotations

import base64
import json
import sys
import threading

import pytest
import requests
from sqlalchemy import select

from services.collector.models import Task, TaskLog, db
from tests.support.collector import start, wait_status
from tests.collector.label_table_support import API, sqlite_dir  # noqa: F401 (an autouse fixture)
from tests.collector.label_table_support import start_body
from tests.support.listeners import FakeMySQL, RecordingListener, Tarpit
from tests.support.processes import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def listener():
    with RecordingListener() as server:
        yield server


@pytest.fixture
def other_host_listener():
    """A listener on 127.0.0.2, outside an allowlist of 127.0.0.1/32."""
    with RecordingListener("127.0.0.2") as server:
        yield server


def lines_of(client, task_id: str) -> list[str]:
    return [line["message"] for line in client.get(f"{API}/task/{task_id}/logs?per_page=100").json["data"]]


@pytest.mark.parametrize("url, option", [
    ("mysql://u:p@127.0.0.1:3306/db?local_infile=1", "local_infile"),
    ("postgresql://u:p@127.0.0.1:5432/db?host=/some/dir", "host"),
    ("postgresql://u:p@127.0.0.1:5432/db?hostaddr=10.0.0.1", "hostaddr"),
    ("mysql://u:p@127.0.0.1/db?unix_socket=/run/mysqld/mysqld.sock", "unix_socket"),
    ("mysql://u:p@127.0.0.1/db?init_command=SELECT+1", "init_command"),
    ("mysql://u:p@127.0.0.1/db?read_default_file=/etc/my.cnf", "read_default_file"),
    ("postgresql://u:p@127.0.0.1/db?options=-c+statement_timeout%3D0", "options"),
    ("postgresql://u@127.0.0.1/db?sslkey=/k.pem&sslpassword=kp-secret-1", "sslkey"),
])
def test_driver_options_off_the_list_are_422_naming_them(client, url, option):
    response = client.post(f"{API}/label_table/start", json=start_body(url))
    assert response.status_code == 422, response.json
    message = response.json["errors"]["json"]["input"]["database_url"][0]
    assert f"Option '{option}' is not allowed" in message
    assert "kp-secret-1" not in response.get_data(as_text=True)
    assert client.get(f"{API}/tasks").json["count"] == 0


def test_a_dump_url_with_a_refused_option_is_422_naming_it(client):
    task_id = start(client, countdown=3600)
    response = client.post(f"{API}/task/{task_id}/dump", json={
        "database_url": "mysql://root:pw@127.0.0.1:3306/test?local_infile=1", "table": "items"})
    assert response.status_code == 422, response.json
    assert "Option 'local_infile' is not allowed" in response.json["errors"]["json"]["database_url"][0]


def test_refused_hosts_are_422_and_never_connected_to(app, client, other_host_listener):
    app.config["COLLECTOR_OUTBOUND_ALLOW"] = ["127.0.0.1/32"]
    port = other_host_listener.port
    for url in (f"postgresql://u:p@127.0.0.2:{port}/db", "mysql://u:p@169.254.169.254/db",
                "postgresql://u:p@metadata.google.internal/db"):
        response = client.post(f"{API}/label_table/start", json=start_body(url))
        assert response.status_code == 422, response.json
        assert "not allowed" in response.json["errors"]["json"]["input"]["database_url"][0]
    for callback in (f"http://127.0.0.2:{port}/done", "http://169.254.169.254/latest/meta-data/",
                     "http://[fe80::1]/x"):
        response = client.post(f"{API}/trials/start", json={"callback_url": callback})
        assert response.status_code == 422, response.json
        assert "not allowed" in response.json["errors"]["json"]["callback_url"][0]
    assert other_host_listener.count == 0 and client.get(f"{API}/tasks").json["count"] == 0


def test_a_callback_to_a_name_outside_the_list_is_refused_when_it_is_sent(app, client, worker, listener):
    """`localhost` passes the start check (a name: only its addresses can decide) and is refused
    at delivery, where it resolves to 127.0.0.1 and the list holds 127.0.0.2 only."""
    app.config.update(COLLECTOR_OUTBOUND_ALLOW=["127.0.0.2/32"], COLLECTOR_CALLBACK_RETRIES=0)
    worker(threads=2)
    task_id = start(client, countdown=3600, callback_url=f"http://localhost:{listener.port}/done")
    client.delete(f"{API}/task/{task_id}")
    line = wait_for(lambda: next((line for line in lines_of(client, task_id) if "Callback" in line), None),
                    what="the callback's log line")
    assert line == f"Callback to http://localhost:{listener.port}/done: not allowed"
    assert listener.count == 0


def test_a_callback_url_s_credentials_are_sealed_and_still_sent(app, client, worker, listener):
    app.config["COLLECTOR_OUTBOUND_ALLOW"] = [f"127.0.0.1:{listener.port}"]
    worker(threads=2)
    url = f"http://hook:pw-cb-secret@127.0.0.1:{listener.port}/done?token=tk-cb-secret&id=7"
    task_id = start(client, countdown=3600, callback_url=url)
    client.delete(f"{API}/task/{task_id}")
    wait_for(lambda: listener.count == 1 and b"\r\n\r\n" in listener.connections[0]["received"],
             what="the callback")
    request = listener.connections[0]["received"].decode(errors="replace")
    assert request.startswith("POST /done?token=tk-cb-secret&id=7 ")
    assert f"Authorization: Basic {base64.b64encode(b'hook:pw-cb-secret').decode()}" in request
    with app.app_context():
        row = db.session.get(Task, task_id)
        stored = json.dumps({c.name: getattr(row, c.name) for c in Task.__table__.columns}, default=str)
        stored += "\n".join(db.session.scalars(select(TaskLog.message).where(TaskLog.task_id == task_id)))
    shown = client.get(f"{API}/task/{task_id}").get_data(as_text=True) + "\n".join(lines_of(client, task_id))
    for secret in ("pw-cb-secret", "tk-cb-secret"):
        assert secret not in stored and secret not in shown
    assert f"Callback to http://hook:***@127.0.0.1:{listener.port}/done?token=***&id=7: HTTP 200" in \
        lines_of(client, task_id)


def test_a_dump_to_a_mysql_server_asking_for_a_local_file_sends_nothing(client, worker):
    with FakeMySQL("/etc/passwd") as server:
        worker(threads=2)
        task_id = start(client, countdown=3600)
        response = client.post(f"{API}/task/{task_id}/dump",
                               json={"database_url": f"mysql://root:pw@127.0.0.1:{server.port}/db", "table": "items"})
        assert response.status_code == 202, response.json
        dump = wait_for(lambda: (state := client.get(f"{API}/dump/{response.json['id']}").json)["status"]
                        in ("completed", "failed") and state, what="the dump to end")
        assert dump["status"] == "failed"
        assert server.connections and server.connections[0].get("asked") is True
        assert all(b"root:" not in record["received"] for record in server.connections)


def test_unreachable_and_closed_look_the_same(app, client, worker):
    """A closed port and a port that accepts and never answers end with the same words."""
    app.config.update(COLLECTOR_DATABASE_CONNECT_TIMEOUT=2, COLLECTOR_DATABASE_READ_TIMEOUT=2)
    worker(threads=2)
    with Tarpit() as tarpit:
        errors = []
        for port in (free_port(), tarpit.port):
            task = wait_status(client, start(client, "label_table", **start_body(
                f"mysql://u:pw@127.0.0.1:{port}/posts")), {"completed", "failed"})
            errors.append(task["error"].replace(str(port), "PORT"))
    assert errors[0] == errors[1] and "could not connect" in errors[0]


@pytest.fixture
def collector_api(live_process, collector_config, app, tmp_path):
    """The collector API under gunicorn as `make up` runs it (deploy/gunicorn.conf.py: 2 workers x 4
    threads), on the test's database and Redis namespace, with the sample timeouts short."""
    port = free_port()
    env = {"COLLECTOR_DATABASE_URL": collector_config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": collector_config["REDIS_URL"], "COLLECTOR_NAMESPACE": collector_config["COLLECTOR_NAMESPACE"],
           "SERVICE_TOKEN": collector_config["SERVICE_TOKEN"], "VAR_DIR": tmp_path, "LOG_DIR": tmp_path / "log",
           "COLLECTOR_SAMPLE_TIMEOUT": 2, "COLLECTOR_DUMP_SQLITE_DIR": tmp_path / "dumps"}
    args = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
            "services.collector:create_app()"]
    return live_process(args, env=env, port=port, name="collector-api")


def test_eight_samples_of_a_silent_database_leave_the_api_answering(app, client, worker, collector_api):
    """Issue 13, item 5: a label_table task whose database accepts and never answers, then 8 parallel
    samples. Every sample ends with an error of its own, and /health keeps answering meanwhile."""
    app.config.update(COLLECTOR_DATABASE_CONNECT_TIMEOUT=2, COLLECTOR_DATABASE_READ_TIMEOUT=2)
    with Tarpit() as tarpit:
        worker(threads=1)
        task = wait_status(client, start(client, "label_table", **start_body(
            f"mysql://u:pw@127.0.0.1:{tarpit.port}/posts")), {"completed", "failed"})
        assert task["status"] == "failed"
        samples, healths = [], []

        def sample():
            samples.append(requests.get(f"{collector_api.url}{API}/task/{task['id']}/sample", timeout=30).status_code)

        threads = [threading.Thread(target=sample) for _ in range(8)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            # Generous: the bound is 1 s; a starved API never answers until the peer closes.
            healths.append(requests.get(f"{collector_api.url}/health", timeout=5).status_code)
        for thread in threads:
            thread.join()
    assert len(samples) == 8 and set(samples) <= {502, 503}, samples
    assert healths and set(healths) == {200}
