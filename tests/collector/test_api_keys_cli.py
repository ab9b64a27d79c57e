"""`flask --app services.collector keys ...`: create (shown once), list, revoke, ensure-file (make up)."""
from __future__ import annotations

import stat

from sqlalchemy import select

from services.collector.models import ApiKey, db

API = "/api/v1/async-collection"


def invoke(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_create_list_and_revoke(app, client):
    created = invoke(app, "keys", "create", "nightly-export", "--role", "viewer")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert "shown only now" in created.output
    listing = invoke(app, "keys", "list")
    assert "nightly-export" in listing.output and "viewer" in listing.output and key not in listing.output
    assert client.get(f"{API}/tasks", headers={"X-API-Key": key}).status_code == 200
    assert client.post(f"{API}/trials/start", json={}, headers={"X-API-Key": key}).status_code == 403
    again = invoke(app, "keys", "create", "nightly-export", "--role", "admin")
    assert again.exit_code != 0 and "already named" in again.output
    revoked = invoke(app, "keys", "revoke", "nightly-export")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client.get(f"{API}/tasks", headers={"X-API-Key": key}).status_code == 401
    assert "nightly-export" not in invoke(app, "keys", "list").output
    assert "nightly-export" in invoke(app, "keys", "list", "--all").output
    # The name is free again once revoked; the old key stays refused.
    assert invoke(app, "keys", "create", "nightly-export").exit_code == 0
    assert client.get(f"{API}/tasks", headers={"X-API-Key": key}).status_code == 401
    assert invoke(app, "keys", "revoke", "no-such-key").exit_code != 0
    assert invoke(app, "keys", "create", "x", "--role", "root").exit_code != 0


def test_ensure_file_writes_an_operator_key_once_with_mode_600(app, client, tmp_path):
    path = tmp_path / "var" / "collector_operator_key"
    first = invoke(app, "keys", "ensure-file", str(path))
    assert first.exit_code == 0 and f"created operator key 'make-up' in {path}" in first.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert key not in first.output
    assert client.post(f"{API}/trials/start", json={}, headers={"Authorization": f"Bearer {key}"},
                       environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code == 202
    second = invoke(app, "keys", "ensure-file", str(path))
    assert "kept" in second.output and path.read_text().strip() == key
    # Its file gone, a new key is written and the old one revoked.
    path.unlink()
    assert "created" in invoke(app, "keys", "ensure-file", str(path)).output
    assert path.read_text().strip() != key
    assert client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    with app.app_context():
        rows = db.session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        assert [(row.name, row.role, row.revoked_at is None) for row in rows] == [
            ("make-up", "operator", False), ("make-up", "operator", True)]
