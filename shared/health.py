"""`GET /health`: the process answers and its database does too."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import text

from shared.api import Blueprint
from shared.timeutil import utcnow

blp = Blueprint("health", __name__, description="Liveness and readiness")
DATABASE_DOWN = "The database does not answer."


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    service = ma.fields.String(metadata={"example": "trials"})
    database = ma.fields.String(metadata={"example": "ok"})
    time = ma.fields.AwareDateTime(metadata={"example": "2026-11-22T09:30:00+00:00"})


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.error(503, "The database does not answer", DATABASE_DOWN)
    def get(self):
        """Liveness and database check"""
        db = current_app.extensions["sqlalchemy"]
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            current_app.logger.exception("health check: database does not answer")
            abort(503, message=DATABASE_DOWN)
        return {"status": "ok", "service": current_app.config["SERVICE_NAME"], "database": "ok", "time": utcnow()}
