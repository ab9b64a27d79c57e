"""The integration's HTTP surface on its instance: status, collisions, resolution."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from services.orders.examples import (
    EXAMPLE_COLLISION,
    EXAMPLE_UUID,
    NO_OPEN_COLLISION,
    RESOLVED_EXAMPLE,
    STATUS_EXAMPLE,
)
from services.orders.models import Collision, db
from services.orders.schemas import (
    CollisionQueryArgsSchema,
    CollisionSchema,
    ResolveSchema,
    SyncStatusSchema,
)
from services.orders.sync import ledger as ledgers
from services.orders.sync import task_states
from shared.api import DATABASE_DOWN_MESSAGE, Blueprint, path_parameter
from shared.auth import service_token_required
from shared.redact import redact_url
from shared.timeutil import utcnow

blp = Blueprint("sync", __name__, description="Two-way sync with the peer instance: status and collisions")


def sync_status() -> dict:
    config = current_app.config
    last_success = ledgers.get_value("last_success_at")
    counts = ledgers.state_counts()
    age = (utcnow() - datetime.fromisoformat(last_success)).total_seconds() if last_success else None
    return {
        "instance": config["ORDERS_INSTANCE"],
        "peer": redact_url(config["ORDERS_PEER_URL"]) if config["ORDERS_PEER_URL"] else None,
        "policy": config["ORDERS_SYNC_POLICY"],
        "checkpoint": ledgers.checkpoint(),
        "lag": {"peer_changes": int(ledgers.get_value("peer_remaining", "0")),
                "local_pending": counts["NEW"] + counts["UPD"] + counts["DEL"] + counts["ERROR"],
                "seconds_since_last_success": None if age is None else round(age, 3)},
        "states": counts,
        "task_states": task_states.task_state_counts(counts),
        "open_collisions": ledgers.open_collision_count(),
        "last_round_at": ledgers.get_value("last_round_at"),
        "last_success_at": last_success,
        "last_error": ledgers.get_value("last_error"),
    }


@blp.route("/sync/status")
class SyncStatus(MethodView):
    @blp.response(200, SyncStatusSchema, example=STATUS_EXAMPLE,
                  description="The integration's state as this instance's database records it")
    @blp.error(503, "The database is not available", DATABASE_DOWN_MESSAGE)
    def get(self):
        """The peer, the checkpoint, the lag, counts per state, the last error"""
        return sync_status()


@blp.route("/sync/collisions")
class Collisions(MethodView):
    @blp.arguments(CollisionQueryArgsSchema, location="query")
    @blp.response(200, CollisionSchema(many=True), example=[EXAMPLE_COLLISION],
                  description="The collisions; each keeps both sides' content")
    def get(self, args):
        """Collisions, newest first (open ones only unless open=false)"""
        stmt = select(Collision).order_by(Collision.id.desc())
        if args["open"]:
            stmt = stmt.where(Collision.resolved_at.is_(None))
        return db.session.scalars(stmt).all()


@blp.route("/sync/collisions/<uuid:uuid>/resolve",
           parameters=[path_parameter("uuid", "The uuid of the order whose collision to resolve", EXAMPLE_UUID)])
class ResolveCollision(MethodView):
    @service_token_required
    @blp.arguments(ResolveSchema)
    @blp.response(200, CollisionSchema, example=RESOLVED_EXAMPLE,
                  description="The collision, resolved; taking the peer's side has written it here already, taking "
                              "the local side pushes it to the peer on the next round")
    @blp.error(404, "The order has no open collision (or the uuid is malformed)",
               NO_OPEN_COLLISION)
    def post(self, args, uuid):
        """Resolve an order's open collision by taking the local or the peer side"""
        try:
            collision = ledgers.resolve(str(uuid), args["take"])
        except ledgers.NoOpenCollision as exc:
            abort(404, message=str(exc))
        db.session.commit()
        return collision
