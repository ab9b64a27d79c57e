"""Request and response schemas of the orders API and the sync endpoints."""
from __future__ import annotations

import re
import uuid as uuidlib
from decimal import Decimal

import marshmallow as ma

from services.orders.examples import (
    EXAMPLE_COLLISION,
    EXAMPLE_CONTENT,
    EXAMPLE_LAG,
    EXAMPLE_ORDER,
    EXAMPLE_PEER_CONTENT,
    EXAMPLE_STATES,
    EXAMPLE_TASK_STATES,
    EXAMPLE_UUID,
)
from services.orders.models import STATUSES
from shared.pagination import DEFAULT_PER_PAGE
from shared.text import UNSTORABLE, storable

FEED_MAX_PER_PAGE = 1000
SEQ_MAX = 2**31 - 1  # `seq` is a 32-bit INTEGER column: PostgreSQL refuses a larger `since` outright


def _currency(value: str) -> None:
    # Not Regexp: its `$` also matches before a final newline, and "EUR\n" fits no 3-character column.
    if not re.fullmatch("[A-Za-z]{3}", value):
        raise ma.ValidationError("A 3-letter currency code.")


class _Storable:
    """A string field that refuses text the database cannot hold: a 422, not a 500 (or a stored poison)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        storable(text)
        return text


class Text(_Storable, ma.fields.String):
    pass


class Email(_Storable, ma.fields.Email):
    pass


def _money(value: Decimal) -> None:
    # A plain function, not Range: the field is a string in OpenAPI, where minimum/maximum are invalid.
    if value < 0 or value > 1_000_000_000:
        raise ma.ValidationError("Must be between 0 and 1000000000.")
    if value.as_tuple().exponent < -2:
        raise ma.ValidationError("At most two decimal places.")


class ItemSchema(ma.Schema):
    sku = Text(required=True, validate=ma.validate.Length(min=1, max=64),
               metadata={"description": "The article's stock-keeping unit", "example": "MUG-1"})
    name = Text(load_default="", validate=ma.validate.Length(max=200),
                metadata={"description": "The article's name on the order (may be empty)", "example": "Mug"})
    qty = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1, max=1_000_000),
                            metadata={"description": "How many", "example": 2})
    unit_price = ma.fields.Decimal(
        required=True, as_string=True, allow_nan=False, validate=_money,
        metadata={"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$", "example": "9.50",
                  "description": "Decimal money as a string (a JSON number is accepted too); stored with 2 decimals"})


class OrderContentSchema(ma.Schema):
    """What a client writes: the content fields (PUT replaces all of them)."""

    number = Text(validate=ma.validate.Length(min=1, max=64),
                  metadata={"description": "Defaults to ORD-<first 8 hex digits of the uuid> (on a PUT: the order's "
                                           "current number)", "example": EXAMPLE_CONTENT["number"]})
    customer_name = Text(required=True, validate=ma.validate.Length(min=1, max=200),
                         metadata={"description": "Who ordered", "example": EXAMPLE_CONTENT["customer_name"]})
    customer_email = Email(required=True, validate=ma.validate.Length(max=254),
                           metadata={"description": "The customer's e-mail address",
                                     "example": EXAMPLE_CONTENT["customer_email"]})
    items = ma.fields.List(ma.fields.Nested(ItemSchema), required=True, validate=ma.validate.Length(max=500),
                           metadata={"description": "The order lines (at most 500); `total` is derived from them"})
    currency = Text(validate=_currency,
                    metadata={"pattern": "^[A-Za-z]{3}$", "example": EXAMPLE_CONTENT["currency"],
                              "description": "A 3-letter currency code, stored upper-case; defaults to the "
                                             "instance's ORDERS_DEFAULT_CURRENCY (EUR)"})
    status = Text(load_default="new", validate=ma.validate.OneOf(STATUSES),
                  metadata={"description": "Where the order stands", "example": EXAMPLE_CONTENT["status"]})
    note = Text(load_default="", validate=ma.validate.Length(max=5000),
                metadata={"description": "Free text (may be empty)", "example": EXAMPLE_CONTENT["note"]})
    deleted = ma.fields.Boolean(load_default=False, metadata={"description": "A tombstone; deletes sync as PUTs",
                                                              "example": False})

    class Meta:
        ordered = True


class OrderCreateSchema(OrderContentSchema):
    uuid = ma.fields.UUID(metadata={"description": "May be supplied by the client (a retry then finds the order "
                                                   "it created); generated otherwise", "example": EXAMPLE_UUID})

    def load(self, data, *, many=None, partial=None, unknown=None):
        """A create in the plain shape the sync integration sends (every value already of its field's
        type, nothing to coerce) is loaded by `plain_create`, a create being the push's hot path;
        anything else, and every error, goes through the fields as declared."""
        if many is None and partial is None and unknown is None and not self.many:
            loaded = plain_create(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)


_CREATE_KEYS = frozenset(OrderCreateSchema._declared_fields)
_ITEM_KEYS = frozenset(ItemSchema._declared_fields)
_PRICE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
_EMAIL = ma.validate.Email()


def _text(value, shortest: int, longest: int) -> bool:
    return type(value) is str and shortest <= len(value) <= longest and not UNSTORABLE.search(value)


def _plain_item(item) -> dict | None:
    if type(item) is not dict or not item.keys() <= _ITEM_KEYS:
        return None
    sku, name, qty, price = item.get("sku"), item.get("name", ""), item.get("qty"), item.get("unit_price")
    if not (_text(sku, 1, 64) and _text(name, 0, 200) and type(qty) is int and 1 <= qty <= 1_000_000
            and type(price) is str and _PRICE.fullmatch(price)):
        return None
    amount = Decimal(price)
    return {"sku": sku, "name": name, "qty": qty, "unit_price": amount} if amount <= 1_000_000_000 else None


def plain_create(data) -> dict | None:
    """What OrderCreateSchema loads from `data`, when every value is exactly of its field's type and
    valid as it stands (a strict subset of what the schema accepts); else None, and the schema
    decides (tests/orders/test_create_schema.py compares both on generated bodies)."""
    if type(data) is not dict or not data.keys() <= _CREATE_KEYS:
        return None
    name, email, items = data.get("customer_name"), data.get("customer_email"), data.get("items")
    if not (_text(name, 1, 200) and _text(email, 0, 254) and type(items) is list and len(items) <= 500):
        return None
    try:
        _EMAIL(email)
    except ma.ValidationError:
        return None
    loaded_items = [_plain_item(item) for item in items]
    if None in loaded_items:
        return None
    loaded = {"customer_name": name, "customer_email": email, "items": loaded_items,
              "status": data.get("status", "new"), "note": data.get("note", ""), "deleted": data.get("deleted", False)}
    if not (type(loaded["status"]) is str and loaded["status"] in STATUSES and _text(loaded["note"], 0, 5000)
            and type(loaded["deleted"]) is bool):
        return None
    if "number" in data:
        if not _text(data["number"], 1, 64):
            return None
        loaded["number"] = data["number"]
    if "currency" in data:
        if not (type(data["currency"]) is str and re.fullmatch("[A-Za-z]{3}", data["currency"])):
            return None
        loaded["currency"] = data["currency"]
    if "uuid" in data:
        if type(data["uuid"]) is not str:
            return None
        try:
            loaded["uuid"] = uuidlib.UUID(data["uuid"])
        except ValueError:
            return None
    return loaded


class TaskStateSchema(ma.Schema):
    state = ma.fields.String(metadata={"description": "The task's name (ST_NEW ... ST_SYNC)", "example": "ST_OK"})
    code = ma.fields.Integer(metadata={"description": "The task's code (1 ... 9)", "example": 3})
    ledger_state = ma.fields.String(allow_none=True, metadata={
        "description": "The integration's ledger state (NEW, UPD, OK, DEL, DEL_SYNCED, COLLISION, ERROR); null for "
                       "the task states never held here", "example": "OK"})


class TaskStateCountSchema(TaskStateSchema):
    meaning = ma.fields.String(metadata={"description": "What the state means", "example": "normal: both sides agree"})
    count = ma.fields.Integer(metadata={"description": "Orders in this state", "example": 1204})


class OrderSchema(OrderCreateSchema):
    total = ma.fields.String(dump_only=True, metadata={"description": "Sum of qty x unit_price, decimal string",
                                                       "example": EXAMPLE_ORDER["total"]})
    created_at = ma.fields.AwareDateTime(dump_only=True, metadata={"description": "When the order was created (UTC)",
                                                                   "example": EXAMPLE_ORDER["created_at"]})
    updated_at = ma.fields.AwareDateTime(dump_only=True, metadata={
        "description": "When its content last changed (UTC)", "example": EXAMPLE_ORDER["updated_at"]})
    version = ma.fields.Integer(dump_only=True, metadata={"description": "Moves on every real change; the ETag",
                                                          "example": EXAMPLE_ORDER["version"]})
    seq = ma.fields.Integer(dump_only=True, metadata={"description": "Position in this instance's change feed",
                                                      "example": EXAMPLE_ORDER["seq"]})
    sync_state = ma.fields.Nested(TaskStateSchema, dump_only=True, metadata={
        "description": "One order's answers (GET, POST, PUT /orders...) on the instance the integration runs beside: "
                       "its sync state in the original task's names and codes (absent in lists and on the peer)"})


class OrderQueryArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000),
                             metadata={"description": "1-based page number", "example": 1})
    per_page = ma.fields.Integer(load_default=DEFAULT_PER_PAGE,
                                 validate=ma.validate.Range(min=1, max=FEED_MAX_PER_PAGE),
                                 metadata={"description": f"Items per page (at most {FEED_MAX_PER_PAGE})",
                                           "example": DEFAULT_PER_PAGE})
    status = Text(validate=ma.validate.OneOf(STATUSES),
                  metadata={"description": "Only orders in this status", "example": "paid"})
    customer = Text(validate=ma.validate.Length(min=1, max=200),
                    metadata={"description": "Substring of the customer's name or e-mail, any case",
                              "example": "lovelace"})
    since = ma.fields.Integer(validate=ma.validate.Range(min=0, max=SEQ_MAX),
                              metadata={"description": "Change feed: orders changed after this seq, tombstones "
                                                       "included, ordered by seq (read page 1, then move since)",
                                        "example": 1041})
    include_deleted = ma.fields.Boolean(load_default=False, metadata={
        "description": "List soft-deleted orders too (the change feed always includes them)", "example": False})


class CollisionSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "The collision's id on this instance", "example": 7})
    uuid = ma.fields.String(metadata={"description": "The order both sides changed", "example": EXAMPLE_UUID})
    detected_at = ma.fields.AwareDateTime(metadata={"description": "When a sync round found it (UTC)",
                                                    "example": EXAMPLE_COLLISION["detected_at"]})
    local_version = ma.fields.Integer(allow_none=True, metadata={
        "description": "The order's version on this instance when the collision was (last) seen", "example": 3})
    local_content = ma.fields.Dict(metadata={"description": "This instance's content (the fields a write sends)",
                                             "example": EXAMPLE_CONTENT})
    peer_version = ma.fields.Integer(metadata={"description": "The order's version on the peer (its latest seen)",
                                               "example": 4})
    peer_content = ma.fields.Dict(metadata={"description": "The peer's content", "example": EXAMPLE_PEER_CONTENT})
    resolved_at = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "When it was resolved (UTC); null while open", "example": "2026-03-04T16:40:03.871260+00:00"})
    resolution = ma.fields.String(allow_none=True, metadata={
        "description": "local / peer (taken by a person), auto-local / auto-peer (the newest-wins policy), "
                       "converged (both sides came to hold the same content); null while open",
        "example": "peer"})
    losing_content = ma.fields.Dict(allow_none=True, metadata={
        "description": "The content of the side not taken, kept for the record; null while open",
        "example": EXAMPLE_CONTENT})


class CollisionQueryArgsSchema(ma.Schema):
    open = ma.fields.Boolean(load_default=True, metadata={
        "description": "Only unresolved collisions (false: resolved ones too)", "example": True})


class ResolveSchema(ma.Schema):
    take = ma.fields.String(required=True, validate=ma.validate.OneOf(("local", "peer")),
                            metadata={"description": "Which side's version wins: this instance's (local) or the "
                                                     "peer's", "example": "peer"})


class SyncStatusSchema(ma.Schema):
    instance = ma.fields.String(metadata={"description": "This instance (ORDERS_INSTANCE)", "example": "A"})
    peer = ma.fields.String(allow_none=True, metadata={
        "description": "The peer's base URL, any credentials redacted; null when ORDERS_PEER_URL is not set",
        "example": "http://orders-b:8000"})
    policy = ma.fields.String(metadata={"description": "ORDERS_SYNC_POLICY: manual (collisions wait for a person) "
                                                       "or newest-wins", "example": "manual"})
    checkpoint = ma.fields.Integer(metadata={"description": "The last seq of the peer's change feed applied here",
                                             "example": 1041})
    lag = ma.fields.Dict(metadata={"description": "peer_changes: peer feed entries not yet pulled (last round); "
                                                  "local_pending: local changes not yet pushed; seconds since the "
                                                  "last successful round (null before the first)",
                                   "example": EXAMPLE_LAG})
    states = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "How many orders are in each sync state (NEW, UPD, DEL: waiting to be pushed; OK, "
                       "DEL_SYNCED: in agreement; COLLISION: waiting for a decision; ERROR: the peer refused a write)",
        "example": EXAMPLE_STATES})
    task_states = ma.fields.List(ma.fields.Nested(TaskStateCountSchema), metadata={
        "description": "The same counts in the original task's state table, every state ST_NEW=1 ... ST_SYNC=9 with "
                       "its code (ST_ERROR_SYNCED and ST_SYNC are never held here: docs/two-way-sync.md)",
        "example": EXAMPLE_TASK_STATES})
    open_collisions = ma.fields.Integer(metadata={"description": "Collisions waiting for a decision", "example": 1})
    last_round_at = ma.fields.String(allow_none=True, metadata={
        "description": "When the last round ended, ISO 8601 UTC; null before the first",
        "example": "2026-03-04T16:02:12.250117+00:00"})
    last_success_at = ma.fields.String(allow_none=True, metadata={
        "description": "When the last successful round ended; null before the first",
        "example": "2026-03-04T16:02:12.250117+00:00"})
    last_error = ma.fields.String(allow_none=True, metadata={
        "description": "Why the last round failed; null when it succeeded", "example": "GET /orders: ConnectionError"})
