"""The list's JSON, written from rows without marshmallow, is byte for byte TrialSchema's dump
as Flask would write it; and the totals it keeps follow every write and the moving window."""
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sqlalchemy.engine import make_url

from services.trials import create_app
from services.trials.models import db
from services.trials.reads import RowSerialiser
from services.trials.schemas import TrialSchema
from services.trials.trials import EXPORT_COLUMNS
from shared.pagination import page_schema
from tests.support.auth import AUTH, SERVICE_TOKEN
from tests.support.databases import BACKENDS, fresh_postgres_schema, migrate
from tests.support.trials import trial

# Hangul, Latin, digits, punctuation, controls, emoji: anything storable (no lone surrogates).
TEXT = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
                 st.text("조직구증식증 코호트 서울아산병원 Registry%_\"\\\n\t", max_size=20))
TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
ROW = st.tuples(
    st.text(min_size=1, max_size=12), *(TEXT for _ in range(7)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**31 - 1)),
    TIMES, TIMES, st.one_of(st.none(), TIMES),
)


def marshmallow_bytes(app, count, rows):
    records = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows]
    with app.app_context():
        return app.json.response(page_schema(TrialSchema)().dump({"count": count, "data": records})).get_data()


# Only the app's JSON provider is used, which no example changes: sharing the fixture is safe.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=5), count=st.integers(min_value=0, max_value=10**9))
# Whole seconds (isoformat then leaves the fraction out), year 1 and a far year, no trial id text.
@example(rows=[("C1", *[None] * 7, None, datetime(2026, 1, 1, tzinfo=UTC), datetime(1, 1, 2, 3, 4, 5, tzinfo=UTC),
                datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC))], count=1)
def test_rows_serialise_as_the_schema_dumps_them(app, rows, count):
    assert RowSerialiser(TrialSchema(), EXPORT_COLUMNS).page(count, rows) == marshmallow_bytes(app, count, rows)


def test_a_served_page_is_the_schema_dump_of_the_stored_trials(app, client, put_batch):
    put_batch([trial("K1", 과제명="소아 천식 \"코호트\"\\ 연구", 전체목표연구대상자수=""),
               trial("K2", 과제명=None, 진료과=None, 연구기간="6개월"),
               trial("K3", 과제명="Prospective registry of 위암")])
    with app.app_context():
        from services.trials.models import Trial

        stored = db.session.scalars(db.select(Trial).order_by(Trial.trial_id)).all()
        expected = app.json.response(page_schema(TrialSchema)().dump({"count": 3, "data": stored})).get_data()
        one = app.json.response(TrialSchema().dump(stored[1])).get_data()
    response = client.get("/trials")
    assert response.status_code == 200
    assert response.get_data() == expected
    assert response.mimetype == "application/json"
    assert client.get("/trials/K2").get_data() == one


@pytest.mark.parametrize("db_backend", ["sqlite"])  # elsewhere the page is the rows RowSerialiser writes (above)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=6), per_page=st.integers(min_value=1, max_value=7))
@example(rows=[("x", "제목 \x00\x1f\u2028\"\\/", *[None] * 6, 2**31 - 1, datetime(1, 1, 2, tzinfo=UTC),
                datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC))],
         per_page=1)
def test_a_page_sqlite_writes_is_the_schema_dump_of_what_it_stores(app, client, rows, per_page):
    """SQLite writes a page's JSON itself (reads.PageRead): any text, any date-time it stores, every page."""
    from services.trials import trials
    from services.trials.models import Trial

    with app.app_context():
        db.session.execute(db.delete(Trial))
        if rows:
            db.session.execute(db.insert(Trial), [
                {**dict(zip(EXPORT_COLUMNS, row, strict=True)), "trial_id": f"H{n:02d}", "content_hash": "-"}
                for n, row in enumerate(rows)])
        trials.bump_revision()  # as every write does: the kept totals follow
        db.session.commit()
        stored = db.session.scalars(db.select(Trial).order_by(Trial.trial_id)).all()
        pages = [app.json.response(page_schema(TrialSchema)().dump(
            {"count": len(stored), "data": stored[start:start + per_page]})).get_data()
            for start in range(0, len(stored), per_page)] or [b'{"count":0,"data":[]}\n']
    served = [client.get(f"/trials?include_withdrawn=true&per_page={per_page}&page={page}")
              for page in range(1, len(pages) + 1)]
    assert [response.status_code for response in served] == [200] * len(pages)
    assert [response.get_data() for response in served] == pages


