"""The orders HTTP API: list / change feed, get with ETag, create, replace with If-Match, soft delete."""
from __future__ import annotations

import re
from types import SimpleNamespace

from flask import Response, after_this_request, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.exceptions import NotFound

from services.orders import orders
from services.orders.examples import (
    CREATED,
    EXAMPLE_ORDER,
    EXAMPLE_ORDER_SYNCED,
    EXAMPLE_UUID,
    ORDER_EXISTS,
    ORDER_NOT_FOUND,
    ORDER_PAGE,
    REPLACED,
    STALE,
)
from services.orders.models import Order, db
from services.orders.sync import task_states
from services.orders.schemas import (
    OrderContentSchema,
    OrderCreateSchema,
    OrderQueryArgsSchema,
    OrderSchema,
)
from shared.api import CONFLICT_MESSAGE, Blueprint, path_parameter
from shared.auth import service_token_required
from shared.pagination import PAGE_PAST_END, counted, page_schema, paginate, set_pagination_headers

blp = Blueprint("orders", __name__, description="Orders: change feed, optimistic concurrency, soft deletes")

BAD_IF_MATCH = "If-Match must be an ETag (or a list of them), e.g. \"3\"."
# RFC 9110 §8.8.3: entity-tag = [ W/ ] DQUOTE *etagc DQUOTE, here without obs-text.
ETAG = re.compile(r'(?:W/)?"([\x21\x23-\x7e]*)"')
ETAG_LIST = re.compile(rf"{ETAG.pattern}(?:[ \t]*,[ \t]*{ETAG.pattern})*")
# The views read If-Match by hand (it is optional here), so it is documented by hand.
IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "example": '"3"',
            "schema": {"type": "string",
                       "pattern": r'^(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)$'},
            "description": "Write only if the order is still at this version (its ETag, or a list of ETags; W/ and "
                           "`*` are accepted). An entity-tag that is no version of this order, such as "
                           "`\"stale-0\"`, fails the precondition (412). Without it the write is unconditional"}
NO_ORDER = "No order has this uuid (a malformed uuid is a 404 too)"


def etag_header(version: int) -> dict:
    """The ETag response header, its example the version of the response's example."""
    return {"ETag": {"description": "The order's version as a strong ETag: send it back in If-Match",
                     "schema": {"type": "string"}, "example": f'"{version}"', "required": True}}


def _send_etag(order) -> None:
    @after_this_request
    def add(response):
        response.headers["ETag"] = f'"{order.version}"'
        return response


def _if_match() -> frozenset[int] | None:
    """The versions If-Match names (a list of strong or weak ETags); None when absent or `*`.

    A well-formed entity-tag that is none of this API's versions (`"stale-0"`) names no
    version, so the write fails its precondition (412, RFC 9110 §13.1.1); only a header that
    is not a list of entity-tags is a 400. Tags of obs-text (bytes past ASCII, which RFC 9110
    keeps for old senders only) count as malformed.
    """
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    if not ETAG_LIST.fullmatch(raw.strip()):
        abort(400, message=BAD_IF_MATCH)
    # Versions are 32-bit integers: a longer run of digits is an opaque tag (and int() of
    # thousands of digits raises).
    return frozenset(int(tag) for tag in ETAG.findall(raw) if len(tag) <= 18 and tag.isascii() and tag.isdigit())


def _with_sync_state(order: orders.Order) -> orders.Order:
    """The order, with its sync state on the instance the integration runs beside (one order's views)."""
    if current_app.config["ORDERS_PEER_URL"]:
        order.sync_state = task_states.of_order(order)
    return order


def _found(uuid) -> orders.Order:
    order = orders.get_order(str(uuid))
    if order is None:
        abort(404, message=f"Order {uuid} not found.")
    return order


@blp.route("/orders")
class Orders(MethodView):
    @blp.arguments(OrderQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, page_schema(OrderSchema), example=ORDER_PAGE,
                  description="One page of orders; X-Pagination and Link headers give the others")
    @blp.error(404, *PAGE_PAST_END)
    def get(self, page, per_page, since=None, include_deleted=False, **filters):
        """List orders, or the change feed with `since`"""
        if since is not None:
            return _feed_page(orders.changes_since(since, **filters), page, per_page)
        stmt = orders.filtered_orders(include_deleted=include_deleted, **filters)
        return paginate(db.session, stmt, page, per_page)

    @service_token_required
    @blp.arguments(OrderCreateSchema())  # an instance: a class is instantiated per request
    @blp.response(201, OrderSchema, headers=etag_header(CREATED["version"]), example=CREATED,
                  description="The order: created, or the existing one when a create with the same content is retried")
    @blp.error(409, "The uuid exists with different content", ORDER_EXISTS)
    def post(self, data):
        """Create an order (a retried create with the same content returns the existing order)"""
        with orders.write_turn():
            try:
                result = orders.create_order(data)
            except orders.ContentConflict as exc:
                abort(409, message=str(exc))
            db.session.commit()
        _send_etag(result.order)
        if result.created and not current_app.config["ORDERS_PEER_URL"]:
            return _created(result.order)
        return _with_sync_state(result.order)


