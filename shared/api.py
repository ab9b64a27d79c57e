"""The flask-smorest `Api` every service uses, with the one JSON error shape.

flask-smorest already renders HTTP errors as
`{"code": 404, "status": "Not Found", "message": "...", "errors": {...}}`;
this adds the same shape for database integrity errors (409) and for anything
unexpected (500, logged with its traceback, never echoed to the client).
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from importlib.resources import files
from pathlib import Path

import flask_smorest
from apispec import BasePlugin
from flask import Request, g, request, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from flask_smorest import etag as fs_etag
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy.exc import IntegrityError, OperationalError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    InternalServerError,
    RequestEntityTooLarge,
    ServiceUnavailable,
    default_exceptions,
)

log = logging.getLogger(__name__)

SERVICE_TOKEN_SCHEME = "serviceToken"
# What the handlers below answer; views that document these errors show the same words.
CONFLICT_MESSAGE = "The request conflicts with stored data (a unique or foreign key constraint)."
DATABASE_DOWN_MESSAGE = "The database is not available; try again."
UNEXPECTED_MESSAGE = "An unexpected error occurred; it has been logged."
# JSON nested past the interpreter's recursion limit (e.g. 10,000 `[`): a 400, never a 500.
DEEP_JSON_MESSAGE = "The JSON body is nested too deeply to be read."
DEEP_JSON_ERRORS = {"json": ["Nested too deeply."]}


def too_large_message(limit: int) -> str:
    return f"The request body is larger than this service accepts ({limit} bytes at most)."


def error_example(status: int, message: str | None = None, **extra) -> dict:
    """An error body exactly as the handlers below send it, for the OpenAPI examples."""
    if message is None:  # what handle_http_exception fills in: werkzeug's description of the status
        known = default_exceptions.get(status)
        message = known.description if known else HTTPStatus(status).description
    return {"code": status, "status": HTTPStatus(status).phrase, "message": message, **extra}


def error_response(status: int, description: str, message: str | None = None) -> dict:
    """An OpenAPI response object for an error in the house shape, with a worked example."""
    return {"description": description,
            "content": {"application/json": {"schema": ErrorSchema, "example": error_example(status, message)}}}


def path_parameter(name: str, description: str, example) -> dict:
    """Documentation for a URL converter's parameter, for `Blueprint.route(..., parameters=[...])`."""
    return {"in": "path", "name": name, "description": description, "example": example}


def known_query_args() -> set[str]:
    """The query parameters the current view declared (its `@blp.arguments(..., location="query")`)."""
    return g.get("known_query_args", set())


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser, with deep JSON answered as a 400 and the declared query names kept.

    webargs parses bodies with the standard `json` module, whose RecursionError on a body
    nested thousands deep would otherwise end as a 500.
    """

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            abort(400, message=DEEP_JSON_MESSAGE, errors=DEEP_JSON_ERRORS)

    def load_querystring(self, req, schema):
        names = {field.data_key or name for name, field in schema.fields.items() if not field.dump_only}
        g.known_query_args = known_query_args() | names
        return super().load_querystring(req, schema)


class ServiceRequest(Request):
    """Flask's request, with a body of unknown length (chunked) over MAX_CONTENT_LENGTH refused
    with a 413 (werkzeug would stop reading at the limit and hand on the truncated body), and
    `request.get_json()` (views outside webargs) giving the same 400 for deep JSON."""

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        data = super().get_data(cache=cache, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and self.content_length is None and len(data) >= limit \
                and self.environ["wsgi.input"].read(1):  # more after the limit: do not read on
            raise RequestEntityTooLarge(too_large_message(limit))
        return data.decode(errors="replace") if as_text else data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise BadRequest(DEEP_JSON_MESSAGE) from None


def refuse_oversized_body() -> None:
    """A `before_request` hook: a declared Content-Length over MAX_CONTENT_LENGTH is a 413 before
    any of the body is read, on every route (werkzeug itself refuses a longer chunked body as it reads)."""
    if not request.environ.get("CONTENT_LENGTH"):  # first: a GET has none, and the limit is a config lookup
        return
    length = request.content_length
    if length is not None and (limit := request.max_content_length) is not None and length > limit:
        raise RequestEntityTooLarge(too_large_message(limit))


class BodyErrorsPlugin(BasePlugin):
    """Documents on every operation that takes a body the 400 (bad or too deep JSON) and 413 (too large)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and "requestBody" in operation:
                responses = operation.setdefault("responses", {})
                responses.setdefault("400", "BAD_REQUEST")
                responses.setdefault("413", "REQUEST_ENTITY_TOO_LARGE")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()

    def error(self, status: int, description: str, message: str | None = None):
        """Document an error this view answers: `description` in the docs, `message` as the example's text."""
        return self.alt_response(status, schema=ErrorSchema, description=description,
                                 example=error_example(status, message or description))


class ReadableJSONProvider(DefaultJSONProvider):
    """JSON as UTF-8 text, so Korean stays readable in responses.

    One exception: a lone surrogate (a client's `"\\ud800"`, echoed back in a 422) has no
    UTF-8 form, so that one response is sent with `\\u` escapes instead of failing with a 500.
    """

    ensure_ascii = False

    def response(self, *args, **kwargs):
        try:
            return super().response(*args, **kwargs)
        except UnicodeEncodeError:
            body = self.dumps(self._prepare_response_obj(args, kwargs), ensure_ascii=True)
            return self._app.response_class(f"{body}\n", mimetype=self.mimetype)


