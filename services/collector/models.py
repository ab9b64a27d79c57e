"""The collector's tables: tasks and their log lines, collected items (and which task saw them), dumps."""
from __future__ import annotations

from datetime import datetime

from flask_migrate import Migrate
from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_db

db = make_db()
migrate = Migrate()

PENDING, RUNNING, CANCELLING = "pending", "running", "cancelling"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
STATUSES = (PENDING, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED)
FINISHED = (COMPLETED, FAILED, CANCELLED)
ACTIVE = (RUNNING, CANCELLING)


class Task(db.Model):
    """One collection task; the row is the source of truth for its status and progress."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    queue: Mapped[str] = mapped_column(String(50))
    # The start params as given, with secrets masked; the secrets themselves are in secrets_sealed.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    secrets_sealed: Mapped[str | None] = mapped_column(Text)  # Fernet token, key from the environment
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, default=0)
    total: Mapped[float | None] = mapped_column(Float)
    current_step: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    result_summary: Mapped[dict] = mapped_column(JSON, default=dict)
    # What the source saved to resume from after a lost worker (e.g. the next page).
    resume_state: Mapped[dict] = mapped_column(JSON, default=dict)
    rows_received: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    peak_memory: Mapped[int | None] = mapped_column(BigInteger)  # bytes: the worker process's peak RSS
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    not_before: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    # The audit trail: who started and who cancelled it ({"key_id", "name", "role"}; null for the scheduler's).
    started_by: Mapped[dict | None] = mapped_column(JSON)
    cancelled_by: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_tasks_created_at_id", "created_at", "id"),
        Index("ix_tasks_status_heartbeat_at", "status", "heartbeat_at"),
        Index("ix_tasks_status_completed_at", "status", "completed_at"),
    )

    @property
    def type(self) -> str:
        return f"{self.source}_collect"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class TaskLog(db.Model):
    __tablename__ = "task_logs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(10), default="INFO")
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_task_logs_task_id_id", "task_id", "id"),)

    @property
    def line(self) -> str:
        return f"[{self.at:%H:%M:%S}] {self.message}"


class CollectedItemRow(db.Model):
    """A post, review, memo or comment, stored once per (source, kind, external_id) (items.py)."""

    __tablename__ = "collected_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(30))
    external_id: Mapped[str] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    url: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("source", "kind", "external_id"),)


class TaskItem(db.Model):
    """Which task saw which item, and the labels its rules gave."""

    __tablename__ = "task_items"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("collected_items.id", ondelete="CASCADE"), primary_key=True)
    labels: Mapped[list] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_task_items_item_id", "item_id"),)


class ItemDump(db.Model):
    """A task's items written into an analyst's own database, in the background (item_dumps.py)."""

    __tablename__ = "item_dumps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    target: Mapped[str] = mapped_column(Text)               # the URL with its password masked
    url_sealed: Mapped[str] = mapped_column(Text)           # Fernet token holding the full URL
    table_name: Mapped[str] = mapped_column(String(63))
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[dict | None] = mapped_column(JSON)  # the audit trail, as a task's started_by
    cancelled_by: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class ApiKey(db.Model):
    """A key a person or a script sends to the collector API (api_keys.py). Only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        # One active key per name; a revoked key's name may be given again.
        Index("uq_api_keys_active_name", "name", unique=True, sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )
