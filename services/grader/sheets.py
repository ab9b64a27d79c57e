"""Publishing a day's figures to Google Sheets with gspread: one row per date, updated in place.

The service-account file's path comes from the environment; its content is never logged.
`GRADER_SHEETS_API_URL` moves the Sheets endpoint (a corporate proxy, or the local fake the
tests run); the OAuth token endpoint is the one the service-account file names (`token_uri`).
"""
from __future__ import annotations

from functools import partial

import gspread
from gspread.http_client import HTTPClient

GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
HEADER = ["date", "attempts", "runs", "submits", "correct_submits", "success_rate", "unique_users",
          "unique_tasks", "busiest_hour", "published_at"]


class RebasedHTTPClient(HTTPClient):
    """gspread's own HTTP client, sending the Sheets API calls to `base_url` instead of Google."""

    def __init__(self, auth, session=None, base_url: str = GOOGLE_SHEETS_URL):
        super().__init__(auth, session)
        self.base_url = base_url.rstrip("/")

    def request(self, method, endpoint, *args, **kwargs):
        if self.base_url != GOOGLE_SHEETS_URL and endpoint.startswith(GOOGLE_SHEETS_URL):
            endpoint = self.base_url + endpoint[len(GOOGLE_SHEETS_URL):]
        return super().request(method, endpoint, *args, **kwargs)


def sheets_configured(config) -> bool:
    return bool(config["GRADER_SHEETS_CREDENTIALS_FILE"] and config["GRADER_SHEETS_SPREADSHEET_ID"])


def daily_row(stats: dict, published_at: str) -> list:
    return [stats["date"], stats["attempts"], stats["runs"], stats["submits"], stats["correct_submits"],
            stats["success_rate"], stats["unique_users"], stats["unique_tasks"],
            "" if stats["busiest_hour"] is None else stats["busiest_hour"], published_at]


def publish_daily_row(config, stats: dict, published_at: str) -> str:
    """Write the day's row (replacing an earlier one for the same date); returns what was done."""
    client = gspread.service_account(
        filename=config["GRADER_SHEETS_CREDENTIALS_FILE"],
        http_client=partial(RebasedHTTPClient, base_url=config["GRADER_SHEETS_API_URL"]))
    client.set_timeout(config["HTTP_TIMEOUT"])
    spreadsheet = client.open_by_key(config["GRADER_SHEETS_SPREADSHEET_ID"])
    title = config["GRADER_SHEETS_WORKSHEET"]
    worksheet = spreadsheet.worksheet(title) if title else spreadsheet.sheet1
    dates = worksheet.col_values(1)
    row = daily_row(stats, published_at)
    if not dates:
        worksheet.update([HEADER], "A1", value_input_option="RAW")
        dates = [HEADER[0]]
    if stats["date"] in dates:
        number = dates.index(stats["date"]) + 1
        worksheet.update([row], f"A{number}", value_input_option="RAW")
        return f"updated row {number} of {worksheet.title!r}"
    worksheet.append_row(row, value_input_option="RAW", table_range="A1")
    return f"appended a row to {worksheet.title!r}"
