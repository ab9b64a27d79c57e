"""The databases a caller names (dump targets, label_table inputs and outputs): which URLs are
accepted, and the engines that connect to them under our rules.

A URL is checked twice. At start time (`check_url`): the scheme (PostgreSQL, MySQL/MariaDB,
SQLite), the query's driver options against a fixed list per driver (everything else, such
as `local_infile`, `host`, `hostaddr`, `unix_socket`, `init_command`, `read_default_file`
or `options` beyond a search_path, is refused and named), and the host against COLLECTOR_OUTBOUND_ALLOW as far
as that needs no DNS lookup. At connect time (`open_engine`): the same options again (the
URL comes back from the sealed params), then the host is resolved once and the driver
connects to that checked address: psycopg gets it as `hostaddr` (libpq keeps `host` for TLS
and the password file), PyMySQL gets the address itself as its host.

The timeouts are ours, never the caller's: connect, read and write timeouts for PyMySQL;
`connect_timeout` and a `statement_timeout` (passed in libpq's `options`, where callers may
only set a search_path) for psycopg. LOCAL INFILE is off at the driver: PyMySQL's `local_infile=False`
and a `client_flag` without LOCAL_FILES, so a server that asks for a file gets none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pymysql
from pymysql.constants import CLIENT
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from services.collector.outbound import OutboundPolicy

DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql",
           "mariadb": "mariadb+pymysql", "sqlite": "sqlite"}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
_WORD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECONDS = re.compile(r"^[0-9]{1,6}$")
# The driver options a caller may give, per backend, each with the values it may take.
OPTIONS = {
    "postgresql": {
        "sslmode": re.compile(r"^(disable|allow|prefer|require|verify-ca|verify-full)$"),
        "application_name": re.compile(r"^[A-Za-z0-9 ._-]{1,64}$"),
        "client_encoding": _WORD,
        "target_session_attrs": re.compile(r"^(any|read-write|read-only|primary|standby|prefer-standby)$"),
        "connect_timeout": _SECONDS,    # lowered to ours if longer
        # libpq's `options` only to choose a search_path: any other setting (statement_timeout=0...) is ours.
        "options": re.compile(r"^-c ?search_path=[A-Za-z_][A-Za-z0-9_$]*(,[A-Za-z_][A-Za-z0-9_$]*)*$"),
    },
    "mysql": {"charset": _WORD, "collation": _WORD, "connect_timeout": _SECONDS},
    "sqlite": {},
}
OPTIONS["mariadb"] = OPTIONS["mysql"]
# PyMySQL's flags as SQLAlchemy's dialect sets them (FOUND_ROWS), and never LOCAL_FILES.
MYSQL_CLIENT_FLAG = CLIENT.FOUND_ROWS


class DatabaseUrlRefused(ValueError):
    """The URL is not acceptable; the message says why (naming a refused option)."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, to wait for any one read or write, and for one statement (server side)."""

    connect: float = 10.0
    read: float = 600.0
    statement: float = 600.0


def backend_of(url: URL) -> str:
    return url.get_backend_name()   # postgresql, mysql, mariadb or sqlite once parse() has set our driver


def parse(database_url: str) -> URL:
    """The URL with our driver for its scheme; refuses another scheme."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        raise DatabaseUrlRefused("Not a database URL (scheme://user:password@host/db).") from None
    scheme = url.drivername.split("+", 1)[0]
    if scheme not in DRIVERS:
        raise DatabaseUrlRefused(f"Scheme {scheme!r} is not accepted; use postgresql, mysql, mariadb or sqlite.")
    return url.set(drivername=DRIVERS[scheme])


def check_options(url: URL) -> None:
    """Refuse every query option not on the backend's list (naming it), and values out of shape."""
    allowed = OPTIONS[backend_of(url)]
    for name, value in url.query.items():
        if name not in allowed:
            choices = ", ".join(sorted(allowed)) or "none"
            raise DatabaseUrlRefused(f"Option {name!r} is not allowed in a {backend_of(url)} URL "
                                     f"(allowed: {choices}).")
        if not isinstance(value, str) or not allowed[name].match(value):
            raise DatabaseUrlRefused(f"Option {name!r} is not allowed with this value.")


