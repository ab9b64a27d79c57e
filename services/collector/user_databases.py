"""Which of an analyst's own databases the collector writes to or reads from: the URL schemes
and drivers accepted, SQLite files only under COLLECTOR_DUMP_SQLITE_DIR, plain table names.

Dumps (item_dumps.py) and the label_table source (label_table/spec.py) check their URLs here.
"""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.collector.errors import DumpRefused

DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql",
           "mariadb": "mariadb+pymysql", "sqlite": "sqlite"}
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def checked_url(database_url: str, config) -> str:
    """The URL with our driver for its scheme; refuses other schemes and SQLite outside the dump dir."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        raise DumpRefused("database_url", "Not a database URL (scheme://user:password@host/db).") from None
    scheme = url.drivername.split("+", 1)[0]
    if scheme not in DRIVERS:
        raise DumpRefused("database_url", f"Scheme {scheme!r} is not accepted; use postgresql, mysql, "
                                          "mariadb or sqlite.")
    url = url.set(drivername=DRIVERS[scheme])
    if scheme == "sqlite":
        if not url.database or url.database == ":memory:":
            raise DumpRefused("database_url", "A SQLite dump needs a file: sqlite:////path/to/file.sqlite3.")
        allowed = Path(config["COLLECTOR_DUMP_SQLITE_DIR"]).resolve()
        if not Path(url.database).resolve().is_relative_to(allowed):
            raise DumpRefused("database_url", f"SQLite dumps are written under {allowed} only "
                                              "(COLLECTOR_DUMP_SQLITE_DIR).")
    elif not url.host or not url.database:
        raise DumpRefused("database_url", "The URL needs a host and a database name.")
    return url.render_as_string(hide_password=False)
