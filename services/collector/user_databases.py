"""Which of an analyst's own databases the collector writes to or reads from: the URL schemes
and drivers accepted, SQLite files only under COLLECTOR_DUMP_SQLITE_DIR, plain table names.

Dumps (item_dumps.py) and the label_table source (label_table/spec.py) check their URLs here.
"""
from __future__ import annotations

import re
from pathlib import Path

from services.collector import database_urls
from services.collector.errors import DumpRefused
from services.collector.outbound import OutboundRefused, policy_from_config

DRIVERS = database_urls.DRIVERS
HOST_NOT_ALLOWED = "The host is not allowed (COLLECTOR_OUTBOUND_ALLOW)."
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def checked_url(database_url: str, config) -> str:
    """The URL with our driver for its scheme; refuses other schemes, driver options off the list,
    hosts COLLECTOR_OUTBOUND_ALLOW refuses (database_urls.py) and SQLite outside the dump dir."""
    try:
        url = database_urls.check_url(database_url, policy_from_config(config))
    except database_urls.DatabaseUrlRefused as exc:
        raise DumpRefused("database_url", str(exc)) from None
    except OutboundRefused:
        raise DumpRefused("database_url", HOST_NOT_ALLOWED) from None
    scheme = url.get_backend_name()
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
