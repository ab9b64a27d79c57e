"""The users' journeys across the whole stack, over HTTP."""
import requests

from tests.support.waiting import wait_for

from tests.support.live_collector import COLLECTOR, finished_task, start


def test_a_trials_pull_through_the_collector_then_lookups(stack):
    collector, trials = stack.url("collector"), stack.url("trials")
    requests.post(stack.url("sandbox") + "/_sandbox/odcloud/revise", json={"change": 3, "drop": 0, "add": 1},
                  timeout=10).raise_for_status()
    task = finished_task(collector, start(collector, "trials", {}))
    assert task["status"] == "completed", task
    assert task["type"] == "trials_collect"
    assert task["result_summary"]["created"] == 1
    assert task["result_summary"]["updated"] == 3
    recent = requests.get(trials + "/list", params={"per_page": 100}, timeout=10).json()
    assert recent["count"] >= 4
    first = recent["data"][0]
    assert requests.get(f"{trials}/trials/{first['trial_id']}", timeout=10).json() == first
    found = requests.get(trials + "/trials", params={"institution": first["institution"]}, timeout=10).json()
    assert first["trial_id"] in {t["trial_id"] for t in found["data"]} or found["count"] > len(found["data"])


def test_a_grader_day_then_stats_and_the_report(stack, outside):
    collector, grader = stack.url("collector"), stack.url("grader")
    expected = requests.get(stack.url("sandbox") + "/_sandbox/grader/expected", params={"date": "2024-03-01"},
                            timeout=10).json()
    task = finished_task(collector, start(collector, "grader", {"target_date": "2024-03-01"}))
    assert task["status"] == "completed", task
    stats = requests.get(grader + "/stats/daily", params={"date": "2024-03-01"}, timeout=10).json()
    assert stats["attempts"] == expected["valid"]
    assert stats["runs"] + stats["submits"] == stats["attempts"]
    report = requests.post(grader + "/reports/daily", json={"date": "2024-03-01"}, timeout=60,
                           headers={"Authorization": f"Bearer {stack.service_token}"}).json()
    assert (report["sheets_status"], report["email_status"]) == ("published", "published"), report
    assert any("2024-03-01" in message.decode(errors="replace") for _, _, message in outside["inbox"].messages)
    rows = [row for row in outside["google"].grid() if row and row[0] == "2024-03-01"]
    assert len(rows) == 1
    assert str(expected["valid"]) in [str(cell) for cell in rows[0]]


def test_collector_start_poll_cancel_and_summary(stack):
    collector = stack.url("collector")
    before = requests.get(f"{collector}{COLLECTOR}/status/summary", timeout=10).json()
    waiting = start(collector, "trials", {"countdown": 600})
    cancelled = requests.delete(f"{collector}{COLLECTOR}/task/{waiting}", timeout=10)
    assert cancelled.status_code == 200
    assert requests.get(f"{collector}{COLLECTOR}/task/{waiting}", timeout=10).json()["status"] == "cancelled"
    assert requests.delete(f"{collector}{COLLECTOR}/task/{waiting}", timeout=10).status_code == 409
    after = requests.get(f"{collector}{COLLECTOR}/status/summary", timeout=10).json()
    assert after["total_tasks"] == before["total_tasks"] + 1
    assert after["cancelled"] == before["cancelled"] + 1
    listed = requests.get(f"{collector}{COLLECTOR}/tasks", params={"status": "cancelled"}, timeout=10).json()
    assert waiting in {task["id"] for task in listed["data"]}


def test_an_order_created_and_changed_on_b_arrives_on_a(stack):
    a, b = stack.url("orders-a"), stack.url("orders-b")
    auth = {"Authorization": f"Bearer {stack.service_token}"}
    order = {"customer_name": "E2E Kim", "customer_email": "kim@example.com", "currency": "KRW",
             "items": [{"sku": "SKU-1", "name": "Serum", "qty": 2, "unit_price": "15000.00"}]}
    created = requests.post(b + "/orders", json=order, headers=auth, timeout=10)
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    arrived = wait_for(lambda: requests.get(f"{a}/orders/{uuid}", timeout=10).ok and
                       requests.get(f"{a}/orders/{uuid}", timeout=10).json())
    assert arrived["total"] == "30000.00"
    changed = {**order, "status": "paid", "note": "paid by card"}
    assert requests.put(f"{b}/orders/{uuid}", json=changed, headers=auth, timeout=10).status_code == 200
    on_a = wait_for(lambda: (o := requests.get(f"{a}/orders/{uuid}", timeout=10).json())["status"] == "paid" and o)
    assert on_a["note"] == "paid by card"
    status = requests.get(a + "/sync/status", timeout=10).json()
    assert status["last_error"] is None
