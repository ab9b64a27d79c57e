"""A watermark never gets ahead of now (plus a small skew), and an administrator can move one back."""
from __future__ import annotations

import logging

import time_machine

from tests.support.auth import AUTH

NOW = "2024-03-10 12:00:00+00:00"


def put(client, position):
    return client.put("/watermarks/grader-statistics", json={"position": position}, headers=AUTH)


@time_machine.travel(NOW, tick=False)
def test_a_far_future_position_is_refused_and_changes_nothing(client):
    assert put(client, "2024-03-10T00:00:00Z").status_code == 200
    for position in ("9999-12-31T00:00:00Z", "2024-03-10T12:05:01Z"):
        response = put(client, position)
        assert response.status_code == 422, response.json
        assert set(response.json) >= {"code", "status", "message", "errors"}
        assert "later than now" in response.json["errors"]["json"]["position"][0]
    assert client.get("/watermarks/grader-statistics").json["position"] == "2024-03-10T00:00:00+00:00"


@time_machine.travel(NOW, tick=False)
def test_a_position_within_the_skew_is_accepted(client, make_app):
    assert put(client, "2024-03-10T12:05:00Z").json["position"] == "2024-03-10T12:05:00+00:00"
    strict = make_app(GRADER_WATERMARK_MAX_SKEW_SECONDS=0).test_client()
    assert strict.put("/watermarks/w", json={"position": "2024-03-10T12:00:01Z"}, headers=AUTH).status_code == 422


def test_an_administrator_moves_a_watermark_back_and_it_is_audited(app, client, caplog):
    assert put(client, "2024-03-05T00:00:00Z").status_code == 200
    with caplog.at_level(logging.WARNING, logger="services.grader.watermarks"):
        result = app.test_cli_runner().invoke(args=[
            "watermark-move-back", "grader-statistics", "2024-03-01T00:00:00", "--by", "ops:kim",
            "--reason", "re-pull March"])
    assert result.exit_code == 0, result.output
    assert "2024-03-05T00:00:00+00:00 -> 2024-03-01T00:00:00+00:00" in result.output
    assert client.get("/watermarks/grader-statistics").json["position"] == "2024-03-01T00:00:00+00:00"
    audit = [r.getMessage() for r in caplog.records if r.getMessage().startswith("audit:")]
    assert audit == ["audit: watermark grader-statistics moved from 2024-03-05T00:00:00+00:00 to "
                     "2024-03-01T00:00:00+00:00 by ops:kim: re-pull March"]
    # The API still only moves it forward.
    assert put(client, "2024-02-01T00:00:00Z").json["position"] == "2024-03-01T00:00:00+00:00"


def test_moving_back_to_the_future_is_refused(app, client):
    result = app.test_cli_runner().invoke(args=[
        "watermark-move-back", "grader-statistics", "9999-01-01", "--by", "ops", "--reason", "typo"])
    assert result.exit_code != 0 and "later than now" in result.output
    assert client.get("/watermarks/grader-statistics").json["position"] is None
