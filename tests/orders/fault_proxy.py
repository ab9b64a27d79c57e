"""A small threaded HTTP proxy between the integration and the peer, steered by the test.

Per request it can: forward it ("ok"), drop it unseen ("drop"), forward it and then cut
the connection so the answer is lost although the peer committed ("cut"), forward it twice
("dup"), delay it ("delay"), or hold it back until `release()` so it reaches the peer after
later requests ("hold": the client times out, retries, and the old request lands last).
`down = True` drops everything, like a peer that is off the network.
"""
from __future__ import annotations

import http.client
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")


class FaultProxy:
    def __init__(self, upstream: str, delay: float = 0.3):
        self.upstream = urlsplit(upstream)
        self.delay = delay
        self.down = False
        self.lock = threading.Lock()
        self.plans: dict[str, deque] = {}
        self.log: list[tuple[str, str, str]] = []  # (method, path, what happened)
        self.held: list[tuple[str, str, dict, bytes]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def plan(self, method: str, *actions: str) -> None:
        """The next requests with `method` meet these actions, in order; then "ok" again."""
        with self.lock:
            self.plans.setdefault(method, deque()).extend(actions)

    def writes(self) -> int:
        """Writes that reached the peer."""
        with self.lock:
            return sum(1 for method, _, what in self.log if method in WRITE_METHODS and what != "dropped")

    def feed_reads(self) -> int:
        with self.lock:
            return sum(1 for method, path, _ in self.log if method == "GET" and "since=" in path)

    def release(self) -> list[int]:
        """Deliver the held requests now (late, after whatever came since)."""
        with self.lock:
            held, self.held = self.held, []
        return [self.forward(*request)[0] for request in held]

    def _next_action(self, method: str) -> str:
        with self.lock:
            if self.down:
                return "drop"
            queue = self.plans.get(method)
            return queue.popleft() if queue else "ok"

    def forward(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            result = (response.status, response.getheaders(), payload)
        finally:
            conn.close()
        with self.lock:
            self.log.append((method, path, str(result[0])))
        return result

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the test log stays readable
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "keep-alive", "content-length")}
                action = proxy._next_action(self.command)
                if action == "drop":
                    with proxy.lock:
                        proxy.log.append((self.command, self.path, "dropped"))
                    self.close_connection = True
                    return
                if action == "hold":
                    with proxy.lock:
                        proxy.held.append((self.command, self.path, headers, body))
                        proxy.log.append((self.command, self.path, "held"))
                    time.sleep(proxy.delay * 10)  # past the client's timeout
                    self.close_connection = True
                    return
                if action == "delay":
                    time.sleep(proxy.delay)
                status, response_headers, payload = proxy.forward(self.command, self.path, headers, body)
                if action == "dup":
                    status, response_headers, payload = proxy.forward(self.command, self.path, headers, body)
                if action == "cut":  # the peer committed; the answer never arrives
                    self.close_connection = True
                    return
                self.send_response(status)
                for key, value in response_headers:
                    if key.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        return Handler
