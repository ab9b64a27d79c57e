"""The grader HTTP API: pull watermarks (where the scheduled pull continues)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.grader import watermarks
from services.grader.models import db
from services.grader.schemas import WatermarkSchema, WatermarkUpdateSchema
from shared.auth import service_token_required

blp = Blueprint("watermarks", __name__, description="Pull watermarks of the collector's grader source")

NAME = "<string(maxlength=100):name>"


@blp.route(f"/watermarks/{NAME}")
class WatermarkByName(MethodView):
    @blp.response(200, WatermarkSchema)
    def get(self, name):
        """A watermark (position null when no pull has stored one)"""
        return watermarks.get_watermark(name)

    @service_token_required
    @blp.arguments(WatermarkUpdateSchema)
    @blp.response(200, WatermarkSchema)
    def put(self, body, name):
        """Advance a watermark; an older position leaves it where it is"""
        stored = watermarks.advance_watermark(name, body["position"])
        db.session.commit()
        return stored
