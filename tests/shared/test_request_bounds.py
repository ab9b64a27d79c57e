"""Bodies are bounded on every service: a body over <SERVICE>_MAX_CONTENT_LENGTH is a 413 before it
is read (also over real HTTP, streamed, with the server's memory staying low), JSON nested
10,000 deep is a 400 on every JSON endpoint, and the Link header keeps only declared parameters."""
from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import MiB
from tests.shared.service_apps import SERVICES, TOKEN, auth_for, service_app, service_config
from tests.support.processes import free_port

DEEP = "[" * 10_000 + "]" * 10_000
HOUSE_SHAPE = {"code", "status", "message"}
DEFAULT_LIMITS = {"trials": 16 * MiB, "grader": 64 * MiB, "orders": 1 * MiB, "collector": 1 * MiB}


@pytest.fixture(params=SERVICES)
def service(request):
    return request.param


@pytest.fixture
def make_app(service, make_service_app):
    return lambda **overrides: make_service_app(service, **overrides)


def json_operations(spec: dict):
    """(method, url) of every documented operation that takes a JSON body, path parameters filled in."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "application/json" not in op.get("requestBody", {}).get("content", {}):
                continue
            parameters = item.get("parameters", []) + op.get("parameters", [])
            examples = {p["name"]: p.get("example", p.get("schema", {}).get("example")) for p in parameters}
            yield method, re.sub(r"{(\w+)}", lambda m, examples=examples: str(examples[m[1]]), path)


def test_json_nested_10000_deep_is_a_400_on_every_json_endpoint(make_app, service):
    client = make_app().test_client()
    operations = list(json_operations(client.get("/openapi.json").json))
    assert operations, f"{service} documents no JSON body"
    for method, url in operations:
        response = client.open(url, method=method.upper(), data=DEEP, content_type="application/json",
                               headers=auth_for(service))
        assert response.status_code == 400, (method, url, response.status_code, response.json)
        assert response.json.keys() >= HOUSE_SHAPE
        assert response.json["message"] == "The JSON body is nested too deeply to be read."


def test_each_service_has_its_documented_default_limit(make_app, service):
    assert make_app().config["MAX_CONTENT_LENGTH"] == DEFAULT_LIMITS[service]


def test_a_body_over_the_configured_limit_is_a_413_on_any_route(make_app, service):
    from importlib import import_module

    config_class = import_module(f"services.{service}.config").Config
    limit = config_class(environ={f"{service.upper()}_MAX_CONTENT_LENGTH": "100"}).MAX_CONTENT_LENGTH
    assert limit == 100
    client = make_app(MAX_CONTENT_LENGTH=limit).test_client()
    for method, url in [*json_operations(client.get("/openapi.json").json), ("get", "/health")]:
        response = client.open(url, method=method.upper(), data=b"x" * 101, content_type="application/json",
                               headers=auth_for(service))
        assert response.status_code == 413, (method, url, response.status_code, response.json)
        # The house shape; the labeling task API (/api/tasks/) adds its original envelope beside it.
        house = {"code": 413, "status": "Request Entity Too Large",
                 "message": "The request body is larger than this service accepts (100 bytes at most)."}
        assert {key: response.json.get(key) for key in house} == house
        assert set(response.json) - set(house) <= {"error_code", "error_message"}
    assert client.get("/health", data=b"x" * 100).status_code == 200


def test_the_openapi_documents_400_and_413_for_every_json_body(make_app, service):
    spec = make_app().test_client().get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "requestBody" in op:
                assert {"400", "413"} <= op["responses"].keys(), (method, path)


def test_the_link_header_keeps_declared_parameters_only(migrated_database_for, tmp_path, redis_url):
    config = service_config("orders", migrated_database_for("orders"), tmp_path, redis_url)
    with service_app("orders", config) as app:
        client = app.test_client()
        response = client.get("/orders?since=0&per_page=1&utm_source=evil&page=1&evil=%3Cscript%3E",
                              headers=auth_for("orders"))
    assert response.status_code == 200, response.json
    links = response.headers["Link"]
    assert "since=0" in links and "per_page=1" in links
    assert "evil" not in links and "utm_source" not in links


@pytest.mark.parametrize(("query", "kept"), [
    ("per_page=1&page=1", "<http://localhost/orders?page="),  # only the page's own: nothing else kept
    ("%73ince=0&per_page=1", "<http://localhost/orders?since=0&page="),  # a name written percent-encoded
    ("since=0&per_page=1", "<http://localhost/orders?since=0&page="),
])
def test_the_link_header_keeps_a_declared_parameter_however_its_name_is_written(
        query, kept, migrated_database_for, tmp_path, redis_url):
    config = service_config("orders", migrated_database_for("orders"), tmp_path, redis_url)
    with service_app("orders", config) as app:
        response = app.test_client().get(f"/orders?{query}", headers=auth_for("orders"))
    assert response.status_code == 200, response.json
    assert response.headers["Link"].startswith(kept), response.headers["Link"]


# --- over real HTTP: gunicorn with make up's settings -----------------------------------------------

BODY = 300 * MiB


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)[1]) * 1024


def read_response(sock: socket.socket) -> tuple[int, dict]:
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body[:length])


@pytest.fixture
def trials_gunicorn(live_process, tmp_path):
    env = {"ENV_FILE": os.devnull, "VAR_DIR": str(tmp_path), "LOG_DIR": str(tmp_path / "log"),
           "TRIALS_DATABASE_URL": f"sqlite:///{tmp_path / 'trials.sqlite3'}", "SERVICE_TOKEN": TOKEN}
    subprocess.run([sys.executable, "-m", "flask", "--app", "services.trials", "db", "upgrade"],
                   env={**os.environ, **env}, check=True, capture_output=True)
    port = free_port()
    process = live_process([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--workers", "1",
                            "--bind", f"127.0.0.1:{port}", "services.trials:create_app()"],
                           env, port=port, name="trials-gunicorn")
    return port, children(process.process.pid)[0]


def request_head(port: int, length_header: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"PUT /trials/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Authorization: Bearer {TOKEN}\r\n{length_header}\r\n\r\n".encode())
    return sock


def test_a_declared_300_mib_body_is_refused_before_a_byte_of_it_is_sent(trials_gunicorn):
    port, _ = trials_gunicorn
    with request_head(port, f"Content-Length: {BODY}") as sock:
        status, body = read_response(sock)  # nothing of the body sent yet
    assert status == 413
    assert body["message"] == f"The request body is larger than this service accepts ({16 * MiB} bytes at most)."


def test_a_streamed_300_mib_chunked_body_is_refused_without_being_read_whole(trials_gunicorn):
    port, worker = trials_gunicorn
    before = rss_bytes(worker)
    chunk = b"[" * MiB
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0  # bytes of the body handed to the socket
    with request_head(port, "Transfer-Encoding: chunked") as sock:
        pending = b""
        while sent < BODY:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable or not writable:  # the server answered (or stopped reading): stop sending
                break
            pending = pending or frame
            done = sock.send(pending)
            pending, sent = pending[done:], sent + done
        status, body = read_response(sock)
    assert status == 413, body
    assert body.keys() >= HOUSE_SHAPE
    assert sent < BODY  # the answer came before the body was all sent
    assert rss_bytes(worker) - before < 100 * MiB  # reading it whole would take 300 MiB or more
