"""Caller-chosen database URLs: options from a fixed list, LOCAL INFILE off at the driver (a fake
MySQL server asks for /etc/passwd and must get nothing), our timeouts (a tarpit that never
answers), and the connection made to the checked address."""
from __future__ import annotations

import os
import threading

import pymysql
import pytest
from pymysql.constants import CLIENT
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.collector import database_urls
from services.collector.database_urls import DatabaseUrlRefused, Timeouts, check_url, open_engine
from services.collector.outbound import OutboundPolicy, OutboundRefused
from tests.support.listeners import LOCAL_FILES, FakeMySQL, RecordingListener, Tarpit

LOOPBACK = OutboundPolicy.parse("127.0.0.0/8")
SHORT = Timeouts(connect=2, read=2, statement=2)


@pytest.mark.parametrize("url, option", [
    ("mysql://u:p@127.0.0.1:3306/db?local_infile=1", "local_infile"),
    ("mysql://u:p@127.0.0.1/db?unix_socket=/var/run/mysqld/mysqld.sock", "unix_socket"),
    ("mysql://u:p@127.0.0.1/db?init_command=SELECT+1", "init_command"),
    ("mysql://u:p@127.0.0.1/db?read_default_file=/etc/mysql/my.cnf", "read_default_file"),
    ("mysql://u:p@127.0.0.1/db?client_flag=128", "client_flag"),
    ("mariadb://u:p@127.0.0.1/db?ssl_key=/srv/key.pem", "ssl_key"),
    ("postgresql://u:p@127.0.0.1/db?host=/some/dir", "host"),
    ("postgresql://u:p@127.0.0.1/db?hostaddr=10.0.0.5", "hostaddr"),
    ("postgresql://u:p@127.0.0.1/db?options=-c%20statement_timeout%3D0", "options"),
    ("postgresql://u:p@127.0.0.1/db?sslkey=/srv/key.pem&sslpassword=pw", "sslkey"),
    ("postgresql://u:p@127.0.0.1/db?passfile=/root/.pgpass", "passfile"),
    ("postgresql://u:p@127.0.0.1/db?service=prod", "service"),
    ("sqlite:////tmp/x.sqlite3?uri=true", "uri"),
])
def test_options_off_the_list_are_refused_by_name(url, option):
    with pytest.raises(DatabaseUrlRefused, match=f"Option '{option}' is not allowed"):
        check_url(url, LOOPBACK)
    with pytest.raises(DatabaseUrlRefused, match=f"Option '{option}' is not allowed"):
        open_engine(url, LOOPBACK, SHORT)   # the same check where the (sealed) URL is used


@pytest.mark.parametrize("url", [
    "postgresql://u:p@127.0.0.1/db?sslmode=require&application_name=labels&connect_timeout=5",
    "postgresql://u:p@127.0.0.1/db?options=-csearch_path%3Dlt_user_1",
    "mysql://u:p@127.0.0.1/db?charset=utf8mb4", "mariadb://u@127.0.0.1:3307/db?collation=utf8mb4_bin",
])
def test_options_on_the_list_are_accepted(url):
    assert check_url(url, LOOPBACK).host == "127.0.0.1"


def test_values_out_of_shape_and_repeated_options_are_refused():
    for url in ("postgresql://u@127.0.0.1/db?sslmode=bogus", "mysql://u@127.0.0.1/db?charset=utf8;DROP",
                "postgresql://u@127.0.0.1/db?sslmode=require&sslmode=disable"):
        with pytest.raises(DatabaseUrlRefused, match="is not allowed with this value"):
            check_url(url, LOOPBACK)


def test_hosts_off_the_list_are_refused_before_any_connection():
    with RecordingListener("127.0.0.2") as listener:
        for url in (f"postgresql://u:p@127.0.0.2:{listener.port}/db", f"mysql://u:p@127.0.0.2:{listener.port}/db",
                    "postgresql://u:p@169.254.169.254/db", "mysql://u@[fe80::1]/db",
                    "postgresql://u:p@%2Fvar%2Frun%2Fpostgresql/db"):
            with pytest.raises(OutboundRefused, match=r"^not allowed$"):
                check_url(url, OutboundPolicy.parse("127.0.0.1/32, 169.254.0.0/16"))
            with pytest.raises(OutboundRefused, match=r"^not allowed$"):
                open_engine(url, OutboundPolicy.parse("127.0.0.1/32"), SHORT)
        assert listener.count == 0


