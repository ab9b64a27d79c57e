"""A request id per request: taken from X-Request-ID (a plain token) or made up, echoed in the
response, named by the request's log lines (text or LOG_FORMAT=json) and sent on by the outbound
session to the next service, which logs and echoes the same id."""
from __future__ import annotations

import json
import logging
import re

import pytest

from shared.config import BaseConfig, ConfigError
from shared.http import HttpSession
from shared.logs import configure_logging, current_request_id, request_id_scope
from tests.shared.service_apps import SERVICES
from tests.support.http_server import serve


@pytest.fixture
def make_app(make_service_app):
    yield make_service_app
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_shared_logs", False)]:
        root.removeHandler(handler)
        handler.close()


def log_text(tmp_path, service: str) -> str:
    return "".join(path.read_text() for path in (tmp_path / "log").glob(f"{service}-*.log"))


@pytest.mark.parametrize("service", SERVICES)
def test_a_client_id_is_echoed_and_a_missing_or_odd_one_replaced(make_app, service):
    client = make_app(service).test_client()
    given = client.get("/health/live", headers={"X-Request-ID": "trace-42.a:b"})
    assert given.headers["X-Request-ID"] == "trace-42.a:b"
    made = client.get("/health/live").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    for odd in ("x" * 200, "two words", "é"):
        echoed = client.get("/health/live", headers={"X-Request-ID": odd}).headers["X-Request-ID"]
        assert echoed != odd and re.fullmatch(r"[0-9a-f]{32}", echoed)
    # Errors carry it too: a 404 in the house shape.
    missing = client.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "lost-1"
    assert current_request_id() is None  # nothing left behind once the request is over


def test_the_next_service_gets_the_same_id_and_logs_it(make_app, tmp_path):
    trials = make_app("trials")

    @trials.get("/_test/log")
    def log_a_line():
        logging.getLogger("test.request_ids").warning("called from upstream")
        return {"ok": True}

    with serve(trials) as url, request_id_scope("caller-req-7"):
        response = HttpSession(retries=0).get(f"{url}/_test/log")
    assert response.headers["X-Request-ID"] == "caller-req-7"
    assert "[trials caller-req-7] test.request_ids: called from upstream" in log_text(tmp_path, "trials")


def test_a_header_the_caller_gave_is_kept(make_app):
    trials = make_app("trials")
    with serve(trials) as url, request_id_scope("ambient"):
        response = HttpSession(retries=0).get(f"{url}/health/live", headers={"x-request-id": "explicit-1"})
    assert response.headers["X-Request-ID"] == "explicit-1"


def test_json_lines_name_the_request_and_mask_secrets(make_app, tmp_path):
    app = make_app("grader", LOG_FORMAT="json")

    @app.get("/_test/log")
    def log_lines():
        log = logging.getLogger("test.json")
        log.info("connecting to postgresql://app:s3cr3t@db:5432/grader")
        try:
            raise ValueError("client_key=abc123 was refused")
        except ValueError:
            log.exception("call failed")
        return {"ok": True}

    app.test_client().get("/_test/log", headers={"X-Request-ID": "json-req-1"})
    lines = [json.loads(line) for line in log_text(tmp_path, "grader").splitlines()]  # one object a line
    ours = [line for line in lines if line["logger"] == "test.json"]
    assert [line["message"] for line in ours] == ["connecting to postgresql://app:***@db:5432/grader", "call failed"]
    assert {line["request_id"] for line in ours} == {"json-req-1"}
    assert {line["service"] for line in ours} == {"grader"} and ours[0]["level"] == "INFO"
    assert "ValueError" in ours[1]["exc_info"] and "abc123" not in ours[1]["exc_info"]
    assert "s3cr3t" not in log_text(tmp_path, "grader")


def test_log_format_is_text_or_json():
    assert BaseConfig(environ={"LOG_FORMAT": "JSON"}).LOG_FORMAT == "json"
    assert BaseConfig(environ={}).LOG_FORMAT == "text"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        BaseConfig(environ={"LOG_FORMAT": "xml"})


def test_a_stream_handler_on_our_stream_is_replaced_not_doubled(tmp_path, capsys):
    """Dramatiq's CLI calls logging.basicConfig on the stream our handler writes to as well."""
    import sys

    root = logging.getLogger()
    theirs = logging.StreamHandler(sys.stdout)
    root.addHandler(theirs)
    try:
        configure_logging("svc", tmp_path, "INFO")
        logging.getLogger("x").warning("written once")
        assert capsys.readouterr().out.count("written once") == 1
        assert theirs not in root.handlers
    finally:
        if theirs in root.handlers:
            root.removeHandler(theirs)
        for handler in [h for h in root.handlers if getattr(h, "_shared_logs", False)]:
            root.removeHandler(handler)
            handler.close()
