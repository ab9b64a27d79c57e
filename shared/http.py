"""The outbound HTTP session: a connect and a read timeout on every call, bounded retries
with backoff, and optionally every connection pinned to one checked address.

Retried: connection errors, read timeouts, 429 (honouring `Retry-After`) and 5xx.
Every call made while a request (or a collector task) runs carries its `X-Request-ID`.
Not retried: any other 4xx. Callers that need to see the final 429/5xx get the
response back (`raise_on_status=False`) and decide.

`pin_address`: connect to this IP whatever the URL's host resolves to now, while the
request still names the host (the Host header, TLS's SNI and certificate check). A caller
that checked an address against an allowlist connects to that address and no other, so a
DNS answer that changes after the check (DNS rebinding) cannot redirect the connection.
A pinned session ignores proxy settings from the environment (a proxy would connect
elsewhere) and should be used with `allow_redirects=False`.
"""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from shared.logs import REQUEST_ID_HEADER, current_request_id

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# An upstream answering `Retry-After: 86400` must not park a worker thread for a day.
MAX_RETRY_AFTER = 120.0
# A host that does not accept a TCP connection in this long is not going to (the read timeout may be longer).
MAX_CONNECT_TIMEOUT = 10.0


class CappedRetry(Retry):
    """urllib3's Retry, with a server's Retry-After honoured up to `MAX_RETRY_AFTER` seconds."""

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


class _Pinned:
    """Mixed into urllib3's connections: open the socket to `pinned_address`, keep `host` as the name."""

    pinned_address: str

    def _new_conn(self):
        name = self._dns_host
        self._dns_host = self.pinned_address   # read by the base class's create_connection() only
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class PinnedAdapter(HTTPAdapter):
    """An adapter whose every connection, HTTP or HTTPS, goes to `address`."""

    def __init__(self, address: str, **kwargs):
        self.address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        attrs = {"pinned_address": self.address}
        http = type("PinnedHTTPConnection", (_Pinned, HTTPConnection), attrs)
        https = type("PinnedHTTPSConnection", (_Pinned, HTTPSConnection), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


class HttpSession(requests.Session):
    def __init__(self, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
                 backoff_max: float = 30.0, user_agent: str | None = None,
                 connect_timeout: float | None = None, pin_address: str | None = None, pool_maxsize: int = 16):
        super().__init__()
        # requests applies one number to the connect and to each read; a tuple keeps them apart.
        self.timeout = (min(timeout, MAX_CONNECT_TIMEOUT) if connect_timeout is None else connect_timeout, timeout)
        retry = CappedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            backoff_factor=backoff,
            backoff_max=backoff_max,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # our writes are idempotent upserts, so POST/PUT may be retried too
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        if pin_address is None:
            adapter = HTTPAdapter(max_retries=retry, pool_maxsize=pool_maxsize)
        else:
            adapter = PinnedAdapter(pin_address, max_retries=retry, pool_maxsize=pool_maxsize)
            self.trust_env = False   # no proxy, no .netrc: the connection goes to the pinned address only
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        if user_agent:
            self.headers["User-Agent"] = user_agent

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        request_id = current_request_id()
        if request_id:  # the request (or task) this call is made for: the next service logs the same id
            headers = CaseInsensitiveDict(kwargs.get("headers") or {})
            headers.setdefault(REQUEST_ID_HEADER, request_id)
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)


def session_from_config(config) -> HttpSession:
    """A session configured by `HTTP_TIMEOUT` (read), `HTTP_CONNECT_TIMEOUT` (optional), `HTTP_RETRIES`
    and `HTTP_BACKOFF`."""
    return HttpSession(timeout=config["HTTP_TIMEOUT"], retries=config["HTTP_RETRIES"], backoff=config["HTTP_BACKOFF"],
                       connect_timeout=config.get("HTTP_CONNECT_TIMEOUT"))
