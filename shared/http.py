"""The outbound HTTP session: a timeout on every call, bounded retries with backoff.

Retried: connection errors, read timeouts, 429 (honouring `Retry-After`) and 5xx.
Not retried: any other 4xx. Callers that need to see the final 429/5xx get the
response back (`raise_on_status=False`) and decide.
"""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# An upstream answering `Retry-After: 86400` must not park a worker thread for a day.
MAX_RETRY_AFTER = 120.0


class CappedRetry(Retry):
    """urllib3's Retry, with a server's Retry-After honoured up to `MAX_RETRY_AFTER` seconds."""

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


class HttpSession(requests.Session):
    def __init__(self, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
                 backoff_max: float = 30.0, user_agent: str | None = None):
        super().__init__()
        self.timeout = timeout
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
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        if user_agent:
            self.headers["User-Agent"] = user_agent

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


def session_from_config(config) -> HttpSession:
    """A session configured by `HTTP_TIMEOUT`, `HTTP_RETRIES` and `HTTP_BACKOFF`."""
    return HttpSession(timeout=config["HTTP_TIMEOUT"], retries=config["HTTP_RETRIES"], backoff=config["HTTP_BACKOFF"])
