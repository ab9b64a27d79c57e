"""`make up` leaves an operator key for the collector in var/collector_operator_key (mode 600) and says where."""
import stat

import requests

TASKS = "/api/v1/async-collection/tasks"


def test_make_up_writes_an_operator_key_and_prints_where(stack):
    path = stack.var / "collector_operator_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"collector operator key: {path}" in stack.output and stack.collector_key not in stack.output
    collector = stack.url("collector")
    assert requests.get(collector + TASKS, headers={"X-API-Key": stack.collector_key}, timeout=10).status_code == 200
    refused = requests.get(collector + TASKS, headers={"X-API-Key": stack.collector_key + "x"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == 401
    # The service token is the other services' and no key here.
    assert requests.get(collector + TASKS, headers={"Authorization": f"Bearer {stack.service_token}"},
                        timeout=10).status_code == 401
    assert requests.get(collector + "/health", headers={"Host": "rebound.example"}, timeout=10).status_code == 400
