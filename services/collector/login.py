"""The dashboard's login: an API key, or the admin password from COLLECTOR_ADMIN_PASSWORD.

The session (a signed cookie, SameSite=Lax) keeps only the key's id, or a mark of the password:
revoking the key, or changing the password, ends it. Both forms carry a CSRF token (Flask-WTF).
Refused logins are throttled per client address (COLLECTOR_LOGIN_LIMIT, 5 a minute, counted in
Redis: shared/login_throttle.py); a login that succeeds does not count.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask_limiter import Limiter, RequestLimit
from flask_wtf import FlaskForm
from wtforms import PasswordField

from services.collector import api_keys
from services.collector.access import password_fingerprint
from shared.login_throttle import retry_after, throttle_login

log = logging.getLogger(__name__)
login_pages = Blueprint("login", __name__, template_folder="templates")
WRONG = "That key or password is not valid."


class LoginForm(FlaskForm):
    key = PasswordField("API key")
    password = PasswordField("Admin password")


class LogoutForm(FlaskForm):
    pass


def safe_next(target: str | None) -> str:
    """Only a path on this site (never `//host` or a URL), so the login cannot redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


@login_pages.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        key, password = (form.key.data or "").strip(), form.password.data or ""
        configured = current_app.config["COLLECTOR_ADMIN_PASSWORD"]
        caller = api_keys.authenticate(key) if key else None
        by_password = (caller is None and bool(password) and bool(configured)
                       and hmac.compare_digest(password.encode(), configured.encode()))
        if caller is not None or by_password:
            session.clear()  # a fresh session (and CSRF token) for the logged-in user
            if caller is not None:
                session["key_id"] = caller.key_id
            else:
                session["password"] = password_fingerprint()
            session.permanent = True
            log.info("dashboard login: %s", caller.describe() if caller else "admin password")
            return redirect(safe_next(request.args.get("next")))
        log.warning("dashboard login refused from %s", request.remote_addr)
        error = WRONG
    return _login_page(form, error, 401 if error else 200)


def _login_page(form: LoginForm, error: str | None, status: int, headers: dict | None = None):
    return render_template("collector/login.html", form=form, error=error,
                           password_login=bool(current_app.config["COLLECTOR_ADMIN_PASSWORD"])), status, headers or {}


def _too_many_logins(limit: RequestLimit):
    seconds = retry_after(limit)
    log.warning("dashboard login throttled for %s s from %s", seconds, request.remote_addr)
    return current_app.make_response(_login_page(
        LoginForm(), f"Too many refused logins from this address; try again in {seconds} s.", 429,
        {"Retry-After": str(seconds)}))


def throttle_logins(app: Flask) -> Limiter:
    """At most COLLECTOR_LOGIN_LIMIT refused logins per client address, counted in COLLECTOR_LOGIN_STORAGE."""
    config = app.config
    return throttle_login(app, "login.login", limit=config["COLLECTOR_LOGIN_LIMIT"],
                          storage_uri=config["COLLECTOR_LOGIN_STORAGE"],
                          key_prefix=f"{config['COLLECTOR_NAMESPACE']}:login",
                          key_func=lambda: request.remote_addr or "-", on_breach=_too_many_logins,
                          deduct_when=lambda response: response.status_code == 401)


@login_pages.post("/logout")
def logout():
    LogoutForm().validate_on_submit()  # CSRFProtect has checked the token already
    session.clear()
    return redirect(url_for("login.login"))
