"""The flask-smorest `Api` every service uses, with the one JSON error shape.

flask-smorest already renders HTTP errors as
`{"code": 404, "status": "Not Found", "message": "...", "errors": {...}}`;
this adds the same shape for database integrity errors (409) and for anything
unexpected (500, logged with its traceback, never echoed to the client).
"""
from __future__ import annotations

import logging

import flask_smorest
from flask_smorest.error_handler import ErrorSchema  # noqa: F401  (re-exported for alt_response)
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import Conflict, InternalServerError, ServiceUnavailable

log = logging.getLogger(__name__)

SERVICE_TOKEN_SCHEME = "serviceToken"


class Api(flask_smorest.Api):
    def handle_http_exception(self, error):
        """Every error body carries a message: the abort()'s own, else the HTTP description."""
        data = getattr(error, "data", None) or {}
        if "message" not in data and error.description:
            data = {**data, "message": error.description}
        # Keep the exception's own headers (e.g. Allow on a 405) beside any given to abort().
        own = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        error.data = {**data, "headers": {**own, **(data.get("headers") or {})}}
        return super().handle_http_exception(error)

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(IntegrityError, self._handle_integrity_error)
        self._app.register_error_handler(OperationalError, self._handle_database_down)
        self._app.register_error_handler(Exception, self._handle_unexpected)

    def _handle_integrity_error(self, error):
        log.warning("integrity error: %s", error.orig)
        return self.handle_http_exception(
            Conflict("The request conflicts with stored data (a unique or foreign key constraint).")
        )

    def _handle_database_down(self, error):
        log.error("database error: %s", error.orig)
        return self.handle_http_exception(ServiceUnavailable("The database is not available; try again."))

    def _handle_unexpected(self, error):
        log.exception("unhandled error")
        return self.handle_http_exception(InternalServerError("An unexpected error occurred; it has been logged."))


def create_api(app) -> Api:
    api = Api(app)
    api.spec.components.security_scheme(
        SERVICE_TOKEN_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "Writes between services: `Authorization: Bearer $SERVICE_TOKEN`."},
    )
    return api
