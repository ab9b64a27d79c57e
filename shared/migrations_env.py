"""The Alembic environment every service's `migrations/env.py` runs (Flask-Migrate's, once).

It migrates the database of the Flask app in whose context `flask db ...` (or
`flask_migrate.upgrade()`) runs, with that app's metadata and Flask-Migrate options.
"""
from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

logger = logging.getLogger("alembic.env")


def _migrate():
    return current_app.extensions["migrate"]


def _skip_empty_autogenerate(config):
    def process_revision_directives(_context, _revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    return process_revision_directives


def include_object(metadata):
    """Alembic's `include_object`: what a service keeps outside its models and names in
    `metadata.info["unmodelled"]` (e.g. the trials' full-text index) is neither dropped by
    autogenerate nor reported as a difference."""
    unmodelled = metadata.info.get("unmodelled", set())

    def include(_object, name, _type, _reflected, _compare_to) -> bool:
        return name not in unmodelled

    return include


def run_migrations() -> None:
    config = context.config
    # Inside one of our apps logging is already set up (stdout, var/log, redaction): keep it.
    if config.config_file_name and not logging.getLogger().handlers:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    migrate = _migrate()
    engine = migrate.db.engine
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    metadata = migrate.db.metadata
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    options = dict(migrate.configure_args)
    options.setdefault("include_object", include_object(metadata))
    if options.get("process_revision_directives") is None:
        options["process_revision_directives"] = _skip_empty_autogenerate(config)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, **options)
        with context.begin_transaction():
            context.run_migrations()
