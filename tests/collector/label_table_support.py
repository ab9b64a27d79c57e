"""What the label_table tests share: the user's database (one per test, on each backend that is
available), the input tables they create, and readers of the output."""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import Engine, make_url

from services.collector.label_table import labeler
from tests.support.databases import drop_postgres_schema, fresh_postgres_schema

API = "/api/v1/async-collection"
OUTPUT_COLUMNS = ("id", "labels", "matched_terms", "labeled_at")
MYSQL_URL = os.environ.get("TEST_MYSQL_URL")      # e.g. mysql+pymysql://root@127.0.0.1:3306/test
USER_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else []) \
    + (["mysql"] if MYSQL_URL else [])


@dataclass
class UserDatabase:
    backend: str
    url: str             # as the user gives it in a start body
    engine: Engine       # the test's own connection, to build inputs and read outputs
    posts: str
    output: str


@pytest.fixture(autouse=True)
def sqlite_dir(app, tmp_path):
    """SQLite files are accepted under COLLECTOR_DUMP_SQLITE_DIR only."""
    folder = tmp_path / "dumps"
    folder.mkdir(exist_ok=True)
    app.config["COLLECTOR_DUMP_SQLITE_DIR"] = str(folder)
    return folder


@pytest.fixture(autouse=True)
def fresh_labeling_process():
    """A test starts without a labeling process in this process (the in-process worker's), and leaves none."""
    labeler.PROCESS.shutdown()
    yield labeler.PROCESS
    labeler.PROCESS.shutdown()


@pytest.fixture(params=USER_BACKENDS)
def user_db(request, sqlite_dir):
    suffix = uuid.uuid4().hex[:8]
    backend, cleanup = request.param, None
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_dir / f'user-{suffix}.sqlite3'}"
    elif backend == "postgresql":
        # Unique, not per xdist worker: another session may run these tests on the same server.
        url, cleanup = fresh_postgres_schema(f"lt_user_{suffix}"), lambda: drop_postgres_schema(f"lt_user_{suffix}")
    else:
        url, cleanup = fresh_mysql_database(f"lt_{suffix}")
    drivers = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "sqlite": "sqlite"}
    engine = create_engine(make_url(url).set(drivername=drivers[backend]))
    yield UserDatabase(backend, url, engine, f"posts_{suffix}", f"labels_{suffix}")
    engine.dispose()
    if cleanup:
        cleanup()


def mysql_server() -> Engine:
    return create_engine(make_url(MYSQL_URL).set(drivername="mysql+pymysql"))


def fresh_mysql_database(name: str):
    server = mysql_server()
    with server.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}`"))

    def drop():
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    url = make_url(MYSQL_URL).set(database=name)
    return url.set(drivername=url.drivername.split("+")[0]).render_as_string(hide_password=False), drop


def make_posts(engine: Engine, name: str, rows: list[tuple]) -> None:
    """A table (post_id, body, writer, posted_at) holding `rows`."""
    table = Table(name, MetaData(), Column("post_id", Integer, primary_key=True, autoincrement=False),
                  Column("body", Text), Column("writer", String(50)), Column("posted_at", DateTime))
    table.create(engine)
    with engine.begin() as connection:
        columns = ("post_id", "body", "writer", "posted_at")
        connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


def dump_rows(engine: Engine, name: str) -> list[dict]:
    table = Table(name, MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(table.select().order_by(*table.primary_key.columns))]


def read_labels(engine: Engine, name: str) -> dict:
    """{id: (labels, matched_terms)} of an output table (JSON columns may come back as text)."""
    def value(raw):
        return json.loads(raw) if isinstance(raw, str) else raw

    return {row["id"]: (value(row["labels"]), value(row["matched_terms"])) for row in dump_rows(engine, name)}


PRICE_RULES = {"model": "keyword", "labels": {"price": ["가격"]}}


def start_body(url: str, table: str = "posts", output: str = "labels") -> dict:
    """A label_table start body over `table` (body, post_id, posted_at) in January 2026."""
    return {"input": {"database_url": url, "table": table, "text_column": "body", "id_column": "post_id",
                      "time_column": "posted_at"},
            "start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z", "rules": PRICE_RULES,
            "output": {"table": output}}