def _order_body(order) -> dict:
    """An order as OrderSchema dumps it (without sync_state), from anything with its columns as attributes."""
    return {"uuid": order.uuid, "number": order.number, "customer_name": order.customer_name,
            "customer_email": order.customer_email,
            "items": [{"sku": item["sku"], "name": item["name"], "qty": item["qty"], "unit_price": item["unit_price"]}
                      for item in order.items],
            "currency": order.currency, "status": order.status, "note": order.note, "deleted": order.deleted,
            "total": order.total, "created_at": order.created_at.isoformat(),
            "updated_at": order.updated_at.isoformat(), "version": order.version, "seq": order.seq}


def _created(order) -> Response:
    """A new order's answer without a marshmallow dump (a create is the push's hot path): the body
    OrderSchema dumps, through the same JSON provider. tests/orders/test_create_answer.py compares it
    with the GET of the same order, which the schema dumps."""
    response = current_app.json.response(_order_body(order))
    response.status_code = 201
    return response


def _feed_page(stmt, page: int, per_page: int) -> Response:
    """A page of the change feed (the integration reads one after every push batch) from plain rows,
    without ORM objects or a marshmallow dump: the body page_schema(OrderSchema) dumps, with
    paginate's headers (test_create_answer compares each entry with the schema's GET)."""
    count = db.session.scalar(counted(stmt))
    set_pagination_headers(page, per_page, count)
    rows = db.session.execute(stmt.with_only_columns(*Order.__table__.columns)
                              .limit(per_page).offset((page - 1) * per_page))
    return current_app.json.response({"count": count,
                                      "data": [_order_body(SimpleNamespace(**row._mapping)) for row in rows]})


@blp.route("/orders/<uuid:uuid>", parameters=[path_parameter("uuid", "The order's uuid", EXAMPLE_UUID)])
class OrderById(MethodView):
    @blp.response(200, OrderSchema, headers=etag_header(EXAMPLE_ORDER["version"]), example=EXAMPLE_ORDER_SYNCED,
                  description="The order (a tombstone has deleted: true)")
    @blp.error(404, NO_ORDER, ORDER_NOT_FOUND)
    def get(self, uuid):
        """One order, tombstones included; ETag is its version

        On the instance the integration runs beside, `sync_state` gives its sync state in the
        original task's names and codes (ST_NEW=1 ... ST_ERROR=7)."""
        order = _found(uuid)
        _send_etag(order)
        return _with_sync_state(order)

    @service_token_required
    @blp.arguments(OrderContentSchema())
    @blp.doc(parameters=[IF_MATCH])
    @blp.response(200, OrderSchema, headers=etag_header(REPLACED["version"]), example=REPLACED,
                  description="The order as stored now (its version unchanged if the content was)")
    @blp.error(400, "If-Match is not an entity-tag or a list of them", BAD_IF_MATCH)
    @blp.error(404, "The path's uuid is malformed (an absent order is created instead)", NotFound.description)
    @blp.error(409, "A concurrent write created this order first",
               CONFLICT_MESSAGE)
    @blp.error(412, "If-Match names no current version (an ETag not of this API names none), or the order "
               "does not exist", STALE)
    def put(self, data, uuid):
        """Replace an order's content (creates it when absent); honours If-Match"""
        expected = _if_match()
        with orders.write_turn():
            try:
                result = orders.replace_order(str(uuid), data, expected)
            except orders.PreconditionFailed as exc:
                abort(412, message=str(exc))  # rolled back by the write turn
            db.session.commit()
        _send_etag(result.order)
        return _with_sync_state(result.order)

    @service_token_required
    @blp.doc(parameters=[IF_MATCH])
    @blp.response(204, description="Deleted (or already a tombstone)")
    @blp.error(400, "If-Match is not an entity-tag or a list of them", BAD_IF_MATCH)
    @blp.error(404, NO_ORDER, ORDER_NOT_FOUND)
    @blp.error(412, "If-Match names no current version (an ETag not of this API names none)", STALE)
    def delete(self, uuid):
        """Soft-delete an order (a tombstone in the change feed)"""
        expected = _if_match()
        with orders.write_turn():
            try:
                result = orders.delete_order(str(uuid), expected)
            except orders.PreconditionFailed as exc:
                abort(412, message=str(exc))  # rolled back by the write turn
            if result is None:
                abort(404, message=f"Order {uuid} not found.")
            db.session.commit()
