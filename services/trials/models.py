"""The trials service's tables."""
from __future__ import annotations

from datetime import datetime

from flask_migrate import Migrate
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_db

db = make_db()
migrate = Migrate()

# The fields that make up a trial's content, in the order they are shown and diffed.
CONTENT_FIELDS = ("title", "department", "institution", "phase", "study_type", "scope", "period", "target_subjects")


class Trial(db.Model):
    __tablename__ = "trials"

    trial_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(200))
    institution: Mapped[str | None] = mapped_column(String(200))
    phase: Mapped[str | None] = mapped_column(String(200))
    study_type: Mapped[str | None] = mapped_column(String(100))
    scope: Mapped[str | None] = mapped_column(String(100))
    period: Mapped[str | None] = mapped_column(String(100))
    target_subjects: Mapped[int | None] = mapped_column(Integer)
    # sha256 of the content fields: an unchanged re-load compares one column, not eight.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    last_snapshot_id: Mapped[str | None] = mapped_column(String(100), index=True)



# /list and /trials/recent read newest first with trial_id as the tie-break: the index holds
# exactly that order, so a page is an index range scan, not a sort of the whole table.
Index("ix_trials_updated_at_desc_trial_id", Trial.updated_at.desc(), Trial.trial_id)


class Snapshot(db.Model):
    """A full pull of the upstream: trials it did not contain are withdrawn when it completes."""

    __tablename__ = "snapshots"

    snapshot_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    received: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)


class TrialChange(db.Model):
    """One event in a trial's history: created, updated (with field diffs), withdrawn or restored."""

    __tablename__ = "trial_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.trial_id", ondelete="CASCADE"))
    changed_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    snapshot_id: Mapped[str | None] = mapped_column(String(100))
    changes: Mapped[list] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_trial_changes_trial_id_id", "trial_id", "id"),)
