"""Client for the odcloud (data.go.kr) clinical-trials dataset 3074271.

The gateway answers `{"page", "perPage", "totalCount", "currentCount", "matchCount", "data"}`
on success and `{"code": <negative>, "msg": "..."}` on error, sometimes with HTTP 200,
so success is judged by the body, not by the status alone (see docs/upstreams.md section 1).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import requests

log = logging.getLogger(__name__)

DATASET_PATH = "/3074271/v1/uddi:cfc19dda-6f75-4c57-86a8-bb9c8b103887"
PRODUCTION_BASE_URL = "https://api.odcloud.kr/api"


class OdcloudError(Exception):
    """The gateway refused the request or answered something that is not a page."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class OdcloudPage:
    page: int
    per_page: int
    total_count: int
    current_count: int
    records: list[dict]

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_count / self.per_page) if self.per_page else 0


class OdcloudClient:
    def __init__(self, base_url: str, service_key: str, session: requests.Session, per_page: int = 100):
        if not service_key:
            raise OdcloudError("ODCLOUD_SERVICE_KEY is not configured")
        self.url = base_url.rstrip("/") + DATASET_PATH
        self.service_key = service_key
        self.session = session
        self.per_page = per_page

    def fetch_page(self, page: int) -> OdcloudPage:
        try:
            response = self.session.get(
                self.url,
                params={"page": page, "perPage": self.per_page, "returnType": "JSON"},
                headers={"Authorization": f"Infuser {self.service_key}", "Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise OdcloudError(f"odcloud page {page}: {type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            raise OdcloudError(f"odcloud page {page}: HTTP {response.status_code}, body is not JSON",
                               status=response.status_code) from None
        if not isinstance(body, dict):
            raise OdcloudError(f"odcloud page {page}: HTTP {response.status_code}, unexpected body",
                               status=response.status_code)
        code = body.get("code")
        if (isinstance(code, int) and code < 0) or not isinstance(body.get("data"), list):
            raise OdcloudError(f"odcloud page {page}: HTTP {response.status_code}, code {code}: {body.get('msg', '')}",
                               status=response.status_code, code=code)
        return OdcloudPage(
            page=int(body.get("page", page)),
            per_page=int(body.get("perPage", self.per_page)),
            total_count=int(body.get("totalCount", 0)),
            current_count=int(body.get("currentCount", len(body["data"]))),
            records=body["data"],
        )

    def pages(self, start_page: int = 1) -> Iterator[OdcloudPage]:
        """Every page from `start_page` (1: the first) until the gateway has handed out
        `totalCount` rows or answers an empty page, whichever comes first.

        `start_page` > 1 resumes an interrupted pull without fetching the earlier pages again."""
        page_number, seen = start_page, (start_page - 1) * self.per_page
        while True:
            page = self.fetch_page(page_number)
            if not page.records:
                return
            seen += len(page.records)
            log.info("odcloud page %d/%d: %d records", page.page, page.total_pages, len(page.records))
            yield page
            if seen >= page.total_count:
                return
            page_number += 1
