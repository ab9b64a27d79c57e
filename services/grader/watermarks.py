"""Pull watermarks: the end of the last window a pull loaded with nothing missing before it.

The collector's grader source reads one before a scheduled run (to continue where the last
run ended) and advances it after each delivered window. It never moves backwards, so a
late or repeated call cannot make a later run skip data.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import SimpleNamespace

import marshmallow as ma

from services.grader.models import PullWatermark, db
from shared.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)


def check_not_future(position: datetime, skew_seconds: float) -> None:
    """Refuse a position later than now plus `skew_seconds`: nothing after now can have been loaded,
    and a watermark in the future would stop the scheduled pull until that day (a 422)."""
    latest = utcnow() + timedelta(seconds=skew_seconds)
    if as_utc(position) > latest:
        raise ma.ValidationError(f"A watermark cannot be later than now plus {skew_seconds:g} s "
                                 f"({latest.isoformat(timespec='seconds')}).")


def get_watermark(name: str):
    stored = db.session.get(PullWatermark, name)
    return stored or SimpleNamespace(name=name, position=None, updated_at=None)


def advance_watermark(name: str, position: datetime) -> PullWatermark:
    """Move `name` to `position` unless it is already there or further (the caller commits)."""
    position = as_utc(position)
    stored = db.session.get(PullWatermark, name, with_for_update=True)
    if stored is None:
        stored = PullWatermark(name=name, position=position, updated_at=utcnow())
        db.session.add(stored)
    elif position > stored.position:
        stored.position, stored.updated_at = position, utcnow()
    return stored


def move_back(name: str, position: datetime, by: str, reason: str) -> tuple[datetime | None, PullWatermark]:
    """Set `name` to an earlier `position` (an operator's repair, e.g. after a far-future value got in);
    the one way a watermark moves backwards. Logged as an audit line (who, why, from, to); the caller
    commits. Returns (the old position, the row)."""
    position = as_utc(position)
    stored = db.session.get(PullWatermark, name, with_for_update=True)
    old = stored.position if stored is not None else None
    if stored is None:
        stored = PullWatermark(name=name, position=position, updated_at=utcnow())
        db.session.add(stored)
    else:
        stored.position, stored.updated_at = position, utcnow()
    log.warning("audit: watermark %s moved from %s to %s by %s: %s", name,
                old.isoformat() if old else None, position.isoformat(), by, reason)
    return old, stored
