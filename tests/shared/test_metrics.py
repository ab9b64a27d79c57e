"""/metrics on every service in Prometheus' text format: requests counted and timed per endpoint
(the URL rule, not the URL), and under gunicorn every worker answers with the figures of all."""
from __future__ import annotations

import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.shared.service_apps import SERVICES, TOKEN, service_app, service_config
from tests.support.processes import REPO_ROOT, free_port
from tests.support.waiting import wait_for


def samples(text: str) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value, for every sample of a /metrics page."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def count(page: dict, service: str, method: str, endpoint: str, status: str) -> float:
    labels = (("endpoint", endpoint), ("method", method), ("service", service), ("status", status))
    return page.get(("http_requests_total", labels), 0.0)


@pytest.fixture(params=SERVICES)
def app(request, migrated_database_for, tmp_path, redis_url):
    service = request.param
    with service_app(service, service_config(service, migrated_database_for(service), tmp_path, redis_url)) as app:
        yield app


def test_requests_are_counted_and_timed_per_endpoint(app):
    service = app.config["SERVICE_NAME"]
    client = app.test_client()
    before = samples(client.get("/metrics").get_data(as_text=True))
    for _ in range(3):
        assert client.get("/health/live").status_code == 200
    assert client.get("/no/such/page/123").status_code == 404
    assert client.get("/no/such/page/456").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    after = samples(response.get_data(as_text=True))
    assert count(after, service, "GET", "/health/live", "200") \
        - count(before, service, "GET", "/health/live", "200") == 3
    # Unknown URLs share one series, so a scan cannot multiply them.
    assert count(after, service, "GET", "<unmatched>", "404") - count(before, service, "GET", "<unmatched>", "404") == 2
    latency = (("endpoint", "/health/live"), ("method", "GET"), ("service", service))
    assert after[("http_request_duration_seconds_count", latency)] \
        - before.get(("http_request_duration_seconds_count", latency), 0.0) == 3
    assert not any(dict(labels).get("endpoint") == "/metrics" for _, labels in after)


def test_a_path_with_an_id_is_counted_under_its_rule(migrated_database_for, tmp_path, redis_url):
    with service_app("trials", service_config("trials", migrated_database_for("trials"), tmp_path, redis_url)) as app:
        client = app.test_client()
        client.get("/trials/NOPE-1")
        client.get("/trials/NOPE-2")
        page = samples(client.get("/metrics").get_data(as_text=True))
    endpoints = {dict(labels).get("endpoint") for name, labels in page if name == "http_requests_total"}
    assert not any("NOPE" in (endpoint or "") for endpoint in endpoints)
    assert any(endpoint and endpoint.startswith("/trials/<") for endpoint in endpoints)


def test_metrics_are_not_in_the_openapi_document(app):
    assert "/metrics" not in app.test_client().get("/openapi.json").get_json()["paths"]


@pytest.mark.e2e
def test_under_gunicorn_any_worker_answers_for_all(live_process, migrated_database_for, tmp_path):
    port = free_port()
    env = {"TRIALS_DATABASE_URL": migrated_database_for("trials"), "SERVICE_TOKEN": TOKEN, "VAR_DIR": str(tmp_path),
           "LOG_DIR": str(tmp_path / "log")}
    args = [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "deploy/gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", "3", "--threads", "1",
            # Each worker is replaced after 10 requests, so the 30 below are served by several processes
            # whatever the kernel's choice of acceptor, and the files of the ones gone must still count.
            "--max-requests", "10", "services.trials:create_app()"]
    service = live_process(args, env=env, port=port, name="gunicorn", health_path="/health/live")
    wait_for(lambda: len(list((tmp_path / "metrics").glob(f"*{port}*/*.db"))) >= 1, what="a metrics file")
    # All three workers may be starting afresh at once (each replaced after its 10th request): a
    # loaded host takes seconds to import the app, so the timeout is generous.
    before = count(samples(requests.get(f"{service.url}/metrics", timeout=60).text),
                   "trials", "GET", "/health/live", "200")
    for _ in range(30):
        assert requests.get(f"{service.url}/health/live", timeout=60).status_code == 200
    # Each /metrics request may reach another worker (a new connection each): all agree on the total.
    totals = {count(samples(requests.get(f"{service.url}/metrics", timeout=60).text),
                    "trials", "GET", "/health/live", "200") - before for _ in range(12)}
    assert totals == {30.0}
    assert len({path.name for path in (tmp_path / "metrics").glob(f"*{port}*/counter_*.db")}) >= 3
