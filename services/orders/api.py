"""The orders HTTP API: list / change feed, get with ETag, create, replace with If-Match, soft delete."""
from __future__ import annotations

from flask import after_this_request, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from services.orders import orders
from services.orders.models import db
from services.orders.schemas import OrderContentSchema, OrderCreateSchema, OrderQueryArgsSchema, OrderSchema
from shared.api import ErrorSchema
from shared.auth import service_token_required
from shared.pagination import page_schema, paginate

blp = Blueprint("orders", __name__, description="Orders: change feed, optimistic concurrency, soft deletes")


def _send_etag(order) -> None:
    @after_this_request
    def add(response):
        response.headers["ETag"] = f'"{order.version}"'
        return response


def _if_match() -> int | None:
    """The version named by If-Match (one strong or weak ETag); None when absent or `*`."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        abort(400, message="If-Match must be an ETag of this API, e.g. \"3\".")
    return int(value)


def _found(uuid) -> orders.Order:
    order = orders.get_order(str(uuid))
    if order is None:
        abort(404, message=f"Order {uuid} not found.")
    return order


@blp.route("/orders")
class Orders(MethodView):
    @blp.arguments(OrderQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, page_schema(OrderSchema))
    def get(self, page, per_page, since=None, include_deleted=False, **filters):
        """List orders, or the change feed with `since`"""
        if since is not None:
            stmt = orders.changes_since(since, **filters)
        else:
            stmt = orders.filtered_orders(include_deleted=include_deleted, **filters)
        return paginate(db.session, stmt, page, per_page)

    @service_token_required
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="The uuid exists with different content")
    def post(self, data):
        """Create an order (a retried create with the same content returns the existing order)"""
        try:
            result = orders.create_order(data)
        except orders.ContentConflict as exc:
            abort(409, message=str(exc))
        db.session.commit()
        _send_etag(result.order)
        return result.order


@blp.route("/orders/<uuid:uuid>")
class OrderById(MethodView):
    @blp.response(200, OrderSchema)
    @blp.alt_response(404, schema=ErrorSchema)
    def get(self, uuid):
        """One order, tombstones included; ETag is its version"""
        order = _found(uuid)
        _send_etag(order)
        return order

    @service_token_required
    @blp.arguments(OrderContentSchema)
    @blp.response(200, OrderSchema)
    @blp.alt_response(412, schema=ErrorSchema, description="If-Match names a version that is not current")
    def put(self, data, uuid):
        """Replace an order's content (creates it when absent); honours If-Match"""
        try:
            result = orders.replace_order(str(uuid), data, _if_match())
        except orders.PreconditionFailed as exc:
            db.session.rollback()
            abort(412, message=str(exc))
        db.session.commit()
        _send_etag(result.order)
        return result.order

    @service_token_required
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema)
    @blp.alt_response(412, schema=ErrorSchema, description="If-Match names a version that is not current")
    def delete(self, uuid):
        """Soft-delete an order (a tombstone in the change feed)"""
        try:
            result = orders.delete_order(str(uuid), _if_match())
        except orders.PreconditionFailed as exc:
            db.session.rollback()
            abort(412, message=str(exc))
        if result is None:
            abort(404, message=f"Order {uuid} not found.")
        db.session.commit()
