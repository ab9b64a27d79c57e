"""Orders fixtures: apps on fresh databases (migrated), clients with the service token."""
from __future__ import annotations

import pytest

from tests.support.orders import dispose, orders_config


@pytest.fixture
def make_orders_app(migrated_database_for, tmp_path):
    """`make_orders_app("A")`: an orders instance on a migrated database of its own (a second
    app of the same instance shares it, as a second gunicorn worker would)."""
    from services.orders import create_app

    made, urls = [], {}

    def make(instance: str = "A", **extra):
        if instance not in urls:
            urls[instance] = migrated_database_for("orders", f"orders_{instance.lower()}")
        app = create_app(orders_config(urls[instance], tmp_path, instance, **extra))
        made.append(app)
        return app

    yield make
    for app in made:
        dispose(app)


@pytest.fixture
def app(make_orders_app):
    return make_orders_app("A")


@pytest.fixture
def client(app):
    return app.test_client()
