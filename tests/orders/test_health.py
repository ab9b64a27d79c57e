"""/health of instance A reports its peer (B) without letting a peer that is down make A's own
API look down; B, which has no peer, reports none."""
from __future__ import annotations

from tests.support.http_server import serve
from tests.support.listeners import Tarpit
from tests.support.processes import free_port


def test_a_reports_a_peer_that_answers(make_orders_app):
    app_b = make_orders_app("B")
    with serve(app_b) as b_url:
        client = make_orders_app("A", ORDERS_PEER_URL=b_url).test_client()
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json["checks"]["peer"] == "ok" and response.json["checks"]["database"] == "ok"
    assert "peer" not in app_b.test_client().get("/health").json["checks"]


def test_a_peer_that_is_down_is_reported_but_a_stays_ready(make_orders_app):
    client = make_orders_app("A", ORDERS_PEER_URL=f"http://127.0.0.1:{free_port()}").test_client()
    for route in ("/health", "/health/ready"):
        response = client.get(route)
        assert response.status_code == 200, response.json
        assert response.json["checks"]["peer"].startswith("does not answer")
    assert client.get("/orders").status_code == 200  # A's own API serves


def test_a_peer_that_never_answers_is_reported_down_within_the_check_timeout(make_orders_app):
    with Tarpit() as tarpit:
        client = make_orders_app("A", ORDERS_PEER_URL=f"http://127.0.0.1:{tarpit.port}",
                                 HEALTH_CHECK_TIMEOUT=0.3).test_client()
        response = client.get("/health")
        assert tarpit.count >= 1  # the check did try the peer
    assert response.status_code == 200
    assert response.json["checks"]["peer"].startswith("does not answer")


def test_redis_down_is_reported_but_orders_stay_ready(make_orders_app):
    # Redis holds only the admin login throttle's counts, which fall back to memory meanwhile.
    client = make_orders_app("B", ORDERS_ADMIN_LOGIN_STORAGE=f"redis://127.0.0.1:{free_port()}/0").test_client()
    response = client.get("/health")
    assert response.status_code == 200 and response.json["checks"]["redis"].startswith("does not answer")
    assert make_orders_app("B").test_client().get("/health").json["checks"]["redis"] == "ok"
