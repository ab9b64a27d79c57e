"""Service-to-service authentication for writes: `Authorization: Bearer $SERVICE_TOKEN`."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request
from flask_smorest import Blueprint, abort

from shared.api import SERVICE_TOKEN_SCHEME, error_response

# What a refused write is told; the OpenAPI examples show the same words.
NOT_CONFIGURED = "Writes are disabled: SERVICE_TOKEN is not configured on this service."
NO_TOKEN = "This write needs 'Authorization: Bearer <service token>'."
WRONG_TOKEN = "The service token is not valid."


def service_token_required(view):
    """Refuse the request unless it carries the configured service token."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = current_app.config.get("SERVICE_TOKEN") or ""
        if not expected:
            abort(503, message=NOT_CONFIGURED)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401, message=NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            abort(403, message=WRONG_TOKEN)
        return view(*args, **kwargs)

    return Blueprint.doc(
        security=[{SERVICE_TOKEN_SCHEME: []}],
        responses={
            "401": error_response(401, "No bearer token", NO_TOKEN),
            "403": error_response(403, "Wrong service token", WRONG_TOKEN),
            "503": error_response(503, "Writes are disabled here: SERVICE_TOKEN is not configured", NOT_CONFIGURED),
        },
    )(wrapper)
