"""The grader API through the front door: batches, listing, daily statistics."""
from __future__ import annotations

import json

from tests.support.auth import AUTH
from tests.support.grader import DAY, attempt, post_batch


def test_batch_stores_and_a_repull_never_duplicates(client):
    first = post_batch(client, DAY)
    assert first.status_code == 200, first.json
    assert first.json == {"received": 6, "inserted": 6, "duplicates": 0, "rejected": []}
    again = post_batch(client, [*DAY, attempt("u9", "run", None, "2024-03-01T10:00:00+00:00")])
    assert again.json == {"received": 7, "inserted": 1, "duplicates": 6, "rejected": []}
    assert client.get("/attempts").json["count"] == 7


def test_duplicates_inside_one_batch_are_stored_once(client):
    response = post_batch(client, [DAY[0], DAY[0], DAY[1]])
    assert response.json["inserted"] == 2 and response.json["duplicates"] == 1


def test_invalid_records_are_rejected_with_their_index_and_reason(client):
    records = [DAY[0], {**DAY[1], "is_correct": 7}, {**DAY[0], "user_id": ""}, "junk",
               {**DAY[0], "created_at": "yesterday"}, {**DAY[0], "attempt_type": "peek"},
               {**DAY[0], "user_id": "x" * 129}]
    response = post_batch(client, records)
    assert response.status_code == 200
    assert response.json["inserted"] == 1
    reasons = {r["index"]: r["reason"] for r in response.json["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    assert "is_correct" in reasons[1] and "user_id" in reasons[2] and "JSON object" in reasons[3]
    assert "created_at" in reasons[4] and "attempt_type" in reasons[5] and "longer" in reasons[6]


def test_raw_upstream_records_are_accepted_too(client):
    raw = {"lti_user_id": "abc", "attempt_type": "submit", "is_correct": 1, "created_at": "2024-03-01 08:00:00.5",
           "passback_params": "{'oauth_consumer_key': '', 'lis_result_sourcedid': "
                              "'course-v1:A+B+C:lms.x-blk:abc'}"}
    response = post_batch(client, [raw])
    assert response.json["inserted"] == 1
    stored = client.get("/attempts", query_string={"user_id": "abc"}).json["data"][0]
    assert stored["course_id"] == "course-v1:A+B+C" and stored["block_id"] == "blk"
    assert stored["lis_outcome_service_url"] is None and stored["is_correct"] is True
    assert stored["created_at"] == "2024-03-01T08:00:00.500000+00:00"


def test_batch_needs_the_service_token(client):
    assert post_batch(client, DAY, headers={}).status_code == 401
    assert post_batch(client, DAY, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/attempts").json["count"] == 0


def test_bad_bodies_get_a_4xx_in_the_error_shape(client, make_app):
    for body in ({}, {"records": []}, {"records": "x"}):
        response = client.post("/attempts/batch", json=body, headers=AUTH)
        assert response.status_code == 422 and response.json["code"] == 422 and "errors" in response.json
    response = client.post("/attempts/batch", data="{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    small = make_app(GRADER_BATCH_MAX=2).test_client()
    response = post_batch(small, DAY)
    assert response.status_code == 413 and "at most 2" in response.json["message"]


def test_list_filters_and_pages(client):
    post_batch(client, DAY)

    def get(**query):
        return client.get("/attempts", query_string=query)

    assert get(user_id="u2").json["count"] == 2
    assert get(attempt_type="submit").json["count"] == 3
    assert get(attempt_type="submit", is_correct="false").json["count"] == 1
    assert get(course_id="course-v1:SF+SQL-1.0+15JAN2023").json["data"][0]["user_id"] == "u3"
    day = get(start="2024-03-01T00:00:00Z", end="2024-03-02T00:00:00Z").json
    assert day["count"] == 5
    assert [a["created_at"] for a in day["data"]] == sorted(a["created_at"] for a in day["data"])
    page = get(per_page=2, page=2)
    assert page.status_code == 200 and len(page.json["data"]) == 2
    assert json.loads(page.headers["X-Pagination"])["total_pages"] == 3
    assert 'rel="next"' in page.headers["Link"]
    assert get(per_page=2, page=9).status_code == 404
    assert get(attempt_type="peek").status_code == 422
    assert get(start="2024-03-02T00:00:00Z", end="2024-03-01T00:00:00Z").status_code == 422


def test_daily_stats(client):
    post_batch(client, DAY)
    stats = client.get("/stats/daily", query_string={"date": "2024-03-01"}).json
    assert {k: v for k, v in stats.items() if k != "by_course"} == {
        "date": "2024-03-01", "attempts": 5, "runs": 2, "submits": 3, "correct_submits": 2,
        "success_rate": round(2 / 3, 4), "unique_users": 3, "unique_tasks": 3, "busiest_hour": 9}
    courses = {c["course_id"]: c for c in stats["by_course"]}
    assert courses["course-v1:SF+DST-3.0+28FEB2021"]["attempts"] == 4
    assert courses["course-v1:SF+DST-3.0+28FEB2021"]["unique_tasks"] == 2
    assert courses["course-v1:SF+SQL-1.0+15JAN2023"] == {
        "course_id": "course-v1:SF+SQL-1.0+15JAN2023", "attempts": 1, "runs": 1, "submits": 0, "correct_submits": 0,
        "success_rate": 0.0, "unique_users": 1, "unique_tasks": 1}


def test_stats_on_an_empty_day_are_zeros(client):
    stats = client.get("/stats/daily", query_string={"date": "2020-01-01"})
    assert stats.status_code == 200
    assert stats.json == {"date": "2020-01-01", "attempts": 0, "runs": 0, "submits": 0, "correct_submits": 0,
                          "success_rate": 0.0, "unique_users": 0, "unique_tasks": 0, "by_course": [],
                          "busiest_hour": None}


def test_stats_range_gives_one_row_per_day(client, make_app):
    post_batch(client, DAY)
    body = client.get("/stats/daily", query_string={"start": "2024-02-29", "end": "2024-03-02"}).json
    assert body["count"] == 3
    assert [(d["date"], d["attempts"]) for d in body["data"]] == [("2024-02-29", 0), ("2024-03-01", 5),
                                                                  ("2024-03-02", 1)]
    for query in ({}, {"date": "2024-03-01", "start": "2024-03-01"}, {"start": "2024-03-01"},
                  {"start": "2024-03-02", "end": "2024-03-01"}, {"date": "2024-13-01"}):
        response = client.get("/stats/daily", query_string=query)
        assert response.status_code == 422, query
    short = make_app(GRADER_STATS_MAX_DAYS=2).test_client()
    response = short.get("/stats/daily", query_string={"start": "2024-03-01", "end": "2024-03-05"})
    assert response.status_code == 400 and "at most 2 days" in response.json["message"]


def test_cli_stats_and_report(app, client):
    post_batch(client, DAY)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stats", "--date", "2024-03-01"])
    assert result.exit_code == 0 and json.loads(result.output)["attempts"] == 5
    result = runner.invoke(args=["report", "--date", "2024-03-01"])
    assert result.exit_code == 0
    assert "report 2024-03-01: 5 attempts; sheets skipped" in result.output
    assert client.get("/reports").json["count"] == 1
    bad = runner.invoke(args=["stats", "--date", "yesterday"])
    assert bad.exit_code == 2 and "YYYY" not in bad.output and "yesterday" in bad.output
