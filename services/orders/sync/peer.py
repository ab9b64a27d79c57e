"""The peer's public orders API, as the integration sees it: GET, POST and PUT only (and its /health).

Spoken through urllib3 directly (which requests is built on), with orjson for the bodies: a push
is one call per order, and requests' per-call work (merging session settings, preparing the
request, cookie jars, its response wrapper) was most of the integration's CPU per pushed order.
The guarantees of shared/http.py's session are kept: a connect and a read timeout on every call,
bounded retries with backoff on connection errors, 429 and 5xx (a 4xx other than 429 is not
retried), the caller's X-Request-ID sent on, and the environment's proxy and CA settings, read
once when the peer is made.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import orjson
import requests
import urllib3
from urllib3.exceptions import HTTPError

from shared.http import MAX_CONNECT_TIMEOUT, RETRY_STATUSES, CappedRetry
from shared.logs import REQUEST_ID_HEADER, current_request_id
from shared.redact import redact_url

JSON_HEADERS = {"Content-Type": "application/json"}


class PeerUnavailable(Exception):
    """The peer did not answer usefully (connection, timeout, 5xx): try the whole round later."""


@dataclass
class PeerReply:
    status: int
    body: dict


@dataclass
class _Response:
    status: int
    data: bytes


def _pool_manager(base_url: str, connections: int) -> urllib3.PoolManager:
    """A pool of kept-alive connections to the peer, through the proxy the environment names for
    it (HTTP(S)_PROXY, NO_PROXY), verifying TLS against requests' CA bundle (or REQUESTS_CA_BUNDLE)
    as the requests session did: the same settings, read once instead of on every call."""
    with requests.Session() as session:
        settings = session.merge_environment_settings(base_url, {}, None, None, None)
    verify = settings["verify"]
    tls = {"cert_reqs": "CERT_NONE"} if verify is False else {
        "cert_reqs": "CERT_REQUIRED", "ca_certs": verify if isinstance(verify, str) else requests.certs.where()}
    # block=False: a burst past `connections` opens a short-lived extra connection rather than waiting.
    options = {"num_pools": 2, "maxsize": max(connections, 1), "block": False, **tls}
    proxy = settings["proxies"].get(urlsplit(base_url).scheme) or settings["proxies"].get("all")
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


class HttpPeer:
    """The peer over HTTP. Writes carry the service token; a delete travels as a PUT."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0, retries: int = 1, connections: int = 1):
        self.base_url = base_url.rstrip("/")
        # One kept-alive connection per concurrent push: a pool smaller than that would open and
        # drop connections.
        self.pool = _pool_manager(self.base_url, connections)
        # Without a proxy, calls go straight to the peer's connection pool: PoolManager would
        # parse the URL and look the pool up again on every call.
        if isinstance(self.pool, urllib3.ProxyManager):
            self._open, self._prefix = self.pool.urlopen, self.base_url
        else:
            self._open, self._prefix = self.pool.connection_from_url(self.base_url).urlopen, \
                urlsplit(self.base_url).path
        self.timeout = urllib3.Timeout(connect=min(timeout, MAX_CONNECT_TIMEOUT), read=timeout)
        # Few retries: the sync loop has its own backoff, and a retried write is harmless
        # (POST is idempotent on uuid+content, PUT carries If-Match).
        self.retries = CappedRetry(total=retries, connect=retries, read=retries, status=retries, other=0,
                                   backoff_factor=0.1, backoff_max=1.0, status_forcelist=RETRY_STATUSES,
                                   allowed_methods=None, respect_retry_after_header=True, raise_on_status=False)
        self.headers = {"User-Agent": "orders-sync/1.0", "Authorization": f"Bearer {token}",
                        "Accept": "application/json"}
        self.writes = 0

    def __repr__(self) -> str:
        return f"HttpPeer({redact_url(self.base_url)})"

    def close(self) -> None:
        self.pool.clear()

    def _call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> _Response:
        sent = {**self.headers, **headers} if headers else self.headers
        request_id = current_request_id()
        if request_id:  # the request this call is made for (A's /health): the peer logs the same id
            sent = {**sent, REQUEST_ID_HEADER: request_id}
        try:
            response = self._open(method, self._prefix + path, body=body, headers=sent, timeout=self.timeout,
                                  retries=self.retries, redirect=False, preload_content=True)
        except HTTPError as exc:
            raise PeerUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status >= 500 or response.status == 429:
            raise PeerUnavailable(f"{method} {path}: HTTP {response.status}")
        return _Response(response.status, response.data)

    @staticmethod
    def _json(response: _Response) -> dict:
        try:
            return orjson.loads(response.data)
        except orjson.JSONDecodeError:
            raise PeerUnavailable(f"HTTP {response.status} with a body that is not JSON") from None

    def feed(self, since: int, per_page: int) -> tuple[list[dict], int]:
        """Peer orders changed after `since`, by seq, and how many such changes there are in all."""
        response = self._call("GET", "/orders?" + urlencode({"since": since, "per_page": per_page, "page": 1}))
        if response.status != 200:
            raise PeerUnavailable(f"GET /orders?since: HTTP {response.status}")
        body = self._json(response)
        return body["data"], body["count"]

    def get(self, uuid: str) -> dict | None:
        response = self._call("GET", f"/orders/{uuid}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise PeerUnavailable(f"GET /orders/{uuid}: HTTP {response.status}")
        return self._json(response)

    def create(self, uuid: str, content: dict) -> PeerReply:
        self.writes += 1
        response = self._call("POST", "/orders", orjson.dumps({"uuid": uuid, **content}), JSON_HEADERS)
        return PeerReply(response.status, self._json(response))

    def replace(self, uuid: str, content: dict, if_match: int) -> PeerReply:
        self.writes += 1
        response = self._call("PUT", f"/orders/{uuid}", orjson.dumps(content),
                              {**JSON_HEADERS, "If-Match": f'"{if_match}"'})
        return PeerReply(response.status, self._json(response))

    def health(self) -> None:
        """Raise PeerUnavailable unless the peer's /health answers 200 (its API can serve)."""
        response = self._call("GET", "/health")
        if response.status != 200:
            raise PeerUnavailable(f"GET /health: HTTP {response.status}")
