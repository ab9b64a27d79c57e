"""Each service's app on a fresh migrated database (`migrated_database_for`), for the tests of what
every service shares."""
from __future__ import annotations

import importlib
import uuid
from contextlib import contextmanager

import redis

SERVICES = ("trials", "grader", "orders", "collector")
TOKEN = "shared-suite-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def auth_for(service: str) -> dict:
    """The write credentials a test client sends: the service token, except to the collector, which
    refuses it (it is not an API key) and serves the loopback test client as an operator."""
    return {} if service == "collector" else AUTH


def service_config(service: str, database_url: str, tmp_path, redis_url: str, **overrides) -> dict:
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SERVICE_TOKEN": TOKEN,
              "VAR_DIR": tmp_path, "LOG_DIR": tmp_path / "log", "HTTP_RETRIES": 0, "REDIS_URL": redis_url}
    if service == "trials":
        config["TRIALS_CACHE_SECONDS"] = 0
    if service == "collector":
        config["COLLECTOR_NAMESPACE"] = f"shared-test-{uuid.uuid4().hex[:10]}"
    return {**config, **overrides}


@contextmanager
def service_app(service: str, config: dict):
    """The app; its Redis keys (the collector's) and connections cleaned up after."""
    app = importlib.import_module(f"services.{service}").create_app(config)
    db = app.extensions["sqlalchemy"]
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if service == "collector":
            client = redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=1)
            try:
                keys = list(client.scan_iter(match=f"{config['COLLECTOR_NAMESPACE']}*"))
                if keys:
                    client.delete(*keys)
            except redis.ConnectionError:
                pass  # a test pointed the app at a Redis that is not there
            finally:
                client.close()
