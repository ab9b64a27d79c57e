"""`GET /health`: the process answers and its database does too."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import text

from shared.api import ErrorSchema
from shared.timeutil import utcnow

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    service = ma.fields.String(metadata={"example": "trials"})
    database = ma.fields.String(metadata={"example": "ok"})
    time = ma.fields.AwareDateTime()


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=ErrorSchema, description="The database does not answer")
    def get(self):
        """Liveness and database check"""
        db = current_app.extensions["sqlalchemy"]
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            current_app.logger.exception("health check: database does not answer")
            abort(503, message="The database does not answer.")
        return {"status": "ok", "service": current_app.config["SERVICE_NAME"], "database": "ok", "time": utcnow()}
