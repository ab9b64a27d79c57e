"""Time helpers: everything is stored and compared in UTC, timezone-aware."""
from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def representable_in_utc(value: datetime) -> None:
    """A marshmallow validator: an offset can move an instant near year 1 or 9999 out of the
    datetime range once in UTC (9999-12-31T23:00-05:00), which would fail later as a 500."""
    try:
        as_utc(value)
    except OverflowError:
        raise ma.ValidationError("Must lie between years 1 and 9999 in UTC.") from None
