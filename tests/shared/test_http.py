"""The outbound session retries connection errors, 429 and 5xx with backoff, and nothing else."""
import time

import pytest
import requests
from flask import Flask, request

from shared.http import HttpSession
from tests.support.http_server import serve


@pytest.fixture
def flaky():
    """An upstream whose /status/<code>/<n> answers <code> n times, then 200; it counts calls."""
    app = Flask(__name__)
    calls: dict[str, int] = {}

    @app.route("/status/<int:code>/<int:failures>", methods=["GET", "POST", "PUT"])
    def status(code, failures):
        calls[request.path] = calls.get(request.path, 0) + 1
        if calls[request.path] <= failures:
            headers = {"Retry-After": "0"} if code == 429 else {}
            return {"attempt": calls[request.path]}, code, headers
        return {"attempt": calls[request.path]}

    @app.get("/slow")
    def slow():
        calls["/slow"] = calls.get("/slow", 0) + 1
        time.sleep(0.5)  # the upstream being slow is what is tested here
        return {}

    with serve(app) as url:
        yield url, calls


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_retries_429_and_5xx_then_succeeds(flaky, code):
    url, calls = flaky
    response = HttpSession(retries=3, backoff=0).post(f"{url}/status/{code}/2", json={})
    assert response.status_code == 200
    assert response.json() == {"attempt": 3}
    assert calls[f"/status/{code}/2"] == 3


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_other_4xx_are_not_retried(flaky, code):
    url, calls = flaky
    response = HttpSession(retries=3, backoff=0).get(f"{url}/status/{code}/5")
    assert response.status_code == code
    assert calls[f"/status/{code}/5"] == 1


def test_retries_are_bounded_and_the_last_answer_returned(flaky):
    url, calls = flaky
    response = HttpSession(retries=2, backoff=0).get(f"{url}/status/503/10")
    assert response.status_code == 503
    assert calls["/status/503/10"] == 3


def test_every_call_has_a_timeout(flaky):
    url, calls = flaky
    with pytest.raises(requests.ConnectionError):
        HttpSession(timeout=0.1, retries=1, backoff=0).get(f"{url}/slow")
    assert calls["/slow"] == 2


def test_connection_errors_are_retried_then_raised():
    session = HttpSession(retries=2, backoff=0, timeout=1)
    with pytest.raises(requests.ConnectionError, match="Max retries exceeded"):
        session.get("http://127.0.0.1:9/")


def test_retry_after_is_capped():
    from urllib3 import HTTPResponse

    from shared.http import MAX_RETRY_AFTER, CappedRetry

    retry = CappedRetry(total=1)
    assert retry.get_retry_after(HTTPResponse(headers={"Retry-After": "86400"})) == MAX_RETRY_AFTER
    assert retry.get_retry_after(HTTPResponse(headers={"Retry-After": "3"})) == 3
    assert retry.get_retry_after(HTTPResponse(headers={})) is None
