"""The orders service (instances A and B) and, beside one of them, the two-way sync integration."""
from __future__ import annotations

from pathlib import Path

from flask import Flask


def create_app(config=None) -> Flask:
    from services.orders.admin import init_admin
    from services.orders.api import blp
    from services.orders.config import Config
    from services.orders.models import db, migrate
    from services.orders.sync.api import blp as sync_blp
    from services.orders.sync.cli import sync
    from services.orders.sync.runner import peer_health
    from shared import health
    from shared.app import build_service_app

    app, _ = build_service_app(__name__, config, Config, db, migrate,
                               Path(__file__).parent / "migrations", [blp, sync_blp])
    init_admin(app)
    if app.config["ORDERS_PEER_URL"]:
        # Reported, never a 503: A's own API serves whether or not B answers (docs/two-way-sync.md).
        health.add_check(app, "peer", peer_health, required=False)
    if app.config["ORDERS_ADMIN_LOGIN_STORAGE"].startswith(("redis://", "rediss://")):
        # Only the admin login throttle uses Redis, and it falls back to memory meanwhile.
        health.add_check(app, "redis", health.redis_check("ORDERS_ADMIN_LOGIN_STORAGE"), required=False)
    app.cli.add_command(sync)
    return app
