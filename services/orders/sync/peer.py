"""The peer's public orders API, as the integration sees it: GET, POST and PUT only (and its /health)."""
from __future__ import annotations

from dataclasses import dataclass

import requests

from shared.http import HttpSession
from shared.redact import redact_url


class PeerUnavailable(Exception):
    """The peer did not answer usefully (connection, timeout, 5xx): try the whole round later."""


@dataclass
class PeerReply:
    status: int
    body: dict


class HttpPeer:
    """The peer over HTTP. Writes carry the service token; a delete travels as a PUT."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0, retries: int = 1, connections: int = 1):
        self.base_url = base_url.rstrip("/")
        # Few retries: the sync loop has its own backoff, and a retried write is harmless
        # (POST is idempotent on uuid+content, PUT carries If-Match). One kept-alive connection
        # per concurrent push: a pool smaller than that would open and drop connections.
        self.session = HttpSession(timeout=timeout, retries=retries, backoff=0.1, backoff_max=1.0,
                                   user_agent="orders-sync/1.0", pool_maxsize=max(connections, 1))
        self.session.headers["Authorization"] = f"Bearer {token}"
        # requests reads the proxy variables (and ~/.netrc, whose entry would replace our token)
        # again on every call, a third of a push's cost on the client: read them once, here.
        settings = self.session.merge_environment_settings(self.base_url, {}, None, None, None)
        self.session.proxies.update(settings["proxies"])
        self.session.verify = settings["verify"]
        self.session.trust_env = False
        self.writes = 0

    def __repr__(self) -> str:
        return f"HttpPeer({redact_url(self.base_url)})"

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as exc:
            raise PeerUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise PeerUnavailable(f"{method} {path}: HTTP {response.status_code}")
        return response

    @staticmethod
    def _json(response: requests.Response) -> dict:
        try:
            return response.json()
        except ValueError:
            raise PeerUnavailable(f"HTTP {response.status_code} with a body that is not JSON") from None

    def feed(self, since: int, per_page: int) -> tuple[list[dict], int]:
        """Peer orders changed after `since`, by seq, and how many such changes there are in all."""
        response = self._call("GET", "/orders", params={"since": since, "per_page": per_page, "page": 1})
        if response.status_code != 200:
            raise PeerUnavailable(f"GET /orders?since: HTTP {response.status_code}")
        body = self._json(response)
        return body["data"], body["count"]

    def get(self, uuid: str) -> dict | None:
        response = self._call("GET", f"/orders/{uuid}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerUnavailable(f"GET /orders/{uuid}: HTTP {response.status_code}")
        return self._json(response)

    def create(self, uuid: str, content: dict) -> PeerReply:
        self.writes += 1
        response = self._call("POST", "/orders", json={"uuid": uuid, **content})
        return PeerReply(response.status_code, self._json(response))

    def replace(self, uuid: str, content: dict, if_match: int) -> PeerReply:
        self.writes += 1
        response = self._call("PUT", f"/orders/{uuid}", json=content, headers={"If-Match": f'"{if_match}"'})
        return PeerReply(response.status_code, self._json(response))

    def health(self) -> None:
        """Raise PeerUnavailable unless the peer's /health answers 200 (its API can serve)."""
        response = self._call("GET", "/health")
        if response.status_code != 200:
            raise PeerUnavailable(f"GET /health: HTTP {response.status_code}")
