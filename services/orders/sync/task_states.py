"""The original two-way sync task's state table (ST_NEW=1 ... ST_SYNC=9) and how this
integration's ledger states read in it (docs/two-way-sync.md, "The task's state table").

The task prints codes 7-9 with names and meanings shifted by one row; we read them as its
transition table uses them: ST_ERROR (7) "an error occurred", ST_ERROR_SYNCED (8) "error
synced", and ST_SYNC (9), which no transition reaches, is listed but never held.
"""
from __future__ import annotations

from services.orders.models import Order, SyncLedger, db
from services.orders.sync import ledger as ledgers

# name, code, meaning (the task's), the ledger state that holds it here (None: never held)
TASK_STATES: tuple[tuple[str, int, str, str | None], ...] = (
    ("ST_NEW", 1, "new object, not yet synced", "NEW"),
    ("ST_UPD", 2, "updated, not yet synced", "UPD"),
    ("ST_OK", 3, "normal: both sides agree", "OK"),
    ("ST_DEL", 4, "marked for deletion, not yet synced", "DEL"),
    ("ST_DEL_SYNCED", 5, "deletion synced", "DEL_SYNCED"),
    ("ST_COLLISION", 6, "collision occurred", "COLLISION"),
    ("ST_ERROR", 7, "an error occurred (the peer refused the write; retried with backoff)", "ERROR"),
    ("ST_ERROR_SYNCED", 8, "error synced (not held here: an error is retried until it clears)", None),
    ("ST_SYNC", 9, "error synced, as printed (no transition reaches it; not held here)", None),
)
BY_LEDGER_STATE = {ledger: (name, code) for name, code, _, ledger in TASK_STATES if ledger}


def task_state(ledger_state: str) -> dict:
    """`{"state": "ST_OK", "code": 3, "ledger_state": "OK"}` for a ledger state."""
    name, code = BY_LEDGER_STATE[ledger_state]
    return {"state": name, "code": code, "ledger_state": ledger_state}


def label(ledger_state: str) -> str:
    """How the admin list shows a state: `ST_OK (3)`."""
    name, code = BY_LEDGER_STATE[ledger_state]
    return f"{name} ({code})"


def task_state_counts(counts: dict[str, int]) -> list[dict]:
    """Every task state with its code, meaning and how many orders hold it (from ledger counts)."""
    return [{"state": name, "code": code, "meaning": meaning, "ledger_state": ledger,
             "count": counts.get(ledger, 0) if ledger else 0} for name, code, meaning, ledger in TASK_STATES]


def of_order(order: Order) -> dict:
    """The order's sync state in the task's names and codes."""
    return task_state(ledgers.effective_state(order, db.session.get(SyncLedger, order.uuid)))
