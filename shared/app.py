"""The part of every service's `create_app` that is the same everywhere."""
from __future__ import annotations

from collections.abc import Iterable
from inspect import iscoroutinefunction
from pathlib import Path
from types import CodeType

from flask import Flask
from flask_migrate import Migrate
from flask_smorest import Blueprint
from flask_sqlalchemy import SQLAlchemy

from shared import health
from shared.api import Api, ReadableJSONProvider, ServiceRequest, create_api, refuse_oversized_body
from shared.db import init_db
from shared.logs import configure_logging, init_request_ids
from shared.metrics import init_metrics


class ServiceFlask(Flask):
    """Flask, with its `ensure_sync` verdicts kept: Flask asks it of every hook and view on every
    request (13 times for a trials read), and each `inspect.iscoroutinefunction` costs ~0.8 µs.
    The verdict is kept per code object, not per function: a closure made per request (an
    `after_this_request`) is one more function of the same code, and leaves nothing behind."""

    request_class = ServiceRequest  # deep JSON is a 400 (shared/api.py)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._is_coroutine: dict[CodeType, bool] = {}

    def ensure_sync(self, func):
        code = getattr(getattr(func, "__func__", func), "__code__", None)  # a bound method's function's
        if code is None:  # a partial, a callable object: asked each time, as Flask does
            return super().ensure_sync(func)
        is_coroutine = self._is_coroutine.get(code)
        if is_coroutine is None:
            is_coroutine = self._is_coroutine[code] = iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func


def load_config(app: Flask, config, config_class) -> None:
    """`config` may be None (read the environment), a Config object, or a dict of overrides."""
    if config is None or isinstance(config, dict):
        app.config.from_object(config_class())
        app.config.update(config or {})
    else:
        app.config.from_object(config)


def build_service_app(
    import_name: str,
    config,
    config_class: type,
    db: SQLAlchemy,
    migrate: Migrate,
    migrations_dir: Path,
    blueprints: Iterable[Blueprint],
) -> tuple[Flask, Api]:
    app = ServiceFlask(import_name)
    app.json = ReadableJSONProvider(app)
    load_config(app, config, config_class)
    if not app.config.get("LOG_KEEP_HANDLERS"):  # True when embedded in another app's process (a migration run)
        configure_logging(app.config["SERVICE_NAME"], Path(app.config["LOG_DIR"]), app.config["LOG_LEVEL"],
                          app.config["LOG_RETENTION_DAYS"], app.config.get("LOG_FORMAT", "text"))
    init_request_ids(app)
    init_db(app, db, migrate, migrations_dir)
    init_metrics(app)  # first: its clock starts before any other hook may answer (e.g. a 413)
    app.before_request(refuse_oversized_body)  # MAX_CONTENT_LENGTH, before any other hook reads the body
    health.add_check(app, "database", health.database_check)
    api = create_api(app)
    api.register_blueprint(health.blp)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    return app, api
