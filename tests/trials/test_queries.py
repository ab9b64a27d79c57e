"""Listing, filters, sorting, pagination, the recent window, ETags and export."""
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from services.trials import create_app
from tests.support.processes import free_port
from tests.support.trials import trial

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def catalogue(put_batch):
    put_batch([
        trial("A1", 과제명="천식 코호트", 진료과="Pediatrics", 연구책임기관="서울아산병원", 전체목표연구대상자수="100",
              연구종류="관찰연구", 연구범위="단일기관", **{"임상시험단계(연구모형)": "코호트"}),
        trial("A2", 과제명="위암 레지스트리", 진료과="Oncology", 연구책임기관="국립암센터", 전체목표연구대상자수="500",
              연구종류="중재연구", 연구범위="국내다기관", **{"임상시험단계(연구모형)": "3상"}),
        trial("A3", 과제명="Asthma 100% registry_x", 진료과="Pediatrics", 연구책임기관="삼성서울병원",
              전체목표연구대상자수="", 연구종류="관찰연구", 연구범위="국내다기관"),
        trial("A4", 과제명="심부전 연구", 진료과="Cardiology", 연구책임기관="서울아산병원", 전체목표연구대상자수="100"),
    ])


def ids(response):
    assert response.status_code == 200, response.json
    return [t["trial_id"] for t in response.json["data"]]


@pytest.mark.parametrize("query, expected", [
    ("q=코호트", ["A1"]),
    ("q=서울아산", ["A1", "A4"]),
    ("q=oncology", ["A2"]),
    ("q=100%25", ["A3"]),            # % is matched literally, not as a wildcard
    ("q=y_x", ["A3"]),               # so is _
    ("department=pediatrics", ["A1", "A3"]),
    ("phase=3상", ["A2"]),
    ("study_type=중재연구", ["A2"]),
    ("scope=단일기관", ["A1"]),
    ("institution=국립암센터", ["A2"]),
    ("min_subjects=200", ["A2"]),
    ("max_subjects=100", ["A1", "A4"]),
    ("min_subjects=100&max_subjects=100", ["A1", "A4"]),
    ("department=Pediatrics&scope=국내다기관", ["A3"]),
    ("min_subjects=200&max_subjects=100", []),
])
def test_filters(client, catalogue, query, expected):
    assert ids(client.get(f"/trials?{query}")) == expected


def test_updated_since(client, put_batch):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        put_batch([trial("OLD")])
    with time_machine.travel(NOW, tick=False):
        put_batch([trial("NEW")])
    since = (NOW - timedelta(days=1)).isoformat()
    assert ids(client.get("/trials", query_string={"updated_since": since})) == ["NEW"]
    # Without an offset the time is taken as UTC.
    assert ids(client.get("/trials?updated_since=2026-05-20T12:00:00")) == ["NEW"]


@pytest.mark.parametrize("sort, expected", [
    ("trial_id", ["A1", "A2", "A3", "A4"]),
    ("-trial_id", ["A4", "A3", "A2", "A1"]),
    ("target_subjects", ["A1", "A4", "A2", "A3"]),     # ties broken by trial_id, nulls last
    ("-target_subjects", ["A2", "A1", "A4", "A3"]),
    ("institution", ["A2", "A3", "A1", "A4"]),
])
def test_sort_is_stable(client, catalogue, sort, expected):
    assert ids(client.get(f"/trials?sort={sort}")) == expected


def test_pagination_body_and_headers(client, put_batch):
    put_batch([trial(f"P{n:02d}") for n in range(25)])
    response = client.get("/trials?page=2&per_page=10&department=Pediatrics")
    assert response.json["count"] == 25
    assert ids(response) == [f"P{n:02d}" for n in range(10, 20)]
    meta = json.loads(response.headers["X-Pagination"])
    assert meta == {"total": 25, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 2,
                    "per_page": 10, "previous_page": 1, "next_page": 3}
    links = {part.split("; ")[1]: part.split("; ")[0] for part in response.headers["Link"].split(", ")}
    assert set(links) == {'rel="first"', 'rel="prev"', 'rel="next"', 'rel="last"'}
    assert "page=3" in links['rel="next"'] and "department=Pediatrics" in links['rel="next"']
    assert "page=1" in links['rel="prev"']
    last = client.get("/trials?page=3&per_page=10")
    assert ids(last) == [f"P{n:02d}" for n in range(20, 25)]
    assert 'rel="next"' not in last.headers["Link"]


def test_empty_list_is_a_page_not_an_error(client):
    response = client.get("/trials")
    assert response.status_code == 200
    assert response.json == {"count": 0, "data": []}


@pytest.mark.parametrize("query, status, field", [
    ("page=0", 422, "page"),
    ("page=99999999999999999999", 422, "page"),
    ("per_page=101", 422, "per_page"),
    ("per_page=abc", 422, "per_page"),
    ("min_subjects=many", 422, "min_subjects"),
    ("max_subjects=764936250288350374838839279616", 422, "max_subjects"),
    ("updated_since=yesterday", 422, "updated_since"),
    ("include_withdrawn=perhaps", 422, "include_withdrawn"),
    ("sort=colour", 422, "sort"),
    # These were 500s: PostgreSQL refuses a NUL in text; these offsets have no UTC equivalent.
    ("q=%00", 422, "q"),
    ("department=Pedi%00atrics", 422, "department"),
    ("updated_since=9999-12-31T23:59:59-05:00", 422, "updated_since"),
    ("updated_since=0001-01-01T00:00:00%2B05:00", 422, "updated_since"),
])
def test_bad_query_arguments_are_422(client, catalogue, query, status, field):
    response = client.get(f"/trials?{query}")
    assert response.status_code == status
    assert field in response.json["errors"]["query"]


