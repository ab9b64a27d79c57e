"""Honest health: /health and /health/ready check every dependency (503 naming the one that is down,
also when it accepts connections and never answers), /health/live only that the process answers."""
from __future__ import annotations

import threading

import pytest

from shared import health
from tests.shared.service_apps import SERVICES
from tests.support.listeners import Tarpit
from tests.support.processes import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def make_app(make_service_app):
    return make_service_app


@pytest.fixture
def tarpit():
    """A TCP port that accepts connections and never answers (until the test ends)."""
    with Tarpit() as server:
        yield server.port


@pytest.mark.parametrize("service", SERVICES)
def test_a_healthy_service_reports_each_dependency(make_app, service):
    # A healthy check answers at once, whatever its timeout: a long one keeps a loaded CI host (a
    # PING past the default 1 s once, at a load of 6) from reading as a dependency that is down.
    client = make_app(service, HEALTH_CHECK_TIMEOUT=10).test_client()
    for path in ("/health", "/health/ready"):
        response = client.get(path)
        assert response.status_code == 200, response.json
        assert response.json["status"] == "ok" and response.json["database"] == "ok"
        expected = {"database": "ok", "redis": "ok"} if service == "collector" else {"database": "ok"}
        assert response.json["checks"].items() >= expected.items()  # a service may add optional checks
    live = client.get("/health/live")
    assert live.status_code == 200 and live.json["status"] == "ok"


def assert_not_ready(response, name: str, reason: str):
    assert response.status_code == 503, response.json
    assert response.json["code"] == 503 and response.json["status"] == "Service Unavailable"
    assert response.json["message"].startswith(f"Not ready: {name} (")
    assert response.json["errors"][name].startswith(reason)


def test_the_collector_with_no_redis_listening_is_not_ready_but_alive(make_app):
    client = make_app("collector", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client()
    for path in ("/health", "/health/ready"):
        response = client.get(path)
        assert_not_ready(response, "redis", "does not answer")
        assert response.json["errors"]["database"] == "ok"
    assert client.get("/health/live").status_code == 200


def test_a_redis_that_never_answers_does_not_hang_health(make_app, tarpit):
    client = make_app("collector", REDIS_URL=f"redis://127.0.0.1:{tarpit}/0", HEALTH_CHECK_TIMEOUT=0.2).test_client()
    assert_not_ready(client.get("/health"), "redis", "does not answer")


def test_a_database_that_cannot_be_opened_is_not_ready(make_app, tmp_path):
    app = make_app("trials")
    app.config["SQLALCHEMY_DATABASE_URI"] = "unused"  # the engine is built; point a check at a broken one instead
    health.add_check(app, "database", lambda: (_ for _ in ()).throw(OSError("disk gone")))
    response = app.test_client().get("/health")
    assert_not_ready(response, "database", "does not answer (OSError)")
    assert "disk gone" not in response.get_data(as_text=True)  # an error's text stays in the log


def test_a_service_adds_its_own_check_required_or_optional(make_app):
    app = make_app("orders")
    health.add_check(app, "peer", lambda: "HTTP 502 from the peer", required=False)
    client = app.test_client()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["peer"] == "HTTP 502 from the peer"
    health.add_check(app, "peer", lambda: "HTTP 502 from the peer")
    assert_not_ready(client.get("/health/ready"), "peer", "HTTP 502 from the peer")


def test_a_check_that_hangs_times_out_and_stuck_checks_are_bounded(make_app):
    app = make_app("orders", HEALTH_CHECK_TIMEOUT=0.5)  # long enough for the database check on a loaded host
    release = threading.Event()
    health.add_check(app, "peer", lambda: release.wait() and None)
    client = app.test_client()
    try:
        assert_not_ready(client.get("/health"), "peer", "does not answer within 0.5 s")
        threads = threading.active_count()
        for _ in range(5):  # the stuck check is not started again: no thread piles up behind it
            response = client.get("/health")
            assert_not_ready(response, "peer", health.STILL_STUCK)
            assert response.json["errors"]["database"] == "ok"  # the other checks still run
        assert threading.active_count() == threads
    finally:
        release.set()
    wait_for(lambda: client.get("/health").status_code == 200, timeout=10, what="the stuck checks to finish")
