"""API keys of the collector: created, listed, revoked (CLI `keys ...`), and checked on each request.

A key is `clk_` plus 32 random bytes (secrets.token_urlsafe), shown once when created; only its
SHA-256 is stored (a key this long needs no slow hash), compared in constant time. Roles nest:
a viewer reads, an operator also starts, cancels, dumps and samples, an admin also cleans up,
manages keys and moves watermarks.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from services.collector.models import ApiKey, db
from shared.timeutil import as_utc, utcnow

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLES)}
KEY_PREFIX = "clk_"
# last_used_at is written at most this often per key, so reads do not turn into writes.
TOUCH_EVERY = timedelta(minutes=1)


class KeyRefused(ValueError):
    """A key cannot be created or revoked as asked (the message says why)."""


def allows(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may (roles nest: admin > operator > viewer)."""
    return _RANK.get(role, -1) >= _RANK[needed]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who a request (or a task's start or cancel) is on behalf of, as the audit trail records it."""

    name: str
    role: str
    key_id: int | None = None

    def audit(self) -> dict:
        return {"key_id": self.key_id, "name": self.name, "role": self.role}

    def describe(self) -> str:
        return f"key {self.name!r} #{self.key_id} ({self.role})" if self.key_id else f"{self.name} ({self.role})"


def create_key(name: str, role: str) -> tuple[ApiKey, str]:
    """A new key: returns the row and the key itself, which is never stored nor shown again."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise KeyRefused("A key's name is 1 to 100 characters.")
    if role not in ROLES:
        raise KeyRefused(f"Unknown role {role!r}; known: {', '.join(ROLES)}.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, key_hash=digest(key), created_at=utcnow())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise KeyRefused(f"An active key is already named {name!r}; revoke it first or choose another name.") from None
    return row, key


def list_keys(include_revoked: bool = False) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(db.session.scalars(stmt))


def revoke_key(name_or_id: str) -> ApiKey:
    """Revoke the active key with this name (or id). Raises KeyRefused if there is none."""
    match = ApiKey.name == name_or_id
    if name_or_id.isdigit():
        match = or_(match, ApiKey.id == int(name_or_id))
    row = db.session.scalars(select(ApiKey).where(match, ApiKey.revoked_at.is_(None)).order_by(ApiKey.id)).first()
    if row is None:
        raise KeyRefused(f"No active key named {name_or_id!r}.")
    row.revoked_at = utcnow()
    db.session.commit()
    return row


def authenticate(key: str) -> Caller | None:
    """The caller a key stands for, or None for an unknown or revoked key."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    hashed = digest(key)
    row = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hashed))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, hashed):
        return None
    now = utcnow()
    if row.last_used_at is None or now - as_utc(row.last_used_at) > TOUCH_EVERY:
        db.session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        db.session.commit()
    return Caller(row.name, row.role, row.id)


def active_key(key_id: int) -> Caller | None:
    """The caller of a dashboard session logged in with key `key_id`, while that key is not revoked."""
    row = db.session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    return Caller(row.name, row.role, row.id)


def ensure_key_file(path: Path, name: str, role: str) -> bool:
    """Create a key named `name` into `path` (mode 600) unless the file holds an active key already.
    An active key of that name whose file is gone is revoked first. Returns True if it created one."""
    if path.exists() and authenticate(path.read_text().strip()) is not None:
        return False
    with contextlib.suppress(KeyRefused):  # its file is gone: that key is replaced
        revoke_key(name)
    _row, key = create_key(name, role)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return True

