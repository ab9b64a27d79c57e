"""The orders service's tables: orders, the change-feed counter, and the integration's ledger."""
from __future__ import annotations

from datetime import datetime

from flask_migrate import Migrate
from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_db

db = make_db()
migrate = Migrate()

STATUSES = ("new", "paid", "shipped", "delivered", "cancelled")
# The fields that make up an order's content: what sync compares and what `version` tracks.
CONTENT_FIELDS = ("number", "customer_name", "customer_email", "items", "currency", "status", "note", "deleted")


class Order(db.Model):
    __tablename__ = "orders"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(254))
    items: Mapped[list] = mapped_column(JSON, default=list)
    # Decimal money kept as its exact string, derived from the items.
    total: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Position in this instance's change feed; unique and increasing in commit order.
    seq: Mapped[int] = mapped_column(Integer, unique=True)

    __table_args__ = (
        Index("ix_orders_created_at_uuid", "created_at", "uuid"),
        Index("ix_orders_status", "status"),
    )

    def __str__(self) -> str:
        return f"{self.number} ({self.customer_name})"


class FeedCounter(db.Model):
    """One row: the last `seq` handed out. Updating it serialises writers, so seq order is commit order."""

    __tablename__ = "order_feed_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class SyncLedger(db.Model):
    """The integration's memory of one order: what both sides held when they last agreed."""

    __tablename__ = "sync_ledger"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    local_version: Mapped[int | None] = mapped_column(Integer)
    peer_version: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # The write in flight: noted before it is sent, cleared when its answer arrives. If the
    # answer is lost, the peer showing this content later proves that the write landed.
    pushing_version: Mapped[int | None] = mapped_column(Integer)
    pushing_hash: Mapped[str | None] = mapped_column(String(64))


class Collision(db.Model):
    """Both sides changed one order since the last sync; both versions are kept."""

    __tablename__ = "sync_collisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), index=True)
    detected_at: Mapped[datetime]
    local_version: Mapped[int | None] = mapped_column(Integer)
    local_content: Mapped[dict] = mapped_column(JSON)
    peer_version: Mapped[int] = mapped_column(Integer)
    peer_content: Mapped[dict] = mapped_column(JSON)
    # The peer's own updated_at, as it sent it (for the newest-wins policy).
    peer_updated_at: Mapped[str | None] = mapped_column(String(40))
    resolved_at: Mapped[datetime | None]
    # "local" or "peer" (taken by a person), "auto-local"/"auto-peer" (newest wins), "converged".
    resolution: Mapped[str | None] = mapped_column(String(16))
    losing_content: Mapped[dict | None] = mapped_column(JSON)


class SyncValue(db.Model):
    """Durable scalars of the integration: the peer checkpoint, last round, last error."""

    __tablename__ = "sync_values"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)


class AdminSession(db.Model):
    """One admin login. The signed cookie carries a random id; this row holds its hash, so a
    logout (the row deleted) ends the session even for a copy of the cookie."""

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)