def port_of(url: URL) -> int:
    return url.port or DEFAULT_PORTS[backend_of(url)]


def check_url(database_url: str, policy: OutboundPolicy) -> URL:
    """Start-time check: scheme, options, and the host as far as no DNS lookup is needed.
    Raises DatabaseUrlRefused, or outbound.OutboundRefused for the host."""
    url = parse(database_url)
    check_options(url)
    if backend_of(url) != "sqlite":
        if not url.host or not url.database:
            raise DatabaseUrlRefused("The URL needs a host and a database name.")
        policy.precheck(url.host, port_of(url))
    return url


def open_engine(database_url: str, policy: OutboundPolicy, timeouts: Timeouts, one_shot: bool = False) -> Engine:
    """An engine on the caller's database, connected to the address checked now (see the module's note);
    `one_shot` (an API request) keeps no connection open after. Raises DatabaseUrlRefused,
    outbound.OutboundRefused or outbound.OutboundUnreachable."""
    url = parse(database_url)
    check_options(url)
    backend = backend_of(url)
    pool = {"poolclass": NullPool} if one_shot else {"pool_pre_ping": True}
    if backend == "sqlite":
        return create_engine(url, connect_args={"timeout": min(timeouts.statement, 30)}, **pool)
    pinned = policy.pin(url.host, port_of(url))
    connect = max(2, int(timeouts.connect))   # libpq and PyMySQL take whole seconds (libpq: at least 2)
    given = url.query.get("connect_timeout")
    if given is not None:
        connect = max(2, min(connect, int(given)))
    search_path = url.query.get("options")
    url = url.difference_update_query(["connect_timeout", "options"])
    if backend == "postgresql":
        statement_ms = max(1, int(timeouts.statement * 1000))
        options = f"{search_path} " if search_path else ""
        connect_args = {"hostaddr": pinned.address, "port": pinned.port, "connect_timeout": connect,
                        "options": f"{options}-c statement_timeout={statement_ms}",
                        # A peer that stops answering mid-query: the kernel gives up after this long.
                        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
                        "tcp_user_timeout": int(max(timeouts.read, timeouts.connect) * 1000)}
        return create_engine(url, connect_args=connect_args, **pool)
    # MySQL / MariaDB through PyMySQL: no separate TLS name, so the checked address is the host.
    # TIMESTAMP columns convert from the session's time zone: make it UTC, like our bounds.
    connect_args = {"connect_timeout": connect, "read_timeout": max(1, int(timeouts.read)),
                    "write_timeout": max(1, int(timeouts.read)), "local_infile": False,
                    "client_flag": MYSQL_CLIENT_FLAG, "init_command": "SET time_zone = '+00:00'"}
    return create_engine(url.set(host=pinned.address, port=pinned.port), connect_args=connect_args, **pool)


def timeouts_from_config(config, sample: bool = False) -> Timeouts:
    """The workers' timeouts (COLLECTOR_DATABASE_*_TIMEOUT); `sample`: the API's, COLLECTOR_SAMPLE_TIMEOUT
    for each (never longer than the workers')."""
    timeouts = Timeouts(connect=config.get("COLLECTOR_DATABASE_CONNECT_TIMEOUT", Timeouts.connect),
                        read=config.get("COLLECTOR_DATABASE_READ_TIMEOUT", Timeouts.read),
                        statement=config.get("COLLECTOR_DATABASE_STATEMENT_TIMEOUT", Timeouts.statement))
    if not sample:
        return timeouts
    short = config.get("COLLECTOR_SAMPLE_TIMEOUT", 5.0)
    return Timeouts(connect=min(short, timeouts.connect), read=min(short, timeouts.read),
                    statement=min(short, timeouts.statement))


def server_answered(exc: BaseException) -> bool:
    """Whether the database server itself refused (wrong password, unknown database), as opposed to a
    failure of the network (refused, reset, timed out), which callers are only told "could not connect"."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, pymysql.err.MySQLError):
        code = orig.args[0] if orig.args else None
        return isinstance(code, int) and 1000 <= code < 2000   # 2xxx are the client's own (CR_*) errors
    return getattr(orig, "sqlstate", None) is not None        # psycopg: set only from a server's error
