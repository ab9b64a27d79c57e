"""DriverStatement answers what SQLAlchemy's own execution answers for the same select: the same
rows through the same type processors, parameters bound the same way, and driver errors raised
as the SQLAlchemy errors the services handle (an OperationalError is a 503); a write with
RETURNING runs inside the caller's transaction and stores what SQLAlchemy would have stored."""
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (Column, Integer, MetaData, String, Table, bindparam, create_engine, func, insert, select,
                        update)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from shared.db import DriverConnection, DriverStatement, UTCDateTime, dispose_read_engine, normalise_database_url
from tests.support.databases import BACKENDS, fresh_postgres_schema

metadata = MetaData()
things = Table("driver_select_things", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)),
               Column("seen_at", UTCDateTime()))
SEEN = [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 5, 13, 3, 0, 41, 512907, tzinfo=UTC), None]


@pytest.fixture
def engine(database_url_for):
    engine = create_engine(normalise_database_url(database_url_for("driver_select")))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(things), [{"id": n, "name": f"thing {n}", "seen_at": seen} for n, seen in enumerate(SEEN)])
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


def core_rows(engine, stmt, params):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(stmt, params)]


@pytest.mark.parametrize(("stmt", "params"), [
    (select(things).order_by(things.c.id), {}),
    (select(things).where(things.c.name == bindparam("name", type_=String)), {"name": "thing 1"}),
    # An anonymous literal (id > 0) beside named parameters, one of them used twice.
    (select(things.c.name, things.c.seen_at).where(things.c.id > 0, things.c.id != bindparam("skip", type_=Integer),
                                                   things.c.id <= bindparam("skip", type_=Integer) + 1)
     .order_by(things.c.id.desc()).limit(bindparam("limit", type_=Integer)), {"skip": 1, "limit": 5}),
    (select(things).where(things.c.seen_at >= bindparam("since", type_=UTCDateTime())),
     {"since": datetime(2026, 5, 13, 9, 0, tzinfo=timezone(timedelta(hours=9)))}),  # 00:00 UTC
    (select(func.count(), func.min(things.c.seen_at)), {}),
])
def test_rows_are_what_sqlalchemy_answers(engine, stmt, params):
    expected = core_rows(engine, stmt, params)
    with DriverConnection(engine) as conn:
        assert DriverStatement(stmt).rows(conn, params) == expected
    assert expected  # each case reads something


def test_times_come_back_aware_in_utc(engine):
    with DriverConnection(engine) as conn:
        assert [row[0] for row in DriverStatement(select(things.c.seen_at).order_by(things.c.id)).rows(conn)] == SEEN


def test_first_and_scalar(engine):
    read = DriverStatement(select(things.c.name).where(things.c.id == bindparam("id", type_=Integer)))
    with DriverConnection(engine) as conn:
        assert read.first(conn, {"id": 2}) == ("thing 2",)
        assert read.scalar(conn, {"id": 2}) == "thing 2"
        assert read.first(conn, {"id": 99}) is None


def test_driver_errors_are_sqlalchemy_errors(engine):
    missing = Table("driver_select_missing", MetaData(), Column("id", Integer))
    with DriverConnection(engine) as conn, pytest.raises((OperationalError, ProgrammingError)) as raised:
        DriverStatement(select(missing)).rows(conn)
    assert "driver_select_missing" in str(raised.value)


def test_a_write_runs_in_the_callers_transaction_and_stores_what_sqlalchemy_would(engine):
    written = datetime(2026, 5, 13, 9, 0, 41, 7, tzinfo=timezone(timedelta(hours=9)))
    add = DriverStatement(insert(things).returning(things.c.id, things.c.seen_at))
    with engine.connect() as conn:
        conn.begin()
        assert add.first_in(conn, {"id": 10, "name": "ten", "seen_at": written}) == (10, written)
        rename = DriverStatement(update(things).where(things.c.id == bindparam("key", type_=Integer))
                                 .values(name=bindparam("new", type_=String)).returning(things.c.name))
        assert rename.first_in(conn, {"key": 10, "new": "TEN"}) == ("TEN",)
        assert rename.first_in(conn, {"key": 99, "new": "none"}) is None
        conn.rollback()  # nothing of it stays: it ran in this transaction
    assert core_rows(engine, select(things).where(things.c.id == 10), {}) == []
    with engine.begin() as conn:
        add.first_in(conn, {"id": 11, "name": "eleven", "seen_at": written})
    with engine.connect() as conn:  # stored as Core stores it: the raw column reads back the same UTC value
        raw = conn.exec_driver_sql("SELECT seen_at FROM driver_select_things WHERE id = 11").scalar()
        conn.execute(insert(things), {"id": 12, "name": "twelve", "seen_at": written})
        conn.commit()
        assert conn.exec_driver_sql("SELECT seen_at FROM driver_select_things WHERE id = 12").scalar() == raw


def test_a_duplicate_key_is_an_integrity_error(engine):
    with engine.connect() as conn, pytest.raises(IntegrityError):
        conn.begin()
        DriverStatement(insert(things).returning(things.c.id)).first_in(conn, {"id": 1, "name": "1", "seen_at": None})


def test_in_lists_are_refused_when_compiled(engine):
    with DriverConnection(engine) as conn, pytest.raises(ValueError, match="plain bound parameters"):
        DriverStatement(select(things).where(things.c.id.in_([1, 2]))).rows(conn)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL only: set TEST_DATABASE_URL")
def test_a_connection_the_server_closed_is_replaced_and_the_read_answers(worker_id):
    """The read engine pings nothing at checkout: the statement that meets a dead connection is run
    again on a new one. Here the server ends the pooled connection's backend between two reads."""
    engine = create_engine(normalise_database_url(fresh_postgres_schema(f"driver_select_{worker_id}")))
    backend = DriverStatement(select(func.pg_backend_pid()))
    try:
        with DriverConnection(engine) as conn:
            first = backend.scalar(conn)
        with engine.connect() as other:
            assert other.execute(select(func.pg_terminate_backend(first))).scalar() is True
        with DriverConnection(engine) as conn:  # the pool hands back the connection whose backend is gone
            second = backend.scalar(conn)
        assert second != first
    finally:
        dispose_read_engine(engine)
        engine.dispose()
