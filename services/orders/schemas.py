"""Request and response schemas of the orders API and the sync endpoints."""
from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from services.orders.models import STATUSES
from shared.pagination import DEFAULT_PER_PAGE

FEED_MAX_PER_PAGE = 1000


def _money(value: Decimal) -> None:
    # A plain function, not Range: the field is a string in OpenAPI, where minimum/maximum are invalid.
    if value < 0 or value > 1_000_000_000:
        raise ma.ValidationError("Must be between 0 and 1000000000.")
    if value.as_tuple().exponent < -2:
        raise ma.ValidationError("At most two decimal places.")


class ItemSchema(ma.Schema):
    sku = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    qty = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1, max=1_000_000))
    unit_price = ma.fields.Decimal(required=True, as_string=True, allow_nan=False,
                                   validate=_money,
                                   metadata={"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$", "example": "12.50",
                                             "description": "Decimal money as a string (a JSON number is accepted too)"})


class OrderContentSchema(ma.Schema):
    """What a client writes: the content fields (PUT replaces all of them)."""

    number = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                              metadata={"description": "Defaults to ORD-<first 8 hex digits of the uuid>"})
    customer_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    customer_email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    items = ma.fields.List(ma.fields.Nested(ItemSchema), required=True, validate=ma.validate.Length(max=500))
    currency = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Za-z]{3}$", error="A 3-letter currency code."))
    status = ma.fields.String(load_default="new", validate=ma.validate.OneOf(STATUSES))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    deleted = ma.fields.Boolean(load_default=False, metadata={"description": "A tombstone; deletes sync as PUTs"})

    class Meta:
        ordered = True


class OrderCreateSchema(OrderContentSchema):
    uuid = ma.fields.UUID(metadata={"description": "May be supplied by the client; generated otherwise"})


class OrderSchema(OrderCreateSchema):
    total = ma.fields.String(dump_only=True, metadata={"description": "Sum of qty x unit_price, decimal string"})
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True, metadata={"description": "Moves on every real change; the ETag"})
    seq = ma.fields.Integer(dump_only=True, metadata={"description": "Position in this instance's change feed"})


class OrderQueryArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=DEFAULT_PER_PAGE, validate=ma.validate.Range(min=1, max=FEED_MAX_PER_PAGE),
                                 metadata={"description": f"Items per page (at most {FEED_MAX_PER_PAGE})"})
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    customer = ma.fields.String(validate=ma.validate.Length(min=1, max=200),
                                metadata={"description": "Substring of the customer's name or e-mail"})
    since = ma.fields.Integer(validate=ma.validate.Range(min=0, max=2**62),
                              metadata={"description": "Change feed: orders changed after this seq, tombstones "
                                                       "included, ordered by seq (read page 1, then move since)"})
    include_deleted = ma.fields.Boolean(load_default=False)


class CollisionSchema(ma.Schema):
    id = ma.fields.Integer()
    uuid = ma.fields.String()
    detected_at = ma.fields.AwareDateTime()
    local_version = ma.fields.Integer(allow_none=True)
    local_content = ma.fields.Dict()
    peer_version = ma.fields.Integer()
    peer_content = ma.fields.Dict()
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    resolution = ma.fields.String(allow_none=True)
    losing_content = ma.fields.Dict(allow_none=True)


class CollisionQueryArgsSchema(ma.Schema):
    open = ma.fields.Boolean(load_default=True, metadata={"description": "Only unresolved collisions"})


class ResolveSchema(ma.Schema):
    take = ma.fields.String(required=True, validate=ma.validate.OneOf(("local", "peer")),
                            metadata={"description": "Which side's version wins"})


class SyncStatusSchema(ma.Schema):
    instance = ma.fields.String()
    peer = ma.fields.String(allow_none=True)
    policy = ma.fields.String()
    checkpoint = ma.fields.Integer()
    lag = ma.fields.Dict(metadata={"description": "peer_changes: peer feed entries not yet pulled (last round); "
                                                  "local_pending: local changes not yet pushed; seconds since the "
                                                  "last successful round"})
    states = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    open_collisions = ma.fields.Integer()
    last_round_at = ma.fields.String(allow_none=True)
    last_success_at = ma.fields.String(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
