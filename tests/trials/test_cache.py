"""The per-process micro-cache: same answers, 304s, and a write is seen at once."""
import pytest

from services.trials import create_app
from tests.support.auth import AUTH
from tests.support.trials import trial


@pytest.fixture
def cached(app):
    """A second app on the same database with the cache on (as under gunicorn)."""
    second = create_app({**app.config, "TRIALS_CACHE_SECONDS": 60})
    yield second.test_client()
    with second.app_context():
        second.extensions["sqlalchemy"].engine.dispose()


def test_cached_answers_equal_uncached_ones(client, cached, put_batch):
    put_batch([trial(f"C{n}") for n in range(30)])
    for path in ("/trials?per_page=5&page=2", "/trials/C7", "/list", "/trials/C7/history"):
        fresh, first, second = client.get(path), cached.get(path), cached.get(path)
        assert first.json == second.json == fresh.json
        for header in ("ETag", "X-Pagination", "Link"):
            assert second.headers.get(header) == fresh.headers.get(header)


def test_cached_response_honours_if_none_match(cached, put_batch):
    put_batch([trial("C1")])
    etag = cached.get("/trials/C1").headers["ETag"]
    assert cached.get("/trials/C1", headers={"If-None-Match": etag}).status_code == 304


def test_a_write_through_this_process_is_seen_at_once(cached, put_batch):
    put_batch([trial("C1")])
    assert cached.get("/trials/C1").json["title"] == "C1 코호트 연구"
    cached.put("/trials/batch", json={"records": [trial("C1", 과제명="새 제목")]}, headers=AUTH)
    assert cached.get("/trials/C1").json["title"] == "새 제목"


def test_a_write_through_another_process_waits_for_expiry(cached, put_batch):
    put_batch([trial("C1")])
    cached.get("/trials/C1")
    put_batch([trial("C1", 과제명="새 제목")])
    assert cached.get("/trials/C1").json["title"] == "C1 코호트 연구"
    cached.application.extensions["trials_cache"].clear()
    assert cached.get("/trials/C1").json["title"] == "새 제목"


def test_errors_and_unlisted_endpoints_are_not_cached(cached, put_batch):
    assert cached.get("/trials/C1").status_code == 404
    put_batch([trial("C1")])
    assert cached.get("/trials/C1").status_code == 200
    first = cached.get("/trials/export").get_data(as_text=True)
    put_batch([trial("C2")])
    assert "C2" in cached.get("/trials/export").get_data(as_text=True) != first
