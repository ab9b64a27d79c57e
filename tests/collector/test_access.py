"""The collector's door: keys and roles, protected vs required mode, the dashboard's login and
CSRF, JSON-only writes, cross-site and bad-Host refusals, CORS. Everything through the test client."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from services.collector.models import ApiKey, Task, db
from tests.support.collector import start, task_of
from tests.support.auth import SERVICE_TOKEN
from tests.support.collector_keys import create_key

API = "/api/v1/async-collection"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}  # a client that is not on loopback
FORM = "application/x-www-form-urlencoded"


def house_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) >= {"code", "status", "message"} and body["code"] == status
    return body


def task_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Task.id)).all())


@pytest.fixture
def required_app(app):
    app.config["COLLECTOR_AUTH"] = "required"  # read on each request
    return app


def test_an_anonymous_client_off_loopback_is_refused_and_starts_nothing(app, client):
    body = house_error(client.get(f"{API}/tasks", environ_base=ELSEWHERE), 401)
    assert "X-API-Key" in body["message"]
    house_error(client.post(f"{API}/trials/start", json={}, environ_base=ELSEWHERE), 401)
    assert task_count(app) == 0
    assert client.get("/health", environ_base=ELSEWHERE).status_code == 200  # liveness stays open


def test_loopback_is_an_operator_in_protected_mode_but_not_an_admin(app, client):
    task_id = start(client)
    assert task_of(client, task_id)["started_by"] == {"key_id": None, "name": "loopback", "role": "operator"}
    body = house_error(client.post(f"{API}/cleanup?max_age_hours=0"), 403)
    assert "admin" in body["message"]


def test_required_mode_asks_loopback_too_and_roles_decide(required_app, collector_key):
    client = required_app.test_client()
    house_error(client.get(f"{API}/tasks"), 401)
    viewer, operator, admin = (collector_key(role) for role in ("viewer", "operator", "admin"))
    assert client.get(f"{API}/tasks", headers=viewer).status_code == 200
    house_error(client.post(f"{API}/trials/start", json={}, headers=viewer), 403)
    assert task_count(required_app) == 0
    started = client.post(f"{API}/trials/start", json={}, headers=operator)
    assert started.status_code == 202, started.json
    task_id = started.json["task_id"]
    house_error(client.post(f"{API}/cleanup?max_age_hours=0", headers=operator), 403)
    assert client.post(f"{API}/cleanup?max_age_hours=0", headers=admin).status_code == 200
    house_error(client.delete(f"{API}/task/{task_id}", headers=viewer), 403)
    cancelled = client.delete(f"{API}/task/{task_id}", headers=admin)
    assert cancelled.status_code == 200, cancelled.json
    task = client.get(f"{API}/task/{task_id}", headers=viewer).json
    assert task["started_by"] == {"key_id": operator.key_id, "name": operator.name, "role": "operator"}
    assert task["cancelled_by"] == {"key_id": admin.key_id, "name": admin.name, "role": "admin"}
    lines = "\n".join(task["logs"])
    assert f"started by key '{operator.name}' #{operator.key_id} (operator)" in lines
    assert f"Cancelled before it started by key '{admin.name}' #{admin.key_id} (admin)" in lines


def test_x_api_key_works_like_bearer(required_app):
    client = required_app.test_client()
    viewer = create_key(required_app, "viewer")
    assert client.get(f"{API}/tasks", headers={"X-API-Key": viewer.key}).status_code == 200
    house_error(client.get(f"{API}/tasks", headers={"X-API-Key": viewer.key + "x"}), 401)


def test_a_revoked_key_is_refused(required_app):
    client = required_app.test_client()
    operator = create_key(required_app, "operator")
    assert client.get(f"{API}/tasks", headers=operator).status_code == 200
    result = required_app.test_cli_runner().invoke(args=["keys", "revoke", operator.name])
    assert result.exit_code == 0, result.output
    body = house_error(client.get(f"{API}/tasks", headers=operator), 401)
    assert "revoked" in body["message"]


def test_the_service_token_is_not_a_key(app, client):
    bearer = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    house_error(client.get(f"{API}/tasks", headers=bearer, environ_base=ELSEWHERE), 401)
    # Not even from loopback: a presented credential that is not a key is refused, never ignored.
    house_error(client.post(f"{API}/trials/start", json={}, headers=bearer), 401)
    assert task_count(app) == 0


def test_the_key_is_never_in_a_response_a_task_or_a_log(required_app, collector_config):
    runner = required_app.test_cli_runner()
    result = runner.invoke(args=["keys", "create", "ci-bot", "--role", "operator"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("clk_") and len(key) > 40
    client = required_app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    responses = [client.post(f"{API}/trials/start", json={}, headers=auth)]
    task_id = responses[0].json["task_id"]
    responses += [client.get(f"{API}/task/{task_id}", headers=auth), client.get(f"{API}/tasks", headers=auth),
                  client.get(f"{API}/task/{task_id}/logs", headers=auth),
                  client.delete(f"{API}/task/{task_id}", headers=auth),
                  client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {key}x"})]
    listing = runner.invoke(args=["keys", "list", "--all"])
    assert "ci-bot" in listing.output
    for text in [r.get_data(as_text=True) for r in responses] + [listing.output]:
        assert key not in text
    logs = "".join(path.read_text() for path in (collector_config["LOG_DIR"]).glob("*.log"))
    assert "ci-bot" in logs and key not in logs
    with required_app.app_context():
        stored = db.session.scalars(select(ApiKey)).one()
        assert stored.key_hash != key and key not in stored.key_hash and stored.last_used_at is not None


def test_writes_need_a_json_body(app, client):
    for content_type, data in ((FORM, "target_date=2026-05-19"), ("text/plain", '{"per_page": 10}'),
                               ("multipart/form-data; boundary=x", "--x--")):
        body = house_error(client.post(f"{API}/trials/start", data=data, content_type=content_type), 415)
        assert "application/json" in body["message"]
    house_error(client.post(f"{API}/cleanup?max_age_hours=0", data="", content_type=FORM), 415)
    assert task_count(app) == 0
    assert client.post(f"{API}/trials/start", json={}).status_code == 202


def test_a_cross_site_form_post_is_refused_and_starts_nothing(app, client):
    evil = {"Origin": "https://evil.example"}
    body = house_error(client.post(f"{API}/grader/start", data="", content_type=FORM, headers=evil), 403)
    assert "Cross-site" in body["message"]
    # A JSON write from another site's script is refused too, even to a loopback client.
    house_error(client.post(f"{API}/trials/start", json={}, headers=evil), 403)
    house_error(client.post(f"{API}/trials/start", json={}, headers={"Origin": "null"}), 403)
    assert task_count(app) == 0
    # The dashboard's own origin may write.
    assert client.post(f"{API}/trials/start", json={}, headers={"Origin": "http://localhost"}).status_code == 202


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:5105", "attacker.test:80"])
def test_a_host_that_is_not_allowed_is_refused(client, host):
    house_error(client.get("/health", headers={"Host": host}), 400)
    house_error(client.post(f"{API}/trials/start", json={}, headers={"Host": host}), 400)


@pytest.mark.parametrize("host", ["localhost", "localhost:5105", "127.0.0.1:5105", "[::1]:5105", "LOCALHOST"])
def test_loopback_names_are_allowed_hosts(client, host):
    assert client.get("/health", headers={"Host": host}).status_code == 200


def test_configured_hosts_and_bind_name_are_allowed(make_collector_app):
    app = make_collector_app(COLLECTOR_ALLOWED_HOSTS=["collector.internal"])
    client = app.test_client()
    assert client.get("/health", headers={"Host": "collector.internal:8000"}).status_code == 200
    house_error(client.get("/health", headers={"Host": "localhost"}), 400)


PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


def test_cors_preflight_from_an_unconfigured_origin_gets_no_allow_origin(client):
    response = client.options(f"{API}/trials/start", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in response.headers
    read = client.get(f"{API}/tasks", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in read.headers


def test_a_configured_cors_origin_is_allowed_but_needs_a_key(make_collector_app):
    app = make_collector_app(COLLECTOR_CORS_ORIGINS=["https://ui.example"])
    client = app.test_client()
    origin = {"Origin": "https://ui.example"}
    preflight = client.options(f"{API}/trials/start", headers={**origin, **PREFLIGHT})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()
    other = client.options(f"{API}/trials/start", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in other.headers
    # A browser page of that origin is not a loopback operator: it sends a key.
    house_error(client.post(f"{API}/trials/start", json={}, headers=origin), 401)
    operator = create_key(app, "operator")
    started = client.post(f"{API}/trials/start", json={}, headers={**origin, **operator})
    assert started.status_code == 202 and started.headers["Access-Control-Allow-Origin"] == "https://ui.example"


def test_forwarded_for_is_ignored_unless_proxies_are_configured(make_collector_app):
    forwarded = {"X-Forwarded-For": "127.0.0.1"}
    app = make_collector_app()
    house_error(app.test_client().get(f"{API}/tasks", headers=forwarded, environ_base=ELSEWHERE), 401)
    behind_proxy = make_collector_app(COLLECTOR_TRUSTED_PROXIES=1)
    client = behind_proxy.test_client()  # the proxy is on loopback; the client it forwards is not
    house_error(client.get(f"{API}/tasks", headers={"X-Forwarded-For": "203.0.113.9"}), 401)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_dashboard_login_with_a_key_and_csrf_on_every_write(required_app):
    client = required_app.test_client()
    anonymous = client.get("/")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    operator = create_key(required_app, "operator")
    page = client.get("/login").get_data(as_text=True)
    house_error(client.post("/login", data={"key": operator.key}), 400)  # no CSRF token
    wrong = client.post("/login", data={"key": operator.key + "x", "csrf_token": csrf_token(page)})
    assert wrong.status_code == 401 and operator.key not in wrong.get_data(as_text=True)
    logged_in = client.post("/login?next=//evil.example/", data={"key": operator.key, "csrf_token": csrf_token(page)})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', dashboard.get_data(as_text=True)).group(1)
    assert client.get(f"{API}/tasks").status_code == 200  # the session reads the API
    house_error(client.post(f"{API}/trials/start", json={}), 400)  # a session write without the token
    assert task_count(required_app) == 0
    started = client.post(f"{API}/trials/start", json={}, headers={"X-CSRFToken": token})
    assert started.status_code == 202
    assert task_of_with(client, started.json["task_id"])["started_by"]["name"] == operator.name
    house_error(client.post("/logout"), 400)  # logout is a form with its token too
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def task_of_with(client, task_id):
    response = client.get(f"{API}/task/{task_id}")
    assert response.status_code == 200
    return response.json


def test_revoking_the_key_ends_its_dashboard_session(required_app):
    client = required_app.test_client()
    viewer = create_key(required_app, "viewer")
    page = client.get("/login").get_data(as_text=True)
    assert client.post("/login", data={"key": viewer.key, "csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/").status_code == 200
    assert required_app.test_cli_runner().invoke(args=["keys", "revoke", str(viewer.key_id)]).exit_code == 0
    assert client.get("/").status_code == 302


def test_dashboard_admin_password_login(make_collector_app):
    app = make_collector_app(COLLECTOR_AUTH="required", COLLECTOR_ADMIN_PASSWORD="pw-0123456789")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert client.post("/login", data={"password": "nope", "csrf_token": csrf_token(page)}).status_code == 401
    assert client.post("/login", data={"password": "pw-0123456789", "csrf_token": csrf_token(page)}).status_code == 302
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    cleaned = client.post(f"{API}/cleanup?max_age_hours=0", headers={"X-CSRFToken": token})
    assert cleaned.status_code == 200, cleaned.json
    # Another password configured: the old session no longer counts.
    app.config["COLLECTOR_ADMIN_PASSWORD"] = "another-password"
    assert client.get("/").status_code == 302


def test_refused_logins_are_throttled_per_address_and_logins_that_succeed_do_not_count(make_collector_app):
    app = make_collector_app(COLLECTOR_AUTH="required", COLLECTOR_ADMIN_PASSWORD="pw-0123456789",
                             COLLECTOR_LOGIN_LIMIT="3/minute")

    def attempt(password: str, address: str = "127.0.0.1"):
        client = app.test_client()  # a fresh session and CSRF token each time, as a login clears them
        page = client.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
        return client.post("/login", data={"password": password, "csrf_token": csrf_token(page)},
                           environ_base={"REMOTE_ADDR": address})

    assert [attempt("pw-0123456789").status_code for _ in range(4)] == [302] * 4
    assert [attempt("nope").status_code for _ in range(5)] == [401, 401, 401, 429, 429]
    throttled = attempt("pw-0123456789")  # the right password too, from this address, until the window moves
    assert throttled.status_code == 429 and throttled.mimetype == "text/html"
    assert "Too many refused logins" in throttled.get_data(as_text=True)
    assert 0 < int(throttled.headers["Retry-After"]) <= 60
    assert attempt("pw-0123456789", ELSEWHERE["REMOTE_ADDR"]).status_code == 302  # another address is not held


def test_loopback_dashboard_needs_no_login_in_protected_mode(client):
    assert client.get("/").status_code == 200
    assert client.get("/", environ_base=ELSEWHERE).status_code == 302
