"""A per-process micro-cache of GET responses.

Trials change once a day, but the same lookups and list pages are read thousands of
times a second. Each process keeps a rendered response for `TRIALS_CACHE_SECONDS`
(default 1 s; 0 turns it off): a write in this process clears it at once, a write
through another process is seen at most that long afterwards. ETags still work: a
matching If-None-Match on a cached response answers 304.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from threading import Lock

from flask import Flask, Response, g, request

MAX_ENTRIES = 2048
KEPT_HEADERS = ("Content-Type", "ETag", "X-Pagination", "Link")


class ResponseCache:
    def __init__(self, endpoints: set[str]):
        self.endpoints = endpoints
        self._entries: OrderedDict[str, tuple[float, bytes, dict]] = OrderedDict()
        self._lock = Lock()
        self.seconds = 0.0

    def init_app(self, app: Flask) -> None:
        self.seconds = app.config["TRIALS_CACHE_SECONDS"]
        if self.seconds > 0:
            app.before_request(self._serve_cached)
            app.after_request(self._store)
        app.extensions["trials_cache"] = self

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _cacheable(self) -> bool:
        return request.method == "GET" and request.endpoint in self.endpoints

    def _serve_cached(self):
        if not self._cacheable():
            return None
        key = request.full_path
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            g.trials_cache_key = key
            return None
        _, body, headers = entry
        if headers.get("ETag") and headers["ETag"].strip('"') in request.if_none_match:
            return Response(status=304, headers={"ETag": headers["ETag"]})
        return Response(body, headers=headers)

    def _store(self, response: Response) -> Response:
        key = g.pop("trials_cache_key", None)
        if key is not None and response.status_code == 200 and not response.is_streamed:
            headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
            with self._lock:
                self._entries[key] = (time.monotonic() + self.seconds, response.get_data(), headers)
                self._entries.move_to_end(key)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return response
