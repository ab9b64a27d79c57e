"""The grader service's tables."""
from __future__ import annotations

from datetime import date, datetime

from flask_migrate import Migrate
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_db

db = make_db()
migrate = Migrate()

# The columns a batch writes, in the order the bulk paths (COPY, executemany) use.
ATTEMPT_COLUMNS = ("user_id", "oauth_consumer_key", "lis_result_sourcedid", "lis_outcome_service_url",
                   "is_correct", "attempt_type", "created_at", "course_id", "block_id")
# An attempt is one user's run or submit at one instant: a re-pull of the same window
# finds the same triple and is ignored (ON CONFLICT DO NOTHING / INSERT OR IGNORE).
NATURAL_KEY = ("user_id", "created_at", "attempt_type")


class Attempt(db.Model):
    __tablename__ = "attempts"

    # BIGINT on PostgreSQL (millions of rows a day); SQLite's rowid alias must be INTEGER.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    oauth_consumer_key: Mapped[str | None] = mapped_column(String(255))
    lis_result_sourcedid: Mapped[str | None] = mapped_column(Text)
    lis_outcome_service_url: Mapped[str | None] = mapped_column(Text)
    is_correct: Mapped[bool | None] = mapped_column(Boolean)
    attempt_type: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    course_id: Mapped[str | None] = mapped_column(String(200))
    block_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint(*NATURAL_KEY, name="uq_attempts_natural_key"),
        Index("ix_attempts_created_at_id", "created_at", "id"),
        Index("ix_attempts_course_id_created_at", "course_id", "created_at"),
    )


class Report(db.Model):
    """One publication of a day's statistics and how each sink took it."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime]
    stats: Mapped[dict] = mapped_column(JSON)
    sheets_status: Mapped[str] = mapped_column(String(20))  # published | skipped | failed
    sheets_detail: Mapped[str | None] = mapped_column(Text)
    email_status: Mapped[str] = mapped_column(String(20))
    email_detail: Mapped[str | None] = mapped_column(Text)


class ReportLease(db.Model):
    """A report being published right now: one per date, so two publications of one day (the
    schedule and a manual run) cannot both append a Sheets row or both send the e-mail."""

    __tablename__ = "report_leases"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    taken_at: Mapped[datetime]


class PullWatermark(db.Model):
    """How far a scheduled pull has loaded the upstream without a gap; it only moves forward."""

    __tablename__ = "pull_watermarks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[datetime]
    updated_at: Mapped[datetime]
