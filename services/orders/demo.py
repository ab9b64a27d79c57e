"""`make demo-sync`: create an order on B through its API, change it, and time its arrival on A.

Needs `make up` (A, B and the integration beside A). `python -m services.orders.demo --help`.
"""
from __future__ import annotations

import argparse
import time
import uuid as uuidlib

import requests

from shared.config import Environment


def service_token(env: Environment) -> str:
    from deploy.stack import service_token as stack_token

    return stack_token(env)


def wait_on(base: str, uuid: str, check, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = requests.get(f"{base}/orders/{uuid}", timeout=5)
        if response.status_code == 200 and check(response.json()):
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"order {uuid} did not arrive on {base} within {timeout}s (is the integration running?)")


def main(argv=None) -> None:
    env = Environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default=f"http://127.0.0.1:{env.int('ORDERS_A_PORT', 5103)}")
    parser.add_argument("--b", default=f"http://127.0.0.1:{env.int('ORDERS_B_PORT', 5104)}")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {service_token(env)}"}
    uuid = str(uuidlib.uuid4())
    body = {"uuid": uuid, "customer_name": "Demo Customer", "customer_email": "demo@example.com",
            "items": [{"sku": "DEMO-1", "name": "Demo mug", "qty": 2, "unit_price": "7.50"}], "currency": "EUR"}
    created = requests.post(f"{args.b}/orders", json=body, headers=headers, timeout=10)
    created.raise_for_status()
    print(f"created on B: {uuid} {created.json()['number']} total {created.json()['total']}")
    delay = wait_on(args.a, uuid, lambda order: True, args.timeout)
    print(f"  arrived on A after {delay * 1000:.0f} ms")
    content = {key: value for key, value in body.items() if key != "uuid"}
    changed = requests.put(f"{args.b}/orders/{uuid}", json={**content, "status": "paid", "note": "changed on B"},
                           headers={**headers, "If-Match": created.headers["ETag"]}, timeout=10)
    changed.raise_for_status()
    print(f"changed on B: status paid, version {changed.json()['version']}")
    delay = wait_on(args.a, uuid, lambda order: order["status"] == "paid" and order["note"] == "changed on B",
                    args.timeout)
    print(f"  change visible on A after {delay * 1000:.0f} ms")
    status = requests.get(f"{args.a}/sync/status", timeout=5).json()
    print(f"sync status on A: checkpoint {status['checkpoint']}, states {status['states']}, "
          f"last error {status['last_error']}")


if __name__ == "__main__":
    main()
