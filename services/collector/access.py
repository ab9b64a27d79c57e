"""Who may call the collector, and from where.

Every request passes, in order: the Host check (DNS rebinding against loopback), then for a
write the cross-site check (an Origin that is neither this site nor a configured CORS origin is
refused) and, on the JSON API, the JSON-body check (415); then the caller is found: an API key
(`Authorization: Bearer <key>` or `X-API-Key`), else the dashboard's login session (whose writes
carry its CSRF token), else, in protected mode only, an anonymous loopback client served as an
operator. Each view names the role it needs with `@requires(role)`; a view that names none
needs a viewer to read and an admin to write.

The service token is not a key here: sent to the collector it is refused like any unknown key.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from functools import partial
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_smorest import Blueprint, abort
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from services.collector import api_keys
from services.collector.api_keys import ADMIN, OPERATOR, VIEWER, Caller
from shared.api import error_response

PROTECTED, REQUIRED = "protected", "required"
MODES = (PROTECTED, REQUIRED)
LOOPBACK = Caller("loopback", OPERATOR)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_ATTRIBUTE = "collector_role"
# Open to everyone: liveness, the API's description, the dashboard's static files and its login page.
OPEN_ENDPOINTS = frozenset({"health.Health", "api-docs.openapi_json", "api-docs.openapi_swagger_ui",
                            "dashboard.static", "login.login", "login.logout", "static"})
# The dashboard's pages: an anonymous visitor is sent to the login page instead of a 401.
PAGE_BLUEPRINTS = frozenset({"dashboard", "sample_view"})
API_KEY_SCHEME, BEARER_SCHEME = "apiKey", "bearerKey"

NO_KEY = "This request needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
BAD_KEY = "The API key is not valid (unknown or revoked)."
NOT_JSON = "Writes take a JSON body: send it with Content-Type: application/json."
BAD_HOST = "The Host header names a host this service does not answer for (COLLECTOR_ALLOWED_HOSTS)."
CROSS_SITE = "Cross-site requests may not write here; configure the origin in COLLECTOR_CORS_ORIGINS."

csrf = CSRFProtect()
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::[0-9]{1,5})?", re.IGNORECASE)


def not_allowed_message(needed: str, caller: Caller) -> str:
    return f"This needs the {needed} role; {caller.describe()} may not."


def requires(role: str):
    """The role a view needs (viewer, operator or admin), checked before it runs and documented."""
    if role not in api_keys.ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view):
        setattr(view, ROLE_ATTRIBUTE, role)
        responses = {
            "401": error_response(401, "No API key, or one that is unknown or revoked", NO_KEY),
            "403": error_response(403, f"The key's role is below {role}, or a cross-site write",
                                  not_allowed_message(role, Caller("reader", VIEWER, 7))),
        }
        return Blueprint.doc(security=[{API_KEY_SCHEME: []}, {BEARER_SCHEME: []}], responses=responses)(view)

    return decorate


def json_body(view):
    """Document the 415 that a write with a body other than JSON gets (the check itself is for every write)."""
    return Blueprint.doc(responses={"415": error_response(415, "The body is not JSON", NOT_JSON)})(view)


def current_caller() -> Caller | None:
    """Who this request is on behalf of (set once the access checks have passed)."""
    return g.get("collector_caller")


# --- the checks, in the order they run -------------------------------------------------------------

def check_host() -> None:
    match = _HOST.fullmatch(request.host or "")
    allowed = current_app.config["COLLECTOR_ALLOWED_HOSTS"]
    if "*" in allowed:
        return
    name = match.group(1).lower().rstrip(".") if match else None
    if name is None or not any(name == host or (host.startswith(".") and name.endswith(host)) for host in allowed):
        abort(400, message=BAD_HOST)


def foreign_origin() -> str | None:
    """The request's Origin if it is another site's (a browser sends one on every cross-origin write)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    parts = urlsplit(origin)
    if parts.scheme in ("http", "https") and parts.netloc.lower() == (request.host or "").lower():
        return None
    return origin


def check_request():
    """The app's before_request: host, cross-site, body type, caller and role."""
    check_host()
    if request.method == "OPTIONS" or request.endpoint is None or request.endpoint in OPEN_ENDPOINTS:
        return None  # a preflight, a 404/405 (raised after this), or an open page
    write = request.method not in SAFE_METHODS
    origin = foreign_origin()
    if write and origin is not None and origin not in current_app.config["COLLECTOR_CORS_ORIGINS"]:
        abort(403, message=CROSS_SITE)
    if write and request.blueprint not in PAGE_BLUEPRINTS:
        check_json_body()
    caller = find_caller(write, cross_origin=origin is not None)
    if caller is None:
        if request.blueprint in PAGE_BLUEPRINTS:
            return redirect(url_for("login.login", next=request.full_path.rstrip("?")))
        abort(401, message=NO_KEY, headers={"WWW-Authenticate": "Bearer"})
    needed = needed_role()
    if not api_keys.allows(caller.role, needed):
        abort(403, message=not_allowed_message(needed, caller))
    g.collector_caller = caller
    return None


