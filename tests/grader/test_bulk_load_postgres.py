"""The PostgreSQL load path: straight COPY when the window is new, the staging path when it is
not, and the fall-back when a concurrent load stores the same rows during the COPY."""
from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy.engine import make_url

from services.grader import create_app
from services.grader.models import db
from tests.support.auth import AUTH
from tests.support.databases import BACKENDS, fresh_postgres_schema, migrate
from tests.support.grader import DAY, attempt, grader_config, post_batch
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL only: set TEST_DATABASE_URL")


@pytest.fixture
def postgres_client(tmp_path, worker_id):
    url = fresh_postgres_schema(f"test_grader_load_{worker_id}")
    migrate("grader", url, tmp_path)
    app = create_app(grader_config(url, tmp_path))
    yield app.test_client(), url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def connect(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False),
                           options=parsed.query["options"])


def test_new_and_overlapping_batches(postgres_client):
    client, _ = postgres_client
    assert post_batch(client, DAY[:3]).json["inserted"] == 3            # a new span: straight COPY
    overlapping = post_batch(client, DAY)                              # the span holds rows: staging path
    assert (overlapping.json["inserted"], overlapping.json["duplicates"]) == (3, 3)
    assert client.get("/attempts").json["count"] == 6


def test_a_concurrent_load_of_the_same_rows_is_not_an_error(postgres_client):
    client, url = postgres_client
    rows = [attempt(f"u{i}", "run", None, f"2024-03-05T10:{i:02d}:00+00:00") for i in range(50)]
    with connect(url) as other:
        # Another loader holds one of the rows in an open transaction: our EXISTS check cannot see it,
        # so our COPY runs into it and waits on the unique index.
        other.execute("INSERT INTO attempts (user_id, attempt_type, created_at) VALUES ('u7', 'run', "
                      "'2024-03-05T10:07:00+00:00')")
        result = {}
        loader = threading.Thread(target=lambda: result.update(post_batch(client, rows).json))
        loader.start()
        with connect(url) as watcher:
            wait_for(lambda: watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0],
                     timeout=30, interval=0.02, what="the batch to wait on the other transaction")
        other.commit()
        loader.join(30)
    assert result == {"received": 50, "inserted": 49, "duplicates": 1, "rejected": []}
    assert client.get("/attempts", query_string={"per_page": 1}).json["count"] == 50
    assert client.post("/attempts/batch", json={"records": rows}, headers=AUTH).json["duplicates"] == 50
