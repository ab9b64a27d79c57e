"""The grader API answers as its OpenAPI document says, with the document's own examples and at
the edges of what a client can send (the calendar's ends, NUL characters): never a 5xx."""
from __future__ import annotations

import json

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.auth import AUTH
from tests.support.grader import DAY, post_batch

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def documented(app):
    """The app's own OpenAPI document, through schemathesis (which calls the app in-process)."""
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def call_and_check(documented, path: str, method: str, **parts):
    case = documented[path][method].Case(**parts)
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=CHECKS)
    return response


def test_stats_day_and_range_answers_match_the_documented_schema(client, documented):
    post_batch(client, DAY)
    day = call_and_check(documented, "/stats/daily", "GET", query={"date": "2024-03-01"})
    assert day.status_code == 200 and day.json()["attempts"] == 5
    # The range answer ({"count", "data"}) used to be documented as one DailyStats, which forbids both keys.
    days = call_and_check(documented, "/stats/daily", "GET", query={"start": "2024-03-01", "end": "2024-03-02"})
    assert days.status_code == 200 and days.json()["count"] == 2


def send_examples(operation, seen: list) -> None:
    """Send the operation's documented examples (one request per example set) and check the answers."""
    # date= and start=/end= exclude each other: all three examples at once are a documented 422.
    expected = {422} if operation.label == "GET /stats/daily" else {200}
    for strategy in operation.get_strategies_from_examples():

        @hypothesis.given(strategy)
        @hypothesis.settings(max_examples=1, database=None, phases=[hypothesis.Phase.generate], deadline=None)
        def send(case):
            response = case.call(headers=AUTH)
            case.validate_response(response, checks=CHECKS)
            assert response.status_code in expected, (operation.label, response.status_code, response.text)
            seen.append(operation.label)

        send()


def test_the_documented_examples_are_accepted(documented):
    """What schemathesis's examples phase sends: every operation's documented examples, as one request."""
    seen = []
    for result in documented.get_all_operations():
        send_examples(result.ok(), seen)
    assert {"GET /attempts", "POST /attempts/batch", "GET /reports", "POST /reports/daily",
            "GET /watermarks/{name}", "PUT /watermarks/{name}"} <= set(seen)


def test_days_past_the_calendar_are_a_422_not_a_500(client):
    """9999-12-31 has no next midnight, and an offset moves an instant near year 1 or 9999 out of range in UTC."""
    for query in ({"date": "9999-12-31"}, {"start": "9999-12-30", "end": "9999-12-31"}):
        response = client.get("/stats/daily", query_string=query)
        assert response.status_code == 422, (query, response.json)
    assert client.get("/stats/daily", query_string={"date": "9999-12-30"}).status_code == 200
    response = client.post("/reports/daily", json={"date": "9999-12-31"}, headers=AUTH)
    assert response.status_code == 422 and "date" in response.json["errors"]["json"]
    for query in ({"start": "0001-01-01T00:00:00+05:00"}, {"end": "9999-12-31T23:59:59-05:00"}):
        response = client.get("/attempts", query_string=query)
        assert response.status_code == 422, (query, response.json)
    for position in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        response = client.put("/watermarks/grader-statistics", json={"position": position}, headers=AUTH)
        assert response.status_code == 422 and "position" in response.json["errors"]["json"]
    # The last instant of the calendar is representable, but a watermark there would stop the
    # scheduled pull for good: later than now (plus the allowed skew) is refused (issue 13).
    edge = client.put("/watermarks/grader-statistics", json={"position": "9999-12-31T23:59:59.999999Z"},
                      headers=AUTH)
    assert edge.status_code == 422 and "position" in edge.json["errors"]["json"]
    first = client.put("/watermarks/grader-statistics", json={"position": "0001-01-01T00:00:00Z"}, headers=AUTH)
    assert first.status_code == 200 and first.json["position"] == "0001-01-01T00:00:00+00:00"


def test_attempts_at_the_ends_of_the_calendar(client):
    records = [{**DAY[0], "created_at": "0001-01-01T00:00:00+05:00"},
               {**DAY[0], "user_id": "raw", "created_at": "9999-12-31T23:59:59-05:00"},
               {"lti_user_id": "raw", "attempt_type": "run", "is_correct": None, "passback_params": "{}",
                "created_at": "0001-01-01 00:00:00+01:00"},
               {**DAY[0], "created_at": "0001-01-01T00:00:00Z"},
               {**DAY[0], "created_at": "9999-12-31T23:59:59.999999Z"}]
    response = post_batch(client, records)
    assert response.status_code == 200
    assert response.json["inserted"] == 2
    assert [(r["index"], r["reason"]) for r in response.json["rejected"]] == [
        (index, "created_at lies outside years 1 to 9999 in UTC") for index in (0, 1, 2)]
    # Read back: SQLite used to store year 1 as "1-01-01 ..." and then fail on every list holding it.
    stored = client.get("/attempts")
    assert stored.status_code == 200
    assert [a["created_at"] for a in stored.json["data"]] == ["0001-01-01T00:00:00+00:00",
                                                              "9999-12-31T23:59:59.999999+00:00"]
    first_day = client.get("/stats/daily", query_string={"date": "0001-01-01"})
    assert first_day.status_code == 200 and first_day.json["attempts"] == 1


def test_nul_characters_are_refused_not_a_500(client):
    """PostgreSQL text cannot hold NUL: a filter is a 422, a record is rejected, a watermark name is no URL."""
    for key in ("user_id", "course_id"):
        response = client.get("/attempts", query_string={key: "u\x001"})
        assert response.status_code == 422 and key in response.json["errors"]["query"]
    response = post_batch(client, [{**DAY[0], "user_id": "u\x001"}, {**DAY[0], "oauth_consumer_key": "\x00"},
                                   {**DAY[0], "lis_outcome_service_url": "https://lms.example.ru/\x00"}, DAY[1]])
    assert response.status_code == 200 and response.json["inserted"] == 1
    assert [r["reason"] for r in response.json["rejected"]] == [
        "user_id contains a NUL character", "oauth_consumer_key contains a NUL character",
        "lis_outcome_service_url contains a NUL character"]
    assert client.get("/watermarks/grader%00statistics").status_code == 404
    response = client.put("/watermarks/grader%00statistics", json={"position": "2024-03-01T00:00:00Z"},
                          headers=AUTH)
    assert response.status_code == 404 and response.json["code"] == 404


def test_an_unpaired_surrogate_rejects_its_record_not_the_batch(client):
    """A JSON "\\ud800" decodes to text no database (and no UTF-8) can hold: it was a 500 for the whole batch."""
    body = json.dumps({"records": [{**DAY[0], "user_id": "uSURROGATE1"}, DAY[1]]}).replace("SURROGATE", "\\ud800")
    response = client.post("/attempts/batch", data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 200
    assert response.json["inserted"] == 1
    assert [r["reason"] for r in response.json["rejected"]] == ["user_id contains an unpaired surrogate"]