def test_a_mysql_server_asking_for_a_local_file_gets_nothing():
    with FakeMySQL("/etc/passwd") as server:
        engine = open_engine(f"mysql://root:pw@127.0.0.1:{server.port}/db", LOOPBACK, SHORT, one_shot=True)
        with pytest.raises(Exception, match="local_infile"), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        record = server.connections[0]
        assert record.get("asked") is True                      # the server did ask for the file
        assert record["client_flags"] & LOCAL_FILES == 0        # the client never offered LOCAL INFILE
        assert b"root:" not in record["received"] and record["received"] in (b"", b"\x01")  # nothing, or QUIT


def test_the_fake_server_does_get_the_file_from_a_client_that_allows_it():
    """The control for the test above: PyMySQL with local_infile=True sends /etc/passwd."""
    with FakeMySQL("/etc/passwd") as server:
        connection = pymysql.connect(host="127.0.0.1", port=server.port, user="root", password="", database="db",
                                     local_infile=True, init_command="SET time_zone = '+00:00'", connect_timeout=5,
                                     read_timeout=5)
        connection.close()
        assert b"root:" in server.connections[0]["received"]


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_a_database_that_accepts_and_never_answers_fails_within_our_timeouts(scheme):
    with Tarpit() as tarpit:
        engine = open_engine(f"{scheme}://u:pw@127.0.0.1:{tarpit.port}/db", LOOPBACK, SHORT, one_shot=True)
        outcome = {}

        def connect():
            try:
                engine.connect().close()
            except Exception as exc:  # the timeout, as the driver words it
                outcome["error"] = exc

        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(60)       # generous: the timeouts are 2 s; without them this would hang until the peer closes
        assert not thread.is_alive() and "error" in outcome
        assert tarpit.count == 1


PG_URL = os.environ.get("TEST_DATABASE_URL")
MYSQL_URL = os.environ.get("TEST_MYSQL_URL")
SERVERS = ([pytest.param(PG_URL, id="postgresql")] if PG_URL else []) \
    + ([pytest.param(MYSQL_URL, id="mysql")] if MYSQL_URL else [])


class RebindingResolver:
    """Answers 127.0.0.1 once, then the metadata address: only the first answer may be used."""

    def __init__(self):
        self.calls = 0

    def __call__(self, host, port):
        self.calls += 1
        return ["127.0.0.1"] if self.calls == 1 else ["169.254.169.254"]


@pytest.mark.parametrize("server_url", SERVERS)
def test_a_real_server_is_reached_at_the_checked_address_with_our_settings(server_url):
    resolver = RebindingResolver()
    policy = OutboundPolicy.parse("db.rebind.invalid", resolver=resolver)
    url = make_url(server_url).set(host="db.rebind.invalid").render_as_string(hide_password=False)
    engine = open_engine(url, policy, Timeouts(connect=5, read=30, statement=7.5), one_shot=True)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
            raw = connection.connection.dbapi_connection
            if engine.dialect.name == "postgresql":
                assert connection.scalar(text("SHOW statement_timeout")) == "7500ms"
                assert raw.info.host == "db.rebind.invalid" and raw.info.hostaddr == "127.0.0.1"
            else:
                assert raw.client_flag & CLIENT.LOCAL_FILES == 0 and raw._local_infile is False
                assert raw._read_timeout == 30 and raw._write_timeout == 30
    finally:
        engine.dispose()
    assert resolver.calls == 1


def test_the_allowed_options_are_a_short_fixed_list():
    assert set(database_urls.OPTIONS["mysql"]) == {"charset", "collation", "connect_timeout"}
    assert "host" not in database_urls.OPTIONS["postgresql"] and "hostaddr" not in database_urls.OPTIONS["postgresql"]
