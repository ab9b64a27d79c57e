"""What gunicorn itself answers and writes under `make up`: bounded request lines and headers,
and an access log that never keeps a secret from a query string."""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

import requests

from tests.support.waiting import wait_for


def raw_status(url: str, request: bytes) -> int:
    """The status of a hand-written HTTP/1.1 request (one requests would refuse to send)."""
    target = urlsplit(url)
    with socket.create_connection((target.hostname, target.port), timeout=10) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def test_an_over_long_request_line_is_414_and_oversized_headers_431(stack):
    trials = stack.url("trials")
    assert raw_status(trials, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 200
    long_line = b"GET /trials?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert raw_status(trials, long_line) == 414
    many = b"".join(b"X-Field-%d: 1\r\n" % n for n in range(101))
    assert raw_status(trials, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"Connection: close\r\n\r\n") == 431
    large = b"X-Large: " + b"b" * 9000 + b"\r\n"
    assert raw_status(trials, b"GET /health HTTP/1.1\r\nHost: x\r\n" + large + b"Connection: close\r\n\r\n") == 431
    assert requests.get(trials + "/health", timeout=5).status_code == 200


def test_the_access_log_masks_secret_query_parameters(stack):
    grader = stack.url("grader")
    secrets = ["hunter2-token", "sslpw-secret", "svc-key-123"]
    query = f"token={secrets[0]}&sslpassword={secrets[1]}&serviceKey={secrets[2]}&page=access-log-probe"
    assert requests.get(f"{grader}/health?{query}", timeout=5,
                        headers={"Referer": f"http://example.test/?password={secrets[0]}"}).status_code == 200
    log = stack.var / "log" / "processes" / "grader.log"
    line = wait_for(lambda: next((line for line in log.read_text(errors="replace").splitlines()
                                  if "access-log-probe" in line), None), timeout=30, what="the access log line")
    assert "page=access-log-probe" in line and "token=***" in line
    assert not any(secret in log.read_text(errors="replace") for secret in secrets)
