"""Both instances and the integration as real processes, with the fault proxy in between."""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

import requests

from tests.orders.fault_proxy import FaultProxy
from tests.support.auth import AUTH, SERVICE_TOKEN
from tests.support.orders import order_body
from tests.support.processes import flask_app, free_port, python_module
from tests.support.waiting import wait_for

ADMIN_PASSWORD = "e2e-admin-password"
CONTENT_KEYS = ("number", "customer_name", "customer_email", "items", "currency", "status", "note", "deleted",
                "total")


def eventually(check, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    return wait_for(check, timeout, interval, what=message)


def snapshot(base_url: str) -> dict[str, dict]:
    out, since = {}, 0
    while True:
        page = requests.get(f"{base_url}/orders", params={"since": since, "per_page": 1000}, timeout=10).json()["data"]
        if not page:
            return out
        for order in page:
            out[order["uuid"]] = {key: order[key] for key in CONTENT_KEYS}
        since = page[-1]["seq"]


@dataclass
class Stack:
    a: str
    b: str
    proxy: FaultProxy
    integration_env: dict
    start_process: object
    integration: object = None

    def start_integration(self, **env):
        self.integration = self.start_process(python_module("flask", "--app", "services.orders", "sync", "run"),
                                              {**self.integration_env, **env}, name="integration")
        return self.integration

    # --- the public API of either side -------------------------------------------------
    @staticmethod
    def create(base: str, **fields) -> dict:
        response = requests.post(f"{base}/orders", json=order_body(**fields), headers=AUTH, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    @staticmethod
    def put(base: str, uuid: str, **fields) -> dict:
        response = requests.put(f"{base}/orders/{uuid}", json=order_body(**fields), headers=AUTH, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    @staticmethod
    def delete(base: str, uuid: str) -> None:
        assert requests.delete(f"{base}/orders/{uuid}", headers=AUTH, timeout=10).status_code == 204

    @staticmethod
    def get(base: str, uuid: str) -> dict:
        return requests.get(f"{base}/orders/{uuid}", timeout=10).json()

    def status(self) -> dict:
        return requests.get(f"{self.a}/sync/status", timeout=10).json()

    def collisions(self, open_only: bool = True) -> list[dict]:
        return requests.get(f"{self.a}/sync/collisions", params={"open": str(open_only).lower()}, timeout=10).json()

    def resolve(self, uuid: str, take: str) -> dict:
        response = requests.post(f"{self.a}/sync/collisions/{uuid}/resolve", json={"take": take}, headers=AUTH,
                                 timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def on_a(self, uuid: str, check) -> dict:
        return eventually(lambda: (order := self.get(self.a, uuid)).get("uuid") and check(order) and order,
                          message=f"order {uuid} on A")

    def on_b(self, uuid: str, check) -> dict:
        return eventually(lambda: (order := self.get(self.b, uuid)).get("uuid") and check(order) and order,
                          message=f"order {uuid} on B")

    def assert_converged(self, expected_orders: int | None = None) -> None:
        """Same orders on both sides, nothing pending or stuck, and further rounds write nothing."""
        def settled():
            status = self.status()
            states = status["states"]
            return (snapshot(self.a) == snapshot(self.b) and status["open_collisions"] == 0
                    and states["ERROR"] == 0 and status["lag"]["local_pending"] == 0
                    and status["lag"]["peer_changes"] == 0)
        eventually(settled, message="convergence")
        if expected_orders is not None:
            assert len(snapshot(self.a)) == expected_orders
        writes, reads = self.proxy.writes(), self.proxy.feed_reads()
        eventually(lambda: self.proxy.feed_reads() >= reads + 3, message="three more rounds")
        assert self.proxy.writes() == writes, "an idle round sent writes"
        assert snapshot(self.a) == snapshot(self.b)


def start_stack(live_process, migrated_database_for, tmp_path, b_env: dict | None = None) -> Stack:
    url_a, url_b = migrated_database_for("orders", "orders_a"), migrated_database_for("orders", "orders_b")
    common = {"SERVICE_TOKEN": SERVICE_TOKEN, "LOG_DIR": str(tmp_path / "log"), "ORDERS_ADMIN_USER": "admin",
              "ORDERS_ADMIN_PASSWORD": ADMIN_PASSWORD, "ORDERS_SECRET_KEY": "e2e-secret",
              # Failed logins are counted in the shared Redis: this stack counts its own.
              "ORDERS_ADMIN_LOGIN_KEY_PREFIX": f"test-orders-login-{uuidlib.uuid4().hex}"}
    port_a, port_b = free_port(), free_port()
    b = live_process(flask_app("services.orders", port_b),
                     {**common, "ORDERS_INSTANCE": "B", "ORDERS_DATABASE_URL": url_b, **(b_env or {})},
                     port=port_b, name="orders-b")
    proxy = FaultProxy(b.url).start()
    a = live_process(flask_app("services.orders", port_a),
                     {**common, "ORDERS_INSTANCE": "A", "ORDERS_DATABASE_URL": url_a, "ORDERS_PEER_URL": proxy.url},
                     port=port_a, name="orders-a")
    integration_env = {**common, "ORDERS_INSTANCE": "A", "ORDERS_DATABASE_URL": url_a, "ORDERS_PEER_URL": proxy.url,
                       "ORDERS_SYNC_INTERVAL": "0.1", "ORDERS_SYNC_MAX_BACKOFF": "0.5",
                       "ORDERS_SYNC_TIMEOUT": "1"}
    return Stack(a.url, b.url, proxy, integration_env, live_process)
