"""The peer instance's real app, reached through its WSGI test client instead of a socket,
for fast logic tests; faults are injected around each call the integration makes."""
from __future__ import annotations

from collections.abc import Callable

from services.orders.sync.peer import PeerReply, PeerUnavailable
from tests.orders.conftest import AUTH

# What can happen to one call: delivered, dropped before the peer saw it, the peer
# committed but the answer was lost, or delivered twice (the second answer is returned).
FAULTS = ("ok", "drop", "lose", "dup")
# A peer with stricter validation than ours: it refuses the write with a 422.
REJECTED = PeerReply(422, {"code": 422, "status": "Unprocessable Entity", "message": "stricter peer says no"})


class ClientPeer:
    def __init__(self, app, fault: Callable[[str], str] | None = None):
        self.client = app.test_client()
        self.fault = fault or (lambda call: "ok")
        self.writes = 0
        self.reject_writes = 0  # refuse this many coming creates with a 422

    def _send(self, call: str, do):
        fault = self.fault(call)
        if fault == "drop":
            raise PeerUnavailable(f"{call}: dropped")
        response = do()
        if fault == "dup":
            response = do()
        if fault == "lose":
            raise PeerUnavailable(f"{call}: response lost")
        if response.status_code >= 500:
            raise PeerUnavailable(f"{call}: HTTP {response.status_code}")
        return response

    def feed(self, since: int, per_page: int):
        response = self._send("feed", lambda: self.client.get(f"/orders?since={since}&per_page={per_page}"))
        return response.json["data"], response.json["count"]

    def get(self, uuid: str):
        response = self._send("get", lambda: self.client.get(f"/orders/{uuid}"))
        return None if response.status_code == 404 else response.json

    def create(self, uuid: str, content: dict) -> PeerReply:
        self.writes += 1
        if self.reject_writes:
            self.reject_writes -= 1
            return REJECTED
        response = self._send("create", lambda: self.client.post("/orders", json={"uuid": uuid, **content},
                                                                 headers=AUTH))
        return PeerReply(response.status_code, response.json)

    def replace(self, uuid: str, content: dict, if_match: int) -> PeerReply:
        self.writes += 1
        response = self._send("replace", lambda: self.client.put(
            f"/orders/{uuid}", json=content, headers={**AUTH, "If-Match": f'"{if_match}"'}))
        return PeerReply(response.status_code, response.json)


def snapshot(client) -> dict[str, dict]:
    """Every order an instance holds (tombstones included): uuid -> content, via its feed."""
    out, since = {}, 0
    while True:
        page = client.get(f"/orders?since={since}&per_page=1000").json["data"]
        if not page:
            return out
        for order in page:
            out[order["uuid"]] = {key: order[key] for key in ("number", "customer_name", "customer_email", "items",
                                                               "currency", "status", "note", "deleted", "total")}
        since = page[-1]["seq"]
