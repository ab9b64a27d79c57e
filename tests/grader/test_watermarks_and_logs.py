"""Pull watermarks over the API, and the service's daily log files with 3-day retention."""
from __future__ import annotations

import logging

import time_machine

from tests.support.auth import AUTH


def test_watermark_starts_empty_and_only_moves_forward(client):
    assert client.get("/watermarks/grader-statistics").json["position"] is None

    def put(position):
        return client.put("/watermarks/grader-statistics", json={"position": position}, headers=AUTH)

    assert put("2024-03-01T05:00:00Z").json["position"] == "2024-03-01T05:00:00+00:00"
    assert put("2024-03-01T03:00:00Z").json["position"] == "2024-03-01T05:00:00+00:00"
    assert put("2024-03-02T00:00:00+09:00").json["position"] == "2024-03-01T15:00:00+00:00"
    assert client.get("/watermarks/grader-statistics").json["position"] == "2024-03-01T15:00:00+00:00"
    assert client.get("/watermarks/other").json["position"] is None


def test_watermark_writes_need_the_token_and_a_time(client):
    assert client.put("/watermarks/x", json={"position": "2024-03-01T00:00:00Z"}).status_code == 401
    response = client.put("/watermarks/x", json={"position": "soon"}, headers=AUTH)
    assert response.status_code == 422 and "position" in response.json["errors"]["json"]
    assert client.put("/watermarks/x", json={}, headers=AUTH).status_code == 422
    assert client.get("/watermarks/" + "x" * 101).status_code == 404


@time_machine.travel("2024-03-10 12:00:00+00:00", tick=False)
def test_log_file_per_day_and_three_days_kept(make_app, tmp_path):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    for name in ("grader-2024-03-06.log", "grader-2024-03-07.log", "grader-2024-03-08.log", "trials-2024-03-01.log"):
        (log_dir / name).write_text("old\n")
    make_app()
    logging.getLogger("services.grader.test").info("a line for today's file")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert sorted(p.name for p in log_dir.iterdir()) == [
        "grader-2024-03-08.log", "grader-2024-03-10.log", "trials-2024-03-01.log"]
    assert "a line for today's file" in (log_dir / "grader-2024-03-10.log").read_text()
