"""Worked examples for the orders OpenAPI document: one order, as a reader of the Swagger
page would meet it, through its life here and in the two-way sync with the peer."""
from __future__ import annotations

EXAMPLE_UUID = "3f2b8c1e-9d4a-4c6b-8e21-5a7d0c9b1f42"
EXAMPLE_ITEMS = [{"sku": "MUG-1", "name": "Mug", "qty": 2, "unit_price": "9.50"}]
EXAMPLE_CONTENT = {"number": "ORD-3F2B8C1E", "customer_name": "Ada Lovelace", "customer_email": "ada@example.com",
                   "items": EXAMPLE_ITEMS, "currency": "EUR", "status": "paid", "note": "Leave at the front desk.",
                   "deleted": False}
EXAMPLE_ORDER = {"uuid": EXAMPLE_UUID, **EXAMPLE_CONTENT, "total": "19.00",
                 "created_at": "2026-03-02T09:15:27.120394+00:00", "updated_at": "2026-03-04T16:02:11.503918+00:00",
                 "version": 3, "seq": 1042}
# What GET /orders/{uuid} adds on the instance the integration runs beside: the sync state.
EXAMPLE_ORDER_SYNCED = {**EXAMPLE_ORDER, "sync_state": {"state": "ST_NEW", "code": 1, "ledger_state": "NEW"}}
# The same order after both instances changed it: paid here, cancelled on the peer.
EXAMPLE_PEER_CONTENT = {**EXAMPLE_CONTENT, "status": "cancelled", "note": "Customer called to cancel."}
EXAMPLE_COLLISION = {"id": 7, "uuid": EXAMPLE_UUID, "detected_at": "2026-03-04T16:02:12.250117+00:00",
                     "local_version": 3, "local_content": EXAMPLE_CONTENT,
                     "peer_version": 4, "peer_content": EXAMPLE_PEER_CONTENT,
                     "resolved_at": None, "resolution": None, "losing_content": None}
EXAMPLE_STATES = {"NEW": 0, "UPD": 1, "OK": 1204, "DEL": 0, "DEL_SYNCED": 12, "COLLISION": 1, "ERROR": 0}
# The same counts in the original task's state table (services/orders/sync/task_states.py).
EXAMPLE_TASK_STATES = [
    {"state": "ST_NEW", "code": 1, "meaning": "new object, not yet synced", "ledger_state": "NEW", "count": 0},
    {"state": "ST_UPD", "code": 2, "meaning": "updated, not yet synced", "ledger_state": "UPD", "count": 1},
    {"state": "ST_OK", "code": 3, "meaning": "normal: both sides agree", "ledger_state": "OK", "count": 1204},
    {"state": "ST_DEL", "code": 4, "meaning": "marked for deletion, not yet synced", "ledger_state": "DEL",
     "count": 0},
    {"state": "ST_DEL_SYNCED", "code": 5, "meaning": "deletion synced", "ledger_state": "DEL_SYNCED", "count": 12},
    {"state": "ST_COLLISION", "code": 6, "meaning": "collision occurred", "ledger_state": "COLLISION", "count": 1},
    {"state": "ST_ERROR", "code": 7, "meaning": "an error occurred (the peer refused the write; retried with backoff)",
     "ledger_state": "ERROR", "count": 0},
    {"state": "ST_ERROR_SYNCED", "code": 8,
     "meaning": "error synced (not held here: an error is retried until it clears)", "ledger_state": None, "count": 0},
    {"state": "ST_SYNC", "code": 9, "meaning": "error synced, as printed (no transition reaches it; not held here)",
     "ledger_state": None, "count": 0},
]
EXAMPLE_LAG = {"peer_changes": 0, "local_pending": 1, "seconds_since_last_success": 0.412}

# The order of EXAMPLE_ORDER (version 3) as created, and after a PUT; what the views answer about it.
CREATED = {**EXAMPLE_ORDER, "updated_at": EXAMPLE_ORDER["created_at"], "version": 1, "seq": 1041}
REPLACED = {**EXAMPLE_ORDER, "updated_at": "2026-03-05T08:30:45.016734+00:00", "version": 4, "seq": 1043}
ORDER_PAGE = {"count": 1, "data": [EXAMPLE_ORDER]}
STALE = f"Order {EXAMPLE_UUID} is at version 4, not 3."
ORDER_NOT_FOUND = f"Order {EXAMPLE_UUID} not found."
ORDER_EXISTS = f"Order {EXAMPLE_UUID} already exists with different content."

# Instance A a moment after a round that found one collision; one local change waits to be pushed.
STATUS_EXAMPLE = {"instance": "A", "peer": "http://orders-b:8000", "policy": "manual", "checkpoint": 1041,
                  "lag": EXAMPLE_LAG, "states": EXAMPLE_STATES, "task_states": EXAMPLE_TASK_STATES,
                  "open_collisions": 1,
                  "last_round_at": "2026-03-04T16:02:12.250117+00:00",
                  "last_success_at": "2026-03-04T16:02:12.250117+00:00", "last_error": None}
# The collision above, resolved for the peer's side: the local content is kept as the loser.
RESOLVED_EXAMPLE = {**EXAMPLE_COLLISION, "resolved_at": "2026-03-04T16:40:03.871260+00:00", "resolution": "peer",
                    "losing_content": EXAMPLE_CONTENT}
NO_OPEN_COLLISION = f"Order {EXAMPLE_UUID} has no open collision."
