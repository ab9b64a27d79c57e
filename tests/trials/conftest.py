import pytest

from services.trials import create_app
from services.trials.models import db
from tests.conftest import SERVICE_TOKEN

AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


@pytest.fixture
def app(database_url_for, tmp_path):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url_for("trials"),
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "VAR_DIR": tmp_path,
        "LOG_DIR": tmp_path / "log",
        "ODCLOUD_SERVICE_KEY": "sandbox-key",
        "HTTP_RETRIES": 0,
        "TRIALS_CACHE_SECONDS": 0,
    })
    with app.app_context():
        db.create_all()
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


def trial(trial_id: str, **fields) -> dict:
    """A record in the upstream's Korean-keyed form."""
    record = {
        "과제번호": trial_id,
        "과제명": f"{trial_id} 코호트 연구",
        "연구기간": "3년",
        "연구범위": "국내다기관",
        "연구종류": "관찰연구",
        "연구책임기관": "서울아산병원",
        "임상시험단계(연구모형)": "코호트",
        "전체목표연구대상자수": "120",
        "진료과": "Pediatrics",
    }
    record.update(fields)
    return record