# The documentation pages' scripts and styles, served by the service itself (no CDN): Swagger UI
# from the flask-swagger-ui package (its dist/ folder, not its blueprint), ReDoc from the copy in
# shared/static/redoc/ (see its VERSION; no PyPI package ships it without a framework of its own).
DOCS_ASSETS_PREFIX = "/docs/static"
DOCS_ASSET_DIRS = {
    "swagger-ui": Path(str(files("flask_swagger_ui") / "dist")),
    "redoc": Path(__file__).with_name("static") / "redoc",
}
# On the /docs and /redoc pages: the browser loads nothing from any other host (ReDoc's sidebar
# would fetch a logo from its vendor's CDN); the pages' own inline bootstrap scripts may run.
DOCS_CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
                                "worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'")
DOCS_PAGES = frozenset({"openapi_swagger_ui", "openapi_redoc"})


def docs_asset(package: str, filename: str):
    """One of the documentation pages' files (404 for anything else)."""
    directory = DOCS_ASSET_DIRS.get(package)
    if directory is None:
        abort(404)
    return send_from_directory(directory, filename, max_age=24 * 3600)


def docs_page_policy(response):
    """An `after_request` hook of the documentation blueprint: the Content-Security-Policy above on its pages."""
    if request.endpoint.rpartition(".")[2] in DOCS_PAGES:
        response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    return response


class Api(flask_smorest.Api):
    def _register_doc_blueprint(self):
        """flask-smorest's /openapi.json, /docs and /redoc, plus the files those pages load."""
        super()._register_doc_blueprint()
        self._app.add_url_rule(f"{DOCS_ASSETS_PREFIX}/<package>/<path:filename>", "docs_asset", docs_asset)
        # The blueprint is registered by now, so its hook goes in the app's table under its name (what
        # blueprint.after_request would have put there): the pages' requests run it, no other does.
        self._app.after_request_funcs.setdefault(self._make_doc_blueprint_name(), []).append(docs_page_policy)

    def handle_http_exception(self, error):
        """Every error body carries a message: the abort()'s own, else the HTTP description."""
        data = getattr(error, "data", None) or {}
        if "message" not in data and error.description:
            data = {**data, "message": error.description}
        # Keep the exception's own headers (e.g. Allow on a 405) beside any given to abort().
        own = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        error.data = {**data, "headers": {**own, **(data.get("headers") or {})}}
        return super().handle_http_exception(error)

    def _register_responses(self):
        """flask-smorest's shared error responses, each with an example body."""
        for status in HTTPStatus:
            if status < 400:  # e.g. NOT_MODIFIED for @blp.etag: no body
                self.spec.components.response(status.name, {"description": status.phrase}, lazy=True)
            elif status not in (HTTPStatus.UNPROCESSABLE_ENTITY, HTTPStatus.BAD_REQUEST,
                                HTTPStatus.REQUEST_ENTITY_TOO_LARGE):
                self.spec.components.response(status.name, error_response(status, status.phrase), lazy=True)
        bad_json = error_example(400, DEEP_JSON_MESSAGE, errors=DEEP_JSON_ERRORS)
        self.spec.components.response(
            "BAD_REQUEST",
            {"description": "The body is not JSON, or is nested too deeply to be read",
             "content": {"application/json": {"schema": ErrorSchema, "example": bad_json}}},
            lazy=True)
        limit = self._app.config["MAX_CONTENT_LENGTH"]
        self.spec.components.response(
            "REQUEST_ENTITY_TOO_LARGE",
            error_response(413, f"The body is larger than this service accepts (<SERVICE>_MAX_CONTENT_LENGTH, "
                                f"{limit} bytes here)", too_large_message(limit)),
            lazy=True)
        invalid = error_example(422, errors={"query": {"page": ["Not a valid integer."]}})
        self.spec.components.response(
            "UNPROCESSABLE_ENTITY",
            {"description": "A parameter or the body did not validate; `errors` names each field",
             "content": {"application/json": {"schema": ErrorSchema, "example": invalid}}},
            lazy=True)
        unexpected = error_response(500, "Any other error, in the same shape", UNEXPECTED_MESSAGE)
        self.spec.components.response("DEFAULT_ERROR", unexpected, lazy=True)

    def _register_etag_headers(self):
        """flask-smorest's ETag parameters, with an example tag."""
        example = '"6f1ed002ab5595859014ebf0951522d9"'
        for name, header in (("IF_NONE_MATCH", fs_etag.IF_NONE_MATCH_HEADER), ("IF_MATCH", fs_etag.IF_MATCH_HEADER)):
            self.spec.components.parameter(name, "header", {**header, "example": example}, lazy=True)
        self.spec.components.header("ETAG", {**fs_etag.ETAG_HEADER, "example": example}, lazy=True)

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(IntegrityError, self._handle_integrity_error)
        self._app.register_error_handler(OperationalError, self._handle_database_down)
        self._app.register_error_handler(Exception, self._handle_unexpected)

    def _handle_integrity_error(self, error):
        log.warning("integrity error: %s", error.orig)
        return self.handle_http_exception(
            Conflict(CONFLICT_MESSAGE)
        )

    def _handle_database_down(self, error):
        log.error("database error: %s", error.orig)
        return self.handle_http_exception(ServiceUnavailable(DATABASE_DOWN_MESSAGE))

    def _handle_unexpected(self, error):
        log.exception("unhandled error")
        return self.handle_http_exception(InternalServerError(UNEXPECTED_MESSAGE))


def create_api(app) -> Api:
    api = Api(app, spec_kwargs={"extra_plugins": [BodyErrorsPlugin()]})
    api.spec.components.security_scheme(
        SERVICE_TOKEN_SCHEME,
        {"type": "http", "scheme": "bearer",
         "description": "Writes between services: `Authorization: Bearer $SERVICE_TOKEN`."},
    )
    return api
