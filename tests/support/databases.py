"""Test databases: a SQLite file per test, or a fresh PostgreSQL schema per test when
TEST_DATABASE_URL is set."""
from __future__ import annotations

import os

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
