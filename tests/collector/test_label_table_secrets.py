"""label_table and the passwords in database URLs: never stored in clear, returned or logged,
and a connection failure fails the task with a message naming the host."""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from services.collector.models import Task, TaskLog, db
from tests.collector.label_table_support import (
    API,
    MYSQL_URL,
    fresh_mysql_database,
    make_posts,
    mysql_server,
    read_labels,
    sqlite_dir,  # noqa: F401 (an autouse fixture)
    start_body,
)
from tests.support.collector import start, wait_status
from tests.support.processes import free_port

def everything_shown_and_stored(app, client, task_id: str) -> str:
    """Every place a password could leak to but the logs: the API's answers, the task's rows."""
    shown = [client.get(f"{API}/task/{task_id}").get_data(as_text=True),
             client.get(f"{API}/task/{task_id}/logs?per_page=100").get_data(as_text=True),
             client.get(f"{API}/tasks").get_data(as_text=True),
             client.get(f"{API}/task/{task_id}/sample").get_data(as_text=True)]
    with app.app_context():
        row = db.session.get(Task, task_id)
        stored = [json.dumps({column.name: getattr(row, column.name) for column in Task.__table__.columns},
                             default=str)]
        stored += db.session.scalars(select(TaskLog.message).where(TaskLog.task_id == task_id)).all()
    return "\n".join(shown + stored)


def service_logs(log_dir) -> str:
    return "\n".join(path.read_text() for path in log_dir.glob("*.log"))


def test_an_unreachable_database_fails_the_task_naming_the_host_not_the_password(app, client, worker, tmp_path):
    password = "S3cr#t/pw@x-" + uuid.uuid4().hex[:6]
    port = free_port()   # nothing listens there
    url = f"postgresql://analyst:{quote(password, safe='')}@127.0.0.1:{port}/posts"
    worker(threads=1)
    task = wait_status(client, start(client, "label_table", **start_body(url)), {"completed", "failed"})

    assert task["status"] == "failed"
    assert f"Cannot connect to the input database (postgresql 127.0.0.1:{port}/posts as analyst)" in task["error"]
    assert task["params"]["input"]["database_url"] == f"postgresql://analyst:***@127.0.0.1:{port}/posts"
    sample = client.get(f"{API}/task/{task['id']}/sample")
    assert sample.status_code == 502 and f"127.0.0.1:{port}" in sample.json["message"]
    seen, logs = everything_shown_and_stored(app, client, task["id"]), service_logs(tmp_path / "log")
    assert f"task {task['id']}: Failed: Cannot connect to the input database" in logs
    for text_ in (seen, logs):
        assert password not in text_ and quote(password, safe="") not in text_


def test_a_task_not_started_has_an_empty_sample_whatever_its_database(client):
    """Nothing is labeled before a worker starts the task: no 502 for a database it has not reached yet
    (the documented label_table example starts such a task, and the fuzzer then asks for its sample)."""
    url = f"postgresql://analyst:pw@127.0.0.1:{free_port()}/posts"   # nothing listens there
    task_id = start(client, "label_table", countdown=3600, **start_body(url))
    for status in ("pending", "cancelled"):
        sample = client.get(f"{API}/task/{task_id}/sample")
        assert sample.status_code == 200, sample.json
        assert (sample.json["status"], sample.json["count"], sample.json["data"]) == (status, 0, [])
        assert sample.json["table"] == "lt_stage_" + task_id.replace("-", "")
        client.delete(f"{API}/task/{task_id}")


def test_a_password_the_redaction_would_miss_is_refused(client):
    response = client.post(f"{API}/label_table/start",
                           json=start_body("postgresql://analyst:two words@db.example/posts"))
    assert response.status_code == 422
    assert "database_url" in response.json["errors"]["json"]["input"]
    assert "two words" not in response.get_data(as_text=True)
    assert client.get(f"{API}/tasks").json["count"] == 0


@pytest.fixture
def mysql_db():
    """A fresh MariaDB/MySQL database and a user with a password allowed into it."""
    url, drop_database = fresh_mysql_database(f"lt_{uuid.uuid4().hex[:8]}")
    name, password = f"lt_{uuid.uuid4().hex[:8]}", "right-Pa55-" + uuid.uuid4().hex[:6]
    database = make_url(url).database
    server = mysql_server()
    with server.begin() as connection:
        for host in ("%", "localhost"):
            connection.execute(text(f"CREATE USER IF NOT EXISTS '{name}'@'{host}' IDENTIFIED BY '{password}'"))
            connection.execute(text(f"GRANT ALL ON `{database}`.* TO '{name}'@'{host}'"))
    engine = create_engine(make_url(url).set(drivername="mysql+pymysql"))
    yield make_url(url), engine, name, password
    engine.dispose()
    with server.begin() as connection:
        for host in ("%", "localhost"):
            connection.execute(text(f"DROP USER IF EXISTS '{name}'@'{host}'"))
    server.dispose()
    drop_database()


@pytest.mark.skipif(not MYSQL_URL, reason="needs TEST_MYSQL_URL (a MariaDB or MySQL server)")
def test_a_wrong_mysql_password_fails_without_showing_it_and_the_right_one_works(app, client, worker, mysql_db,
                                                                                 tmp_path):
    url, engine, name, password = mysql_db
    make_posts(engine, "posts", [(1, "가격", "kim", datetime(2026, 1, 5))])
    host = f"{url.host}:{url.port or 3306}/{url.database}"
    wrong = "wrong-Pa55-" + uuid.uuid4().hex[:6]
    worker(threads=1)
    failed = wait_status(client, start(client, "label_table", **start_body(
        f"mysql://{name}:{wrong}@{host}")), {"completed", "failed"})

    assert failed["status"] == "failed"
    assert f"Cannot connect to the input database (mysql {host} as {name})" in failed["error"]
    assert "Access denied" in failed["error"]
    seen, logs = everything_shown_and_stored(app, client, failed["id"]), service_logs(tmp_path / "log")
    assert f"task {failed['id']}: Failed: Cannot connect" in logs and "Access denied" in logs
    assert wrong not in seen and wrong not in logs

    worked = wait_status(client, start(client, "label_table", **start_body(
        f"mysql://{name}:{password}@{host}")), {"completed", "failed"})
    assert worked["status"] == "completed", worked["error"]
    assert read_labels(engine, "labels") == {1: (["price"], {"price": ["가격"]})}
    sample = client.get(f"{API}/task/{worked['id']}/sample").json
    assert sample["data"][0]["text"] == "가격"
    seen, logs = everything_shown_and_stored(app, client, worked["id"]), service_logs(tmp_path / "log")
    assert f"task {worked['id']}: 1 rows labeled" in logs
    assert password not in seen and password not in logs
