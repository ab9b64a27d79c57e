"""The peer instance's real app, reached through its WSGI test client instead of a socket,
for fast logic tests; faults are injected around each call the integration makes."""
from __future__ import annotations

from collections.abc import Callable

from services.orders.sync.engine import SyncEngine
from services.orders.sync.peer import PeerReply, PeerUnavailable
from tests.support.auth import AUTH
from tests.support.orders import order_body

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


class Pair:
    """Instance A in this process and B's real app behind a `ClientPeer`, synced round by round."""

    def __init__(self, app_a, app_b, policy="manual"):
        self.app_a, self.app_b = app_a, app_b
        self.a, self.b = app_a.test_client(), app_b.test_client()
        self.fault_plan: list[str] = []
        self.peer = ClientPeer(app_b, fault=lambda call: self.fault_plan.pop(0) if self.fault_plan else "ok")
        self.policy = policy
        self.crash_before_checkpoint = False
        self.push_concurrency = 1

    def _before_checkpoint(self):
        if self.crash_before_checkpoint:
            self.crash_before_checkpoint = False
            raise SystemExit("crash before checkpoint")

    def round(self):
        engine = SyncEngine(self.peer, self.policy, page_size=50, before_checkpoint=self._before_checkpoint,
                            push_concurrency=self.push_concurrency)
        with self.app_a.app_context():
            return engine.run_round()

    def settle(self, rounds=6):
        for _ in range(rounds):
            report = self.round()
            if not (report.pulled or report.pushed or report.busy):
                return report
        raise AssertionError("did not settle")

    def status(self):
        return self.a.get("/sync/status").json

    def assert_converged(self):
        assert snapshot(self.a) == snapshot(self.b)
        status = self.status()
        assert status["states"]["ERROR"] == 0 and status["open_collisions"] == 0
        assert status["lag"]["local_pending"] == 0
        writes = self.peer.writes
        self.round()
        assert self.peer.writes == writes, "one more round must send no writes"


def put(client, uuid, **overrides):
    response = client.put(f"/orders/{uuid}", json=order_body(**overrides), headers=AUTH)
    assert response.status_code == 200, response.json
    return response.json
