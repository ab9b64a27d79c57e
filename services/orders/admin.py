"""The admin page at /admin (Flask-Admin): orders with their sync state, and collisions.

Every write goes through the domain module (`orders.create_order` / `write_content` /
`delete_order`), never through Flask-Admin's `populate_obj`, so versions, totals and the
change feed stay right and a delete stays a tombstone.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import ClassVar

import marshmallow as ma
from flask import (
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template_string,
    request,
    url_for,
)
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.form import SecureForm
from flask_admin.theme import Bootstrap4Theme
from flask_limiter import Limiter, RequestLimit
from markupsafe import Markup, escape
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from services.orders import admin_sessions, orders
from services.orders.models import STATUSES, Collision, Order, SyncLedger, db
from services.orders.schemas import OrderContentSchema
from services.orders.sync import ledger as ledgers
from services.orders.sync import task_states
from shared.login_throttle import retry_after, throttle_login

PAGE_STYLE = "font-family: sans-serif; max-width: 24rem; margin: 4rem auto"
LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Orders {{ instance }}: log in</title></head>
<body style="{{ style }}">
<h1>Orders {{ instance }}</h1>
{% if error %}<p id="login-error" style="color: #b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('admin.login', next=next) if next else url_for('admin.login') }}">
  {{ form.csrf_token }}
  <p><label>User {{ form.username(autocomplete="username") }}</label></p>
  <p><label>Password {{ form.password(autocomplete="current-password") }}</label></p>
  <p><button id="login" type="submit">Log in</button></p>
</form></body></html>"""
MESSAGE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Orders {{ instance }}: {{ title }}</title></head>
<body style="{{ style }}">
<h1>{{ title }}</h1>
<p id="message">{{ message }}</p>
<p><a href="{{ url_for('admin.login') }}">Back to the login page</a></p>
</body></html>"""


class LoginForm(SecureForm):
    username = StringField("User")
    password = PasswordField("Password")


class LogoutForm(SecureForm):
    """Only its CSRF token: logging out is a POST another site cannot forge."""


def logged_in() -> bool:
    return admin_sessions.is_active()


def _message_page(status: int, title: str, message: str, headers: dict | None = None) -> Response:
    body = render_template_string(MESSAGE_PAGE, title=title, message=message, style=PAGE_STYLE,
                                  instance=current_app.config["ORDERS_INSTANCE"])
    return Response(body, status, headers, mimetype="text/html")


def _credentials_ok(user: str, password: str) -> bool:
    config = current_app.config
    expected = config["ORDERS_ADMIN_PASSWORD"] or ""
    user_ok = hmac.compare_digest((user or "").encode(), config["ORDERS_ADMIN_USER"].encode())
    password_ok = hmac.compare_digest((password or "").encode(), expected.encode())
    return bool(expected) and user_ok and password_ok


class LoginRequired:
    def is_accessible(self):
        return logged_in()

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("admin.login", next=request.full_path))


class OrdersIndexView(AdminIndexView):
    @expose("/")
    def index(self):
        if not logged_in():
            return redirect(url_for(".login"))
        return redirect(url_for("order.index_view"))

    @expose("/login", methods=("GET", "POST"))
    def login(self):
        """Throttled per client and user name by `init_admin` (every POST counts)."""
        config = current_app.config
        error = None
        form = LoginForm(request.form if request.method == "POST" else None)
        if request.method == "POST":
            if not form.validate():  # the only validator: the CSRF token
                error = "The form expired; please try again."
            elif _credentials_ok(form.username.data, form.password.data):
                admin_sessions.begin(config["ORDERS_ADMIN_USER"])
                target = request.args.get("next") or ""
                return redirect(target if target.startswith("/admin") else url_for(".index"))
            else:
                current_app.logger.warning("admin login refused")
                password = config["ORDERS_ADMIN_PASSWORD"]
                error = "Wrong user or password." if password else "Admin login is disabled (no ORDERS_ADMIN_PASSWORD)."
        return render_template_string(LOGIN_PAGE, error=error, form=form, style=PAGE_STYLE,
                                      next=request.args.get("next"), instance=config["ORDERS_INSTANCE"])

    @expose("/logout", methods=("POST",))
    def logout(self):
        if not LogoutForm(request.form).validate():
            return _message_page(400, "Not logged out",
                                 "This logout did not come from the admin page (no valid CSRF token).")
        admin_sessions.end()
        return redirect(url_for(".login"))


def _sync_state(view, context, order, name):
    if not current_app.config["ORDERS_PEER_URL"]:
        return "-"  # no integration beside this instance (it is the other side's peer)
    state = ledgers.effective_state(order, db.session.get(SyncLedger, order.uuid))
    return f"{state}: {task_states.label(state)}"   # the ledger's name, then the task's (ST_OK (3))


def _form_content(form, fallback_number: str) -> dict:
    data = {key: form.data.get(key) for key in ("number", "customer_name", "customer_email", "items", "currency",
                                                  "status", "note")}
    data = {key: value for key, value in data.items() if value not in (None, "")}
    loaded = OrderContentSchema(only=("number", "customer_name", "customer_email", "items", "currency", "status",
                               "note")).load(data)
    return orders.normalise_content(loaded, current_app.config["ORDERS_DEFAULT_CURRENCY"], fallback_number)


class OrderAdmin(LoginRequired, ModelView):
    form_base_class = SecureForm
    column_list = ("number", "customer_name", "customer_email", "status", "total", "currency", "note", "version",
                   "deleted", "updated_at", "sync_state")
    column_labels: ClassVar[dict] = {"sync_state": "Sync state"}
    column_formatters: ClassVar[dict] = {"sync_state": _sync_state}
    column_searchable_list = ("uuid", "number", "customer_name", "customer_email")
    column_filters = ("status", "deleted", "currency")
    column_default_sort = ("updated_at", True)
    column_details_list = ("uuid", "number", "customer_name", "customer_email", "items", "total", "currency",
                           "status", "note", "created_at", "updated_at", "version", "deleted", "seq", "sync_state")
    can_view_details = True
    form_columns = ("number", "customer_name", "customer_email", "items", "currency", "status", "note")
    form_overrides: ClassVar[dict] = {"status": SelectField}
    form_args: ClassVar[dict] = {
        "status": {"choices": list(STATUSES)},
        "items": {"description": 'JSON, e.g. [{"sku": "A1", "name": "Mug", "qty": 2, "unit_price": "9.50"}]'},
    }

    def scaffold_form(self):
        form_class = super().scaffold_form()
        # The column is NOT NULL, but the form may leave it empty: the domain fills it in.
        form_class.number = StringField("Number", validators=[Optional(), Length(max=64)],
                                        description="Empty: ORD-<first 8 hex digits of the uuid>")
        return form_class

    def _write(self, do) -> Order | None:
        try:
            result = do()
        except ma.ValidationError as exc:
            flash(f"Not saved: {exc.messages}", "error")
        except (orders.ContentConflict, orders.PreconditionFailed) as exc:
            flash(f"Not saved: {exc}", "error")
        else:
            db.session.commit()
            return result.order
        db.session.rollback()
        return None

    def create_model(self, form):
        def do():
            uuid = str(orders.uuidlib.uuid4())
            return orders.write_content(uuid, _form_content(form, orders.default_number(uuid)))
        return self._write(do) or False

    def update_model(self, form, model):
        return self._write(lambda: orders.write_content(model.uuid, _form_content(form, model.number))) is not None

    def delete_model(self, model):
        return self._write(lambda: orders.delete_order(model.uuid, None)) is not None


def _resolve(ids, take):
    done = 0
    for collision in db.session.scalars(db.select(Collision).where(Collision.id.in_([int(i) for i in ids]))):
        if collision.resolved_at is None:
            ledgers.resolve(collision.uuid, take)
            done += 1
    db.session.commit()
    flash(f"Took the {take} side for {done} collision(s).")


class CollisionAdmin(LoginRequired, ModelView):
    form_base_class = SecureForm  # the resolve actions carry a CSRF token too
    can_create = can_edit = can_delete = False
    can_view_details = True
    column_list = ("uuid", "detected_at", "local_version", "peer_version", "local_content", "peer_content",
                   "resolution", "resolved_at")
    column_default_sort = ("id", True)
    column_filters = ("resolution",)
    column_formatters: ClassVar[dict] = {
        "local_content": lambda v, c, m, n: _content_summary(m.local_content),
        "peer_content": lambda v, c, m, n: _content_summary(m.peer_content),
    }

    @action("take_local", "Resolve: take the local side", "Keep this instance's version of the selected orders?")
    def take_local(self, ids):
        _resolve(ids, "local")

    @action("take_peer", "Resolve: take the peer's side", "Take the peer's version of the selected orders?")
    def take_peer(self, ids):
        _resolve(ids, "peer")


def _content_summary(content: dict | None) -> Markup:
    if not content:
        return Markup("")
    text = (f"{content.get('status')} / {content.get('customer_name')} / note: {content.get('note')!s:.60}"
            f"{' / DELETED' if content.get('deleted') else ''}")
    return Markup(escape(text))


def _login_attempt_key() -> str:
    user = hashlib.sha256(request.form.get("username", "").encode()).hexdigest()[:16]
    return f"{request.remote_addr}:{user}"


def _too_many_logins(limit: RequestLimit) -> Response:
    seconds = retry_after(limit)
    current_app.logger.warning("admin login throttled for %s s", seconds)
    return _message_page(429, "Too many login attempts",
                         f"Too many login attempts from this address for this user; try again in {seconds} s.",
                         {"Retry-After": str(seconds)})


def throttle_admin_login(app: Flask) -> Limiter:
    """At most ORDERS_ADMIN_LOGIN_LIMIT login POSTs per client address and user name, counted in
    ORDERS_ADMIN_LOGIN_STORAGE (shared/login_throttle.py)."""
    config = app.config
    return throttle_login(app, "admin.login", limit=config["ORDERS_ADMIN_LOGIN_LIMIT"],
                          storage_uri=config["ORDERS_ADMIN_LOGIN_STORAGE"],
                          key_prefix=config["ORDERS_ADMIN_LOGIN_KEY_PREFIX"], key_func=_login_attempt_key,
                          on_breach=_too_many_logins)


def init_admin(app: Flask) -> None:
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)  # sessions last as long as this process
    instance = app.config["ORDERS_INSTANCE"]
    app.config["SECRET_KEY"] = admin_sessions.instance_secret_key(app.config["SECRET_KEY"], instance)
    # Cookies are per host, not per port: A and B on one machine must not share a session.
    app.config["SESSION_COOKIE_NAME"] = f"orders_{instance.lower()}_session"
    app.session_interface = admin_sessions.AdminCookieSessions()
    app.jinja_env.globals["admin_logout_form"] = lambda: LogoutForm() if logged_in() else None
    admin = Admin(app, name=f"Orders {instance}", theme=Bootstrap4Theme(base_template="orders_admin/base.html"),
                  index_view=OrdersIndexView(url="/admin"))
    admin.add_view(OrderAdmin(Order, db, name="Orders", endpoint="order"))
    admin.add_view(CollisionAdmin(Collision, db, name="Collisions", endpoint="collision"))
    throttle_admin_login(app)