def test_the_etag_answers_304_and_moves_with_the_content(client, put_batch):
    put_batch([trial("E1")])
    first = client.get("/trials")
    assert first.headers["ETag"]
    assert client.get("/trials", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    put_batch([trial("E2")])
    second = client.get("/trials", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert second.json["count"] == 2
    assert second.headers["ETag"] != first.headers["ETag"]


def test_kept_totals_follow_writes_and_withdrawals(client, put_batch, complete):
    put_batch([trial("T1"), trial("T2", 과제명="레지스트리")], snapshot_id="s1")
    assert client.get("/trials").json["count"] == 2
    assert client.get("/trials?q=레지스트리").json["count"] == 1
    put_batch([trial("T3", 과제명="레지스트리 2")])
    assert client.get("/trials").json["count"] == 3
    assert client.get("/trials?q=레지스트리").json["count"] == 2
    put_batch([trial("T1"), trial("T3", 과제명="레지스트리 2")], snapshot_id="s2")
    assert complete("s2", force=True).status_code == 200  # withdraws T2
    assert client.get("/trials").json["count"] == 2
    assert client.get("/trials?q=레지스트리").json["count"] == 1
    assert client.get("/trials?q=레지스트리&include_withdrawn=true").json["count"] == 2


def test_a_page_the_writes_move_past_the_end_or_back_is_answered_from_the_current_total(client, put_batch,
                                                                                           complete):
    """Within the total last counted, a page is read before its revision and total; past it, they come first."""
    put_batch([trial("P1"), trial("P2"), trial("P3")], snapshot_id="s1")
    third = client.get("/trials?per_page=1&page=3")
    assert [t["trial_id"] for t in third.json["data"]] == ["P3"]
    put_batch([trial("P1")], snapshot_id="s2")
    assert complete("s2", force=True).status_code == 200  # withdraws P2 and P3
    gone = client.get("/trials?per_page=1&page=3")  # within the 3 last counted: read first, then the new total
    assert gone.status_code == 404, gone.json
    assert "past the last page (1) for 1 items" in gone.json["message"]
    assert client.get("/trials?per_page=1&page=2").status_code == 404  # past the 1 last counted
    put_batch([trial("P4"), trial("P5")])
    back = client.get("/trials?per_page=1&page=2")  # past the 1 last counted: the total first, now 3
    assert back.status_code == 200, back.json
    assert [t["trial_id"] for t in back.json["data"]] == ["P4"]
    assert back.json["count"] == json.loads(back.headers["X-Pagination"])["total"] == 3


def test_the_recent_total_follows_the_moving_window(client, put_batch):
    start = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        put_batch([trial("R1")])
    with time_machine.travel(start + timedelta(days=3), tick=False):
        put_batch([trial("R2")])
        assert client.get("/list").json["count"] == 2
    with time_machine.travel(start + timedelta(days=8), tick=False):  # R1 left the window, no write since
        assert [t["trial_id"] for t in client.get("/list").json["data"]] == ["R2"]
        assert client.get("/list").json["count"] == 1
    with time_machine.travel(start + timedelta(days=11), tick=False):
        assert client.get("/list").json["count"] == 0


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL only: set TEST_DATABASE_URL")
def test_pages_are_written_in_utc_whatever_the_sessions_time_zone(tmp_path, worker_id):
    """The reads take PostgreSQL's date-times as the driver gives them: in the session's time zone,
    which the read engine sets to UTC. Here every session of the database starts in Seoul."""
    url = make_url(fresh_postgres_schema(f"test_trials_time_zone_{worker_id}"))
    url = url.update_query_dict({"options": url.query["options"] + " -cTimeZone=Asia/Seoul"}).render_as_string(
        hide_password=False)
    migrate("trials", url, tmp_path)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SERVICE_TOKEN": SERVICE_TOKEN,
                      "VAR_DIR": tmp_path, "LOG_DIR": tmp_path / "log", "TRIALS_CACHE_SECONDS": 0})
    client = app.test_client()
    try:
        stored = client.put("/trials/batch", json={"records": [trial("Z1"), trial("Z2")]}, headers=AUTH)
        assert stored.status_code == 200
        with app.app_context():
            from services.trials.models import Trial

            assert db.session.scalar(db.text("SHOW TimeZone")) == "Asia/Seoul"
            stored = db.session.scalars(db.select(Trial).order_by(Trial.trial_id)).all()
            expected = app.json.response(page_schema(TrialSchema)().dump({"count": 2, "data": stored})).get_data()
            one = app.json.response(TrialSchema().dump(stored[0])).get_data()
        page = client.get("/trials").get_data()
        assert page == expected
        assert b"+00:00" in page and b"+09:00" not in page
        assert client.get("/trials/Z1").get_data() == one
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
