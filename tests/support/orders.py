"""The orders service in tests: its test configuration and an order's body."""
from __future__ import annotations

import re
import uuid as uuidlib

from tests.support.auth import SERVICE_TOKEN


def order_body(**overrides) -> dict:
    body = {"customer_name": "Ada Lovelace", "customer_email": "ada@example.com",
            "items": [{"sku": "MUG-1", "name": "Mug", "qty": 2, "unit_price": "9.50"}],
            "currency": "EUR", "status": "new", "note": ""}
    body.update(overrides)
    return body


def orders_config(database_url: str, tmp_path, instance: str = "A", **extra) -> dict:
    return {"TESTING": True, "ORDERS_INSTANCE": instance, "SQLALCHEMY_DATABASE_URI": database_url,
            "SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": str(tmp_path / "log"), "ORDERS_ADMIN_USER": "admin",
            "ORDERS_ADMIN_PASSWORD": "test-admin-password", "SECRET_KEY": "test-secret",
            "ORDERS_PEER_URL": "http://peer.invalid" if instance == "A" else "",
            # Login attempts are counted in the shared Redis: each app counts its own.
            "ORDERS_ADMIN_LOGIN_KEY_PREFIX": f"test-orders-login-{uuidlib.uuid4().hex}", **extra}


def dispose(app) -> None:
    """Close the app's pooled connections (PostgreSQL warns about connections left to the GC)."""
    from services.orders.models import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf(html: str, name: str = "csrf_token") -> str:
    """The CSRF token of an admin page's form."""
    return re.search(rf'name="{name}" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def log_in(client, password="test-admin-password"):
    """Log in to the admin (the user orders_config sets up)."""
    token = csrf(client.get("/admin/login").text)
    return client.post("/admin/login", data={"username": "admin", "password": password, "csrf_token": token})
