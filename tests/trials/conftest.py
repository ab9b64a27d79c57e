"""Trials fixtures: the app on a fresh migrated database, its client and CLI runner."""
import pytest

from services.trials import create_app
from services.trials.models import db
from tests.support.auth import AUTH, SERVICE_TOKEN


@pytest.fixture
def app(migrated_database_for, tmp_path):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": migrated_database_for("trials"),
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "VAR_DIR": tmp_path,
        "LOG_DIR": tmp_path / "log",
        "ODCLOUD_SERVICE_KEY": "sandbox-key",
        "HTTP_RETRIES": 0,
        "TRIALS_CACHE_SECONDS": 0,
    })
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def put_batch(client):
    """PUT /trials/batch with the service token; returns the response."""

    def put(records, snapshot_id=None, **kwargs):
        body = {"records": records}
        if snapshot_id:
            body["snapshot_id"] = snapshot_id
        return client.put("/trials/batch", json=body, headers=AUTH, **kwargs)

    return put


@pytest.fixture
def complete(client):
    def post(snapshot_id, force=False):
        query = "?force=true" if force else ""
        return client.post(f"/trials/snapshots/{snapshot_id}/complete{query}", headers=AUTH)

    return post