@pytest.mark.parametrize("query", ["q=%00", "institution=%00", "updated_since=9999-12-31T23:59:59-05:00"])
def test_export_refuses_the_same_filters_before_streaming(client, catalogue, query):
    response = client.get(f"/trials/export?format=jsonl&{query}")
    assert response.status_code == 422
    assert response.json["errors"]["query"]


def test_an_id_with_a_nul_is_404_not_500(client, catalogue, complete):
    for path in ("/trials/A1%00", "/trials/A1%00/history"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json["message"] == "Trial A1\x00 is not known."
    response = complete("snap%00shot")
    assert response.status_code == 404
    assert response.json["message"] == "Snapshot snap\x00shot is unknown: send its batches first."


def test_page_past_the_end_is_404_with_a_message(client, catalogue):
    response = client.get("/trials?page=3&per_page=2")
    assert response.status_code == 404
    assert response.json["message"] == "Page 3 is past the last page (2) for 4 items."


def test_unknown_trial_is_404_in_the_error_shape(client):
    response = client.get("/trials/NOPE")
    assert response.status_code == 404
    assert response.json == {"code": 404, "status": "Not Found", "message": "Trial NOPE is not known."}
    assert client.get("/trials/NOPE/history").status_code == 404


def test_etag_gives_304_until_the_trial_changes(client, put_batch, catalogue):
    first = client.get("/trials/A1")
    etag = first.headers["ETag"]
    assert client.get("/trials/A1", headers={"If-None-Match": etag}).status_code == 304
    put_batch([trial("A1", 과제명="바뀐 제목")])
    changed = client.get("/trials/A1", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_list_etag(client, put_batch, catalogue):
    etag = client.get("/trials?per_page=2").headers["ETag"]
    assert client.get("/trials?per_page=2", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/trials?per_page=3", headers={"If-None-Match": etag}).status_code == 200
    put_batch([trial("A0")])
    assert client.get("/trials?per_page=2", headers={"If-None-Match": etag}).status_code == 200


def test_recent_window_edges(client, put_batch):
    """Rolling 7 x 24 h: a change exactly 7 days ago is in, one a second earlier is out."""
    with time_machine.travel(NOW - timedelta(days=7, seconds=1), tick=False):
        put_batch([trial("OUT")])
    with time_machine.travel(NOW - timedelta(days=7), tick=False):
        put_batch([trial("EDGE")])
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        put_batch([trial("NEW")])
    with time_machine.travel(NOW, tick=False):
        assert ids(client.get("/trials/recent")) == ["NEW", "EDGE"]
        assert client.get("/list").json == client.get("/trials/recent").json
    with time_machine.travel(NOW + timedelta(seconds=1), tick=False):
        assert ids(client.get("/list")) == ["NEW"]


def test_recent_counts_content_changes_not_reloads(client, put_batch):
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        put_batch([trial("R1"), trial("R2")])
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        put_batch([trial("R1"), trial("R2", 연구기간="9년")])
    with time_machine.travel(NOW, tick=False):
        assert ids(client.get("/list")) == ["R2"]


def test_recent_ties_broken_by_id(client, put_batch):
    with time_machine.travel(NOW, tick=False):
        put_batch([trial("B"), trial("A"), trial("C")])
        assert ids(client.get("/list")) == ["A", "B", "C"]


def test_export_csv_uses_the_filters(client, catalogue):
    response = client.get("/trials/export?format=csv&department=Pediatrics")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["trial_id"] for r in rows] == ["A1", "A3"]
    assert rows[0]["title"] == "천식 코호트"
    assert rows[1]["target_subjects"] == ""


def test_export_jsonl(client, catalogue):
    response = client.get("/trials/export?format=jsonl&sort=-trial_id")
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [line["trial_id"] for line in lines] == ["A4", "A3", "A2", "A1"]
    assert lines[0]["target_subjects"] == 100


def test_export_rejects_unknown_format(client):
    assert client.get("/trials/export?format=xlsx").status_code == 422


def test_trailing_slash_forms_answer_like_the_slashless_ones(client, catalogue):
    """The original task's deployed addresses (/list/, /trials/{id}/) answer directly, not by redirect."""
    for slashless in ("/list", "/trials/recent", "/trials/A1", "/trials/NOPE"):
        plain, slashed = client.get(slashless), client.get(f"{slashless}/")
        assert slashed.status_code == plain.status_code, slashless
        assert slashed.json == plain.json, slashless
    assert client.get("/list/").status_code == 200
    assert client.get("/trials/A1/").json["trial_id"] == "A1"
    assert client.get("/trials/NOPE/").status_code == 404


def test_reads_answer_503_while_the_database_is_unreachable(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"postgresql://postgres@127.0.0.1:{free_port()}/none",
                      "VAR_DIR": tmp_path, "LOG_DIR": tmp_path / "log", "TRIALS_CACHE_SECONDS": 0})
    client = app.test_client()
    for url in ("/trials/C1", "/trials", "/trials?q=registry", "/list"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert "database" in response.json["message"].lower()
