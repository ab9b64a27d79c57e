"""The grader HTTP API: pull watermarks (where the scheduled pull continues)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from werkzeug.exceptions import NotFound

from services.grader import watermarks
from services.grader.examples import WATERMARK_EXAMPLE, WATERMARK_EXAMPLES
from services.grader.models import db
from services.grader.schemas import WatermarkSchema, WatermarkUpdateSchema
from shared.api import CONFLICT_MESSAGE, Blueprint, path_parameter
from shared.auth import service_token_required

blp = Blueprint("watermarks", __name__, description="Pull watermarks of the collector's grader source")

NAME = "<string(maxlength=100):name>"
NAME_PARAMETER = path_parameter(
    "name", "The watermark's name, 1-100 characters; the collector's grader source uses grader-statistics. "
            "Any name can be read: one no pull has stored answers position null.", "grader-statistics")
NO_SUCH_URL = ("No such URL: the name is longer than 100 characters or holds a '/' or a NUL character "
               "(an unknown name is not an error: see the 200)")


def _storable(name: str) -> str:
    """Route a name the database cannot hold (PostgreSQL text has no NUL) like one the URL rule refuses."""
    if "\x00" in name:
        abort(404)
    return name


@blp.route(f"/watermarks/{NAME}", parameters=[NAME_PARAMETER])
class WatermarkByName(MethodView):
    @blp.response(200, WatermarkSchema, description="The watermark; position and updated_at are null for a name "
                                                    "no pull has stored yet (e.g. before the first scheduled pull)",
                  examples=WATERMARK_EXAMPLES)
    @blp.error(404, NO_SUCH_URL, NotFound.description)
    def get(self, name):
        """A watermark (position null when no pull has stored one)"""
        return watermarks.get_watermark(_storable(name))

    @service_token_required
    @blp.arguments(WatermarkUpdateSchema)
    @blp.response(200, WatermarkSchema, description="The watermark as stored now: the later of its old position "
                                                    "and the one sent",
                  example=WATERMARK_EXAMPLE)
    @blp.error(404, NO_SUCH_URL, NotFound.description)
    @blp.error(409, "Another request stored this watermark's first position at the same moment; send it again",
               CONFLICT_MESSAGE)
    def put(self, body, name):
        """Advance a watermark; an older position leaves it where it is

        A name not stored yet is stored at this position. The collector's grader source calls this
        after each window it delivered without a gap before it.
        """
        stored = watermarks.advance_watermark(_storable(name), body["position"])
        db.session.commit()
        return stored
