"""Reading query parameters the way the upstream APIs read them."""
from __future__ import annotations

import re

from flask import request

# A decimal integer as Go's strconv.ParseInt(s, 10, ...) reads one (the odcloud gateway's parser,
# docs/upstreams.md section 1): an optional sign and ASCII digits, no spaces, no `_`. Python's
# int() would also take " 7", "1_0" and non-ASCII digits such as "٣".
DECIMAL = re.compile(r"[+-]?[0-9]+")


def int_arg(name: str, default: int, valid: range | None = None) -> int:
    """The query parameter `name` as an integer; `default` when it is missing, is not a decimal
    integer, or lies outside `valid` (when given).

    A value that parses but is out of a stand-in's bounds is the caller's to clamp: each
    upstream clamps its own way (a page size capped at 24, 100, ...).
    """
    raw = request.args.get(name, "")
    if not DECIMAL.fullmatch(raw):
        return default
    try:
        value = int(raw)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return default
    return value if valid is None or value in valid else default
