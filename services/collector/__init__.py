"""The collector: background collection tasks on Dramatiq and Redis, with an API, a dashboard,
a worker, a scheduler and a CLI."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

# The app's modules are imported by create_app, not here: every module of the package imports this one
# first, and the label_table job's labeling process (label_table/child.py) is spawned with no use for
# Flask, SQLAlchemy or the app (importing them took it about a second to start; the layers are in README.md).


def create_app(config=None) -> Flask:
    from services.collector.access import document_security, init_access
    from services.collector.actors import declare_actors
    from services.collector.api import blp
    from services.collector.api_items import blp as collected_items_blp
    from services.collector.api_labeling import blp as labeling_tasks_blp
    from services.collector.cli import collector_cli
    from services.collector.config import Config
    from services.collector.dashboard import dashboard
    from services.collector.key_commands import keys_cli
    from services.collector.login import login_pages, throttle_logins
    from services.collector.models import db, migrate
    from services.collector.runtime import init_runtime
    from services.collector.sample_view import sample_view
    from shared.app import build_service_app
    from shared.health import add_check, redis_check

    api_blueprints = [blp, collected_items_blp, labeling_tasks_blp]   # labeling_tasks: /api/tasks/ (api_labeling.py)
    app, api = build_service_app(__name__, config, Config, db, migrate,
                                 Path(__file__).parent / "migrations", api_blueprints)
    init_access(app, api_blueprints)  # keys, roles, hosts, CSRF, CORS (access.py, SECURITY.md)
    document_security(api)
    app.register_blueprint(dashboard)
    app.register_blueprint(login_pages)  # the dashboard's login (login.py)
    throttle_logins(app)
    app.register_blueprint(sample_view)  # a task's collected items, sampled (sample_view.py)
    init_runtime(app, declare_actors)  # the broker, built on first use, declares the actors (actors.py)
    add_check(app, "redis", redis_check())  # the broker, the task cap and cancels: /health is 503 without it
    app.cli.add_command(collector_cli)
    app.cli.add_command(keys_cli)
    return app
