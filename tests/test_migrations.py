"""Every service's Alembic migrations build exactly the schema its models describe."""
import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from shared.migrations_env import include_object

SERVICES = sorted(p.parent.name for p in Path(__file__).resolve().parents[1].glob("services/*/migrations"))


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_models(service, database_url_for, tmp_path):
    package = importlib.import_module(f"services.{service}")
    app = package.create_app({"SQLALCHEMY_DATABASE_URI": database_url_for(service), "LOG_DIR": tmp_path,
                              "VAR_DIR": tmp_path})
    with app.app_context():
        db = app.extensions["sqlalchemy"]
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": include_object(db.metadata)})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []
