"""`make up` as a user meets it: every service answers, documents itself, and stops cleanly."""
import requests


def test_up_prints_one_line_per_service_with_its_url(stack):
    for name, url in stack.urls.items():
        assert f"{name:<10} {url}" in stack.output


def test_every_service_is_healthy_and_documented(stack):
    from deploy.stack import SERVICES

    for service in SERVICES:
        url = stack.url(service.name)
        assert requests.get(url + "/health", timeout=5).json()["status"] == "ok"
        if service.docs:
            spec = requests.get(url + "/openapi.json", timeout=5).json()
            assert spec["paths"], service.name
            assert "swagger-ui" in requests.get(url + "/docs", timeout=5).text


def upstream_total(stack) -> int:
    from shared.connectors.odcloud import DATASET_PATH

    return requests.get(f"{stack.url('sandbox')}/api{DATASET_PATH}", params={"serviceKey": "sandbox-key"},
                        timeout=5).json()["totalCount"]


def test_trials_are_loaded_and_answer(stack):
    trials = stack.url("trials")
    listing = requests.get(trials + "/trials?per_page=5", timeout=5).json()
    total = upstream_total(stack)
    assert total >= 145
    assert listing["count"] == total
    trial_id = listing["data"][0]["trial_id"]
    assert requests.get(f"{trials}/trials/{trial_id}", timeout=5).json()["trial_id"] == trial_id
    recent = requests.get(trials + "/list", timeout=5)
    assert recent.json()["count"] == total
    assert "X-Pagination" in recent.headers
    search = requests.get(trials + "/trials", params={"q": "코호트"}, timeout=5).json()
    assert 0 < search["count"] < total
    assert all("코호트" in t["title"] or "코호트" in (t["institution"] or "") for t in search["data"])


def test_writes_need_the_generated_token(stack):
    trials = stack.url("trials")
    body = {"records": [{"trial_id": "E2E-1", "title": "e2e"}]}
    assert requests.put(trials + "/trials/batch", json=body, timeout=5).status_code == 401
    ok = requests.put(trials + "/trials/batch", json=body, timeout=5,
                      headers={"Authorization": f"Bearer {stack.service_token}"})
    assert ok.json()["created"] == 1
