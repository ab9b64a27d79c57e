"""Test databases: a SQLite file per test, or a fresh PostgreSQL schema per test when
TEST_DATABASE_URL is set; empty, or migrated as production migrates them."""
from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import flask_migrate
import psycopg
from sqlalchemy.engine import make_url

from shared.db import normalise_database_url

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def postgres_base_url() -> str:
    return normalise_database_url(os.environ["TEST_DATABASE_URL"])


def _admin_conninfo() -> str:
    return make_url(postgres_base_url()).set(drivername="postgresql").render_as_string(hide_password=False)


def drop_postgres_schema(schema: str) -> None:
    """Best effort after a test: a process of the test still holding a lock (it is being
    stopped) must not fail the test; the schema is then left in the throwaway database."""
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        try:
            conn.execute("SET lock_timeout = '5s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            pass


def fresh_postgres_schema(schema: str) -> str:
    """Drop and recreate `schema`; return a URL whose connections use it as search_path."""
    base = make_url(postgres_base_url())
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def migrate(service: str, url: str, var_dir: Path) -> None:
    """Bring the database at `url` to the head of `service`'s Alembic migrations, as
    `flask db upgrade` does in production."""
    app = importlib.import_module(f"services.{service}").create_app(
        # LOG_KEEP_HANDLERS: a migration run in the middle of a test must not take over the log
        # files of the app under test (create_app would install its own handlers on the root logger).
        {"SQLALCHEMY_DATABASE_URI": url, "LOG_DIR": var_dir / "log", "VAR_DIR": var_dir, "LOG_KEEP_HANDLERS": True})
    with app.app_context():
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["sqlalchemy"].engine.dispose()


class SqliteTemplates:
    """One SQLite file per service, migrated once per test session; each test gets a copy.

    Copying a file takes about a millisecond, migrating 50-250 ms. (On PostgreSQL each test
    migrates its own fresh schema: that costs about what `create_all` did.)"""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: dict[str, Path] = {}

    def copy_to(self, service: str, url: str) -> None:
        if service not in self.files:
            template = self.directory / f"{service}.sqlite3"
            migrate(service, f"sqlite:///{template}", self.directory)
            self.files[service] = template  # disposing the engine checkpointed the WAL into the file
        shutil.copyfile(self.files[service], make_url(url).database)
