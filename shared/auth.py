"""Service-to-service authentication for writes: `Authorization: Bearer $SERVICE_TOKEN`."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request
from flask_smorest import Blueprint, abort

from shared.api import SERVICE_TOKEN_SCHEME, ErrorSchema


def service_token_required(view):
    """Refuse the request unless it carries the configured service token."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = current_app.config.get("SERVICE_TOKEN") or ""
        if not expected:
            abort(503, message="Writes are disabled: SERVICE_TOKEN is not configured on this service.")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401, message="This write needs 'Authorization: Bearer <service token>'.",
                  headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            abort(403, message="The service token is not valid.")
        return view(*args, **kwargs)

    return Blueprint.doc(
        security=[{SERVICE_TOKEN_SCHEME: []}],
        responses={
            "401": {"description": "No bearer token", "content": {"application/json": {"schema": ErrorSchema}}},
            "403": {"description": "Wrong service token", "content": {"application/json": {"schema": ErrorSchema}}},
        },
    )(wrapper)
