"""Orders fixtures: apps on fresh databases (migrated), clients with the service token."""
from __future__ import annotations

import uuid as uuidlib

import pytest
from flask_migrate import upgrade

from tests.conftest import SERVICE_TOKEN

AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


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


@pytest.fixture
def make_orders_app(database_url_for, tmp_path):
    """`make_orders_app("A")`: a migrated orders instance on a fresh database of its own."""
    from services.orders import create_app

    made = []

    def make(instance: str = "A", **extra):
        app = create_app(orders_config(database_url_for(f"orders_{instance.lower()}"), tmp_path, instance, **extra))
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
        made.append(app)
        return app

    yield make
    for app in made:
        dispose(app)


def dispose(app) -> None:
    """Close the app's pooled connections (PostgreSQL warns about connections left to the GC)."""
    from services.orders.models import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(make_orders_app):
    return make_orders_app("A")


@pytest.fixture
def client(app):
    return app.test_client()