def check_json_body() -> None:
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not has_body and "Content-Type" not in request.headers:
        return  # nothing sent: a POST with its query string only (cleanup), or a DELETE
    mimetype = request.mimetype
    if mimetype != "application/json" and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        abort(415, message=NOT_JSON)


def presented_key() -> str | None:
    if "X-API-Key" in request.headers:
        return request.headers["X-API-Key"].strip()
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return None
    _scheme, _, value = authorization.partition(" ")
    return value.strip()  # any scheme: a credential that is not a valid key is refused, not ignored


def find_caller(write: bool, cross_origin: bool) -> Caller | None:
    key = presented_key()
    if key is not None:
        caller = api_keys.authenticate(key) if key else None
        if caller is None:
            abort(401, message=BAD_KEY, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return caller
    caller = session_caller()
    if caller is not None:
        if write:
            csrf.protect()  # the dashboard's script sends its token in X-CSRFToken
        return caller
    config = current_app.config
    if config["COLLECTOR_AUTH"] == PROTECTED and not cross_origin and is_loopback(request.remote_addr):
        return LOOPBACK
    return None


def session_caller() -> Caller | None:
    """The dashboard login's caller, while its key is active (or the admin password unchanged)."""
    key_id = session.get("key_id")
    if isinstance(key_id, int):
        return api_keys.active_key(key_id)
    if session.get("password") and session.get("password") == password_fingerprint():
        return Caller("dashboard-admin", ADMIN)
    return None


def password_fingerprint() -> str | None:
    """A mark of the configured admin password kept in the session: changing the password logs everyone out."""
    password = current_app.config["COLLECTOR_ADMIN_PASSWORD"]
    if not password:
        return None
    return hmac.new(current_app.secret_key.encode(), password.encode(), hashlib.sha256).hexdigest()[:32]


def needed_role() -> str:
    view = current_app.view_functions[request.endpoint]
    handler = view
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = "get" if request.method == "HEAD" else request.method.lower()
        handler = getattr(view_class, method, None)
    role = getattr(handler, ROLE_ATTRIBUTE, None)
    if role is not None:
        return role
    return VIEWER if request.method in SAFE_METHODS else ADMIN


def normalise_host(host: str) -> str:
    """A configured host name as check_host compares it: lower case, an IPv6 address in brackets."""
    host = host.strip().lower().rstrip(".")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host


def is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


# --- wiring ---------------------------------------------------------------------------------------

def init_access(app: Flask, api_blueprints) -> None:
    """Install the checks, the CSRF protection of the dashboard's forms, CORS and the proxy count."""
    config = app.config
    if config["COLLECTOR_AUTH"] not in MODES:
        raise ValueError(f"COLLECTOR_AUTH must be one of {', '.join(MODES)}, got {config['COLLECTOR_AUTH']!r}")
    config["COLLECTOR_ALLOWED_HOSTS"] = [normalise_host(host) for host in config["COLLECTOR_ALLOWED_HOSTS"]]
    proxies = config["COLLECTOR_TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.before_request(check_request)  # first, so a bad Host is refused before any other check
    csrf.init_app(app)
    for blueprint in api_blueprints:
        csrf.exempt(blueprint)  # key or loopback callers; session writes are checked in find_caller
    origins = config["COLLECTOR_CORS_ORIGINS"]
    if origins:
        from flask_cors import CORS

        CORS(app, resources={r"/api/*": {"origins": origins}}, supports_credentials=False, max_age=600,
             allow_headers=["Authorization", "X-API-Key", "Content-Type"],
             expose_headers=["X-Pagination", "Link", "ETag"])


def document_security(api) -> None:
    """The two ways to send a key, in the OpenAPI document's components."""
    described = partial(api.spec.components.security_scheme)
    mode_note = ("With COLLECTOR_AUTH=protected (the default of `make up`) an anonymous client on loopback is "
                 "served as an operator; with COLLECTOR_AUTH=required every call needs a key.")
    described(API_KEY_SCHEME, {"type": "apiKey", "in": "header", "name": "X-API-Key",
                               "description": "A collector API key (`flask --app services.collector keys create`). "
                                              + mode_note})
    described(BEARER_SCHEME, {"type": "http", "scheme": "bearer",
                              "description": "The same key as `Authorization: Bearer <key>`. " + mode_note})
