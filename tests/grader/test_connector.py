"""The statistics-API client against the sandbox stand-in, a real process over real HTTP."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from shared.connectors.grader import (
    GraderApiError,
    GraderClient,
    day_bounds,
    parse_records,
    windows,
)
from shared.http import HttpSession
from tests.support.grader import SANDBOX_CLIENT, SANDBOX_KEY

DAY = date(2024, 3, 1)


def client_for(url: str, key: str = SANDBOX_KEY, client: str = SANDBOX_CLIENT, timeout: float = 10,
               retries: int = 0) -> GraderClient:
    return GraderClient(url, client, key, HttpSession(timeout=timeout, retries=retries, backoff=0))


def pull_day(client: GraderClient, size: timedelta) -> list:
    start, end = day_bounds(DAY)
    return [raw for a, b in windows(start, end, size) for raw in client.fetch_window(a, b).records]


def expected(url: str) -> dict:
    return requests.get(url + "/_sandbox/grader/expected", params={"date": DAY.isoformat()}, timeout=5).json()


def test_a_day_in_windows_is_every_attempt_once(sandbox):
    client = client_for(sandbox.url)
    hourly = pull_day(client, timedelta(hours=1))
    counts = expected(sandbox.url)
    assert len(hourly) == counts["attempts"] == 2400
    keys = [(r["lti_user_id"], r["created_at"], r["attempt_type"]) for r in hourly]
    assert len(set(keys)) == len(keys)
    # Another window size sees exactly the same attempts.
    assert pull_day(client, timedelta(minutes=25)) == hourly
    parsed = parse_records(hourly)
    assert len(parsed.attempts) == counts["valid"]
    assert len(parsed.rejected) == counts["rejected"]
    assert parsed.warnings["missing_lis_outcome_service_url"] == counts["edge_cases"]["no_outcome_url"]
    assert parsed.warnings["extra_passback_keys"] == counts["edge_cases"]["extra_key"]
    assert {a["created_at"].date() for a in parsed.attempts} == {DAY}


@pytest.mark.parametrize("start_inclusive, end_inclusive", [(True, True), (False, True), (True, False),
                                                             (False, False)])
def test_windows_lose_nothing_whatever_the_inclusivity(sandbox, start_inclusive, end_inclusive):
    client = client_for(sandbox.url)
    sandbox.grader_mode(start_inclusive=True, end_inclusive=True)
    reference = pull_day(client, timedelta(hours=3))
    sandbox.grader_mode(start_inclusive=start_inclusive, end_inclusive=end_inclusive)
    assert pull_day(client, timedelta(hours=3)) == reference


def test_a_record_on_a_window_edge_falls_in_exactly_one_window(sandbox):
    client = client_for(sandbox.url)
    edge = datetime.fromisoformat(pull_day(client, timedelta(days=1))[100]["created_at"]).replace(tzinfo=UTC)
    before = client.fetch_window(edge - timedelta(hours=1), edge).records
    after = client.fetch_window(edge, edge + timedelta(hours=1)).records
    stamps = edge.strftime("%Y-%m-%d %H:%M:%S.%f")
    assert stamps not in {r["created_at"] for r in before}
    assert after[0]["created_at"] == stamps


def test_an_empty_window_is_an_empty_list(sandbox):
    sandbox.grader_mode(per_day=1)
    start = datetime(2024, 3, 1, 23, tzinfo=UTC)
    assert client_for(sandbox.url).fetch_window(start, start + timedelta(minutes=30)).records == []


@pytest.mark.parametrize("client, key, status", [("Skillfactory", "wrong", 403), ("Other", SANDBOX_KEY, 403)])
def test_wrong_credentials(sandbox, client, key, status):
    with pytest.raises(GraderApiError) as error:
        client_for(sandbox.url, key=key, client=client).fetch(*day_bounds(DAY))
    assert error.value.status == status and "invalid client" in str(error.value)
    assert key not in str(error.value) or key == SANDBOX_KEY


def test_missing_credentials_are_refused_before_any_request():
    with pytest.raises(GraderApiError, match="GRADER_CLIENT"):
        GraderClient("http://127.0.0.1:9", "Skillfactory", "", HttpSession())


def test_missing_key_is_a_401(sandbox):
    response = requests.get(sandbox.url + "/api/statistics", params={"client": "Skillfactory"}, timeout=5)
    assert response.status_code == 401 and "errors" in response.json()


def test_server_error_after_the_retries(sandbox):
    sandbox.grader_mode(fail_status=500)
    with pytest.raises(GraderApiError) as error:
        client_for(sandbox.url, retries=1).fetch(*day_bounds(DAY))
    assert error.value.status == 500


def test_a_passing_server_error_is_retried(sandbox):
    sandbox.grader_mode(fail_status=503, fail_times=1)
    start, _ = day_bounds(DAY)
    records = client_for(sandbox.url, retries=2).fetch_window(start, start + timedelta(hours=1)).records
    assert len(records) == 100


def test_timeout(sandbox):
    sandbox.grader_mode(delay_seconds=2)
    with pytest.raises(GraderApiError, match="Timeout") as error:
        client_for(sandbox.url, timeout=0.3).fetch(*day_bounds(DAY))
    assert error.value.status is None


def test_invalid_json(sandbox):
    sandbox.grader_mode(body_mode="invalid_json")
    with pytest.raises(GraderApiError, match="not JSON"):
        client_for(sandbox.url).fetch(*day_bounds(DAY))


def test_a_body_that_is_not_a_list(sandbox):
    sandbox.grader_mode(body_mode="object")
    with pytest.raises(GraderApiError, match="expected a JSON array, got dict: window too large"):
        client_for(sandbox.url).fetch(*day_bounds(DAY))


def test_the_sandbox_reads_the_timestamp_forms_clients_send(sandbox):
    for start, end in (("2024-03-01", "2024-03-02"), ("2024-03-01T00:00:00", "2024-03-01T23:59:59.999999"),
                       ("2024-03-01 00:00:00.000000", "2024-03-01 23:59:59.999999")):
        response = requests.get(sandbox.url + "/api/statistics", timeout=10, params={
            "client": SANDBOX_CLIENT, "client_key": SANDBOX_KEY, "start": start, "end": end})
        assert response.status_code == 200 and len(response.json()) == 2400
    bad = requests.get(sandbox.url + "/api/statistics", timeout=5, params={
        "client": SANDBOX_CLIENT, "client_key": SANDBOX_KEY, "start": "yesterday", "end": "today"})
    assert bad.status_code == 400 and "errors" in bad.json()
