"""Admin logins kept server-side: the signed cookie holds a random id, the database its hash.

A cookie alone proves nothing: every admin request looks its id up, logout deletes the row
(so a copied cookie stops working), and a login older than ORDERS_ADMIN_SESSION_HOURS ends.
The other instance's database has no such row, and its cookie is signed with another key.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import delete

from services.orders.models import AdminSession, db
from shared.timeutil import utcnow

SESSION_KEY = "orders_admin"


class AdminCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except that a request without the cookie (every API call)
    gets its empty session without a signer being built for it (a key derivation per request),
    and a request with no Cookie header at all without its cookies being parsed."""

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def instance_secret_key(secret: str, instance: str) -> str:
    """The key that signs one instance's cookies, derived from ORDERS_SECRET_KEY: A's cookie
    does not verify on B even when both are given the same secret (as `make up` does)."""
    return hmac.new(secret.encode(), f"orders-admin-session:{instance}".encode(), hashlib.sha256).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _oldest_valid():
    return utcnow() - timedelta(hours=current_app.config["ORDERS_ADMIN_SESSION_HOURS"])


def begin(user: str) -> None:
    """Start a fresh session for `user` (whatever the cookie held before is dropped)."""
    db.session.execute(delete(AdminSession).where(AdminSession.created_at < _oldest_valid()))
    token = secrets.token_urlsafe(32)
    db.session.add(AdminSession(id_hash=_hash(token), user=user, created_at=utcnow()))
    db.session.commit()
    session.clear()
    session[SESSION_KEY] = token
    g.orders_admin_session = True


def is_active() -> bool:
    """Whether the request's cookie names a live session (looked up once per request)."""
    if "orders_admin_session" not in g:
        token = session.get(SESSION_KEY)
        row = db.session.get(AdminSession, _hash(token)) if isinstance(token, str) else None
        g.orders_admin_session = row is not None and row.created_at >= _oldest_valid()
    return g.orders_admin_session


def end() -> None:
    """Log out: the session's row goes, so the cookie (and any copy of it) is worth nothing."""
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        db.session.execute(delete(AdminSession).where(AdminSession.id_hash == _hash(token)))
        db.session.commit()
    session.clear()
    g.orders_admin_session = False
