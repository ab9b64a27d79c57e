"""Text no database column can hold, refused where it comes in: a 422, never a 500.

NUL: PostgreSQL text refuses it. A lone surrogate (a JSON `"\\ud800"` escape) is not UTF-8
at all, so no database stores it and no response can carry it back.
"""
from __future__ import annotations

import re

import marshmallow as ma

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must not contain a NUL character or an unpaired surrogate."


def storable(value: str) -> None:
    """A marshmallow validator for text bound for the database (or for a query against it)."""
    if UNSTORABLE.search(value):
        raise ma.ValidationError(UNSTORABLE_MESSAGE)
