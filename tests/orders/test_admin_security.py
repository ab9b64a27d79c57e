"""The admin page tried as a hostile user would: a copied cookie after logout, A's cookie on B,
30 wrong passwords then the right one, a cross-site logout, and the cookie's SameSite."""
from __future__ import annotations

import re

import pytest
from itsdangerous import BadSignature

from tests.support.orders import csrf, log_in
from tests.support.processes import free_port

LISTING = "/admin/order/"


def cookie_name(app) -> str:
    return app.config["SESSION_COOKIE_NAME"]


def logout_token(page: str) -> str:
    form = re.search(r'<form method="post" action="/admin/logout".*?</form>', page, re.S).group(0)
    return csrf(form)


@pytest.fixture
def admin(client):
    assert log_in(client).status_code == 302
    return client


def logged_in(client) -> bool:
    response = client.get(LISTING)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_the_session_cookie_is_samesite_lax_and_http_only(client):
    # A `setdefault` on a key Flask already defines (as None) never set SameSite.
    response = log_in(client)
    assert response.status_code == 302
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("orders_a_session="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_a_copied_cookie_stops_working_after_logout(app, client):
    assert log_in(client).status_code == 302
    stolen = client.get_cookie(cookie_name(app)).value
    thief = app.test_client()
    thief.set_cookie(cookie_name(app), stolen)
    assert logged_in(thief)
    listing = client.get(LISTING).text
    assert 'id="logout"' in listing
    response = client.post("/admin/logout", data={"csrf_token": logout_token(listing)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/login")
    assert not logged_in(client)
    assert not logged_in(thief)  # the copy is worth nothing once its session is over
    assert "Log in" in thief.get("/admin/login").text


def test_a_cookie_of_a_does_not_open_b(make_orders_app):
    # Both are given the same ORDERS_SECRET_KEY, as `make up` does.
    app_a, app_b = make_orders_app("A"), make_orders_app("B")
    assert app_a.config["SECRET_KEY"] != app_b.config["SECRET_KEY"]
    client_a = app_a.test_client()
    assert log_in(client_a).status_code == 302
    cookie = client_a.get_cookie(cookie_name(app_a)).value
    with pytest.raises(BadSignature):  # signed with A's own key
        app_b.session_interface.get_signing_serializer(app_b).loads(cookie)
    client_b = app_b.test_client()
    client_b.set_cookie(cookie_name(app_b), cookie)
    assert not logged_in(client_b)
    assert logged_in(client_a)


def test_thirty_wrong_passwords_then_the_right_one_is_throttled(make_orders_app):
    app = make_orders_app("A")
    client = app.test_client()
    answers = [log_in(client, password=f"guess-{n}") for n in range(30)]
    assert [response.status_code for response in answers[:5]] == [200] * 5
    assert all("Wrong user or password" in response.text for response in answers[:5])
    assert {response.status_code for response in answers[5:]} == {429}
    throttled = answers[-1]
    assert "Too many login attempts" in throttled.text and throttled.mimetype == "text/html"
    assert 0 < int(throttled.headers["Retry-After"]) <= 60
    right = log_in(client)
    assert right.status_code == 429 and not logged_in(client)
    # The count lives in Redis: another worker process of the same instance refuses too.
    other_worker = make_orders_app("A", ORDERS_ADMIN_LOGIN_KEY_PREFIX=app.config["ORDERS_ADMIN_LOGIN_KEY_PREFIX"])
    assert log_in(other_worker.test_client()).status_code == 429
    # Another client address is counted apart (a throttle, not a lockout anyone can cause).
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert log_in(elsewhere).status_code == 302 and logged_in(elsewhere)


def test_login_throttle_falls_back_to_memory_while_redis_is_down(make_orders_app):
    app = make_orders_app("A", ORDERS_ADMIN_LOGIN_STORAGE=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    assert log_in(client).status_code == 302  # no Redis: logins still work
    statuses = [log_in(client, password="wrong").status_code for _ in range(6)]
    assert statuses[-1] == 429


def test_a_cross_site_logout_without_a_token_is_refused(admin, client):
    forged = client.post("/admin/logout", data={}, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 400 and "CSRF" in forged.text
    assert client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/admin/logout").status_code == 405  # a link or <img> cannot log anyone out
    assert logged_in(client)


def test_every_admin_form_carries_a_csrf_token(admin):
    for url in ("/admin/order/", "/admin/order/new/", "/admin/collision/"):
        page = admin.get(url).text
        forms = re.findall(r'<form[^>]*method="post".*?</form>', page, re.S | re.I)
        assert forms, url
        for form in forms:
            assert 'name="csrf_token"' in form, (url, form[:200])


def test_a_login_ends_after_its_lifetime(make_orders_app):
    client = make_orders_app("A", ORDERS_ADMIN_SESSION_HOURS=0.0).test_client()
    assert log_in(client).status_code == 302
    assert not logged_in(client)
