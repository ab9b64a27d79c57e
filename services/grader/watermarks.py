"""Pull watermarks: the end of the last window a pull loaded with nothing missing before it.

The collector's grader source reads one before a scheduled run (to continue where the last
run ended) and advances it after each delivered window. It never moves backwards, so a
late or repeated call cannot make a later run skip data.
"""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from services.grader.models import PullWatermark, db
from shared.timeutil import as_utc, utcnow


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
