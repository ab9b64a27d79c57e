"""Upserts, change tracking, snapshots and withdrawal."""
from datetime import UTC, datetime, timedelta

import time_machine

from tests.support.trials import trial

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_first_load_creates_and_maps_korean_keys(client, put_batch):
    response = put_batch([trial("C1"), trial("C2", 전체목표연구대상자수="")])
    assert response.status_code == 200
    assert response.json | {"rejected": []} == {
        "snapshot_id": None, "received": 2, "created": 2, "updated": 0, "unchanged": 0,
        "restored": 0, "withdrawn": 0, "rejected": []}
    body = client.get("/trials/C1").json
    assert body["title"] == "C1 코호트 연구"
    assert body["department"] == "Pediatrics"
    assert body["institution"] == "서울아산병원"
    assert body["phase"] == "코호트"
    assert body["study_type"] == "관찰연구"
    assert body["scope"] == "국내다기관"
    assert body["period"] == "3년"
    assert body["target_subjects"] == 120
    assert client.get("/trials/C2").json["target_subjects"] is None


def test_english_keys_are_accepted(client, put_batch):
    put_batch([{"trial_id": "E1", "title": "English", "target_subjects": 40, "department": "Oncology"}])
    body = client.get("/trials/E1").json
    assert (body["title"], body["target_subjects"], body["department"]) == ("English", 40, "Oncology")


def test_same_snapshot_twice_changes_nothing(client, put_batch, complete):
    records = [trial(f"C{n}") for n in range(5)]
    with time_machine.travel(T0, tick=False):
        put_batch(records, "snap-1")
        complete("snap-1")
    before = client.get("/trials/C3").json
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        response = put_batch(records, "snap-2")
        assert complete("snap-2").json["withdrawn"] == 0
    assert response.json["unchanged"] == 5
    assert response.json["created"] == response.json["updated"] == 0
    after = client.get("/trials/C3").json
    assert after == before
    assert after["updated_at"] == T0.isoformat()
    assert client.get("/trials/C3/history").json["count"] == 1


def test_changed_field_moves_updated_at_and_records_a_diff(client, put_batch):
    with time_machine.travel(T0, tick=False):
        put_batch([trial("C1")])
    later = T0 + timedelta(hours=5)
    with time_machine.travel(later, tick=False):
        response = put_batch([trial("C1", 전체목표연구대상자수="150", 연구기간="5년")], "snap-x")
    assert response.json["updated"] == 1
    body = client.get("/trials/C1").json
    assert body["updated_at"] == later.isoformat()
    assert body["created_at"] == T0.isoformat()
    history = client.get("/trials/C1/history").json
    assert history["count"] == 2
    latest = history["data"][0]
    assert latest["kind"] == "updated"
    assert latest["snapshot_id"] == "snap-x"
    assert latest["changed_at"] == later.isoformat()
    assert sorted(latest["changes"], key=lambda c: c["field"]) == [
        {"field": "period", "old": "3년", "new": "5년"},
        {"field": "target_subjects", "old": 120, "new": 150},
    ]
    assert history["data"][1]["kind"] == "created"


def test_completed_snapshot_withdraws_missing_trials(client, put_batch, complete):
    put_batch([trial("C1"), trial("C2"), trial("C3")], "s1")
    complete("s1")
    put_batch([trial("C1"), trial("C2")], "s2")
    # Until the snapshot completes nothing is withdrawn: a partial pull must not withdraw.
    assert client.get("/trials/C3").json["withdrawn_at"] is None
    response = complete("s2")
    assert response.status_code == 200
    assert response.json["withdrawn"] == 1
    assert response.json["completed_at"] is not None
    assert client.get("/trials/C3").json["withdrawn_at"] is not None
    assert [t["trial_id"] for t in client.get("/trials").json["data"]] == ["C1", "C2"]
    listed = client.get("/trials?include_withdrawn=true").json["data"]
    assert [t["trial_id"] for t in listed] == ["C1", "C2", "C3"]
    assert client.get("/trials/C3/history").json["data"][0]["kind"] == "withdrawn"


def test_withdrawn_trial_seen_again_is_restored(client, put_batch, complete):
    put_batch([trial("C1"), trial("C2")], "s1")
    complete("s1")
    put_batch([trial("C1")], "s2")
    complete("s2", force=True)
    response = put_batch([trial("C1"), trial("C2")], "s3")
    assert response.json["restored"] == 1
    assert client.get("/trials/C2").json["withdrawn_at"] is None
    assert client.get("/trials/C2/history").json["data"][0]["kind"] == "restored"


def test_completing_twice_is_harmless(put_batch, complete):
    put_batch([trial("C1")], "s1")
    first = complete("s1").json
    second = complete("s1")
    assert second.status_code == 200
    assert second.json == first


def test_batch_into_a_completed_snapshot_is_refused(client, put_batch, complete):
    put_batch([trial("C1")], "s1")
    complete("s1")
    response = put_batch([trial("C1", 과제명="new title")], "s1")
    assert response.status_code == 409
    assert "completed" in response.json["message"]
    assert client.get("/trials/C1").json["title"] == "C1 코호트 연구"


def test_unknown_snapshot_is_404(complete):
    response = complete("never-started")
    assert response.status_code == 404
    assert response.json["code"] == 404


def test_a_suspiciously_small_snapshot_needs_force(client, put_batch, complete):
    put_batch([trial(f"C{n}") for n in range(10)], "s1")
    complete("s1")
    put_batch([trial("C1")], "s2")
    refused = complete("s2")
    assert refused.status_code == 409
    assert "1 of 10" in refused.json["message"]
    assert client.get("/trials").json["count"] == 10
    forced = complete("s2", force=True)
    assert forced.json["withdrawn"] == 9


def test_overlapping_snapshots_only_withdraw_what_neither_holds(client, put_batch, complete):
    """A scheduled and a manual pull overlapping: the one that started first completes last."""
    with time_machine.travel(T0, tick=False):
        put_batch([trial(f"C{n}") for n in range(1, 5)], "day-1")
        complete("day-1")
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        put_batch([trial("C1"), trial("C2")], "scheduled")  # its first page
    with time_machine.travel(T0 + timedelta(days=1, minutes=1), tick=False):
        put_batch([trial("C1"), trial("C2"), trial("C3")], "manual")  # C4 is gone upstream
        newer = complete("manual")
    assert (newer.status_code, newer.json["withdrawn"]) == (200, 1)
    with time_machine.travel(T0 + timedelta(days=1, minutes=2), tick=False):
        put_batch([trial("C3")], "scheduled")  # its second page
        older = complete("scheduled")
    # C3 was seen by the newer snapshot: the older one leaves it be, it withdraws nothing.
    assert (older.status_code, older.json["withdrawn"]) == (200, 0)
    assert [t["trial_id"] for t in client.get("/trials").json["data"]] == ["C1", "C2", "C3"]
    assert [e["kind"] for e in client.get("/trials/C3/history").json["data"]] == ["created"]
    assert client.get("/trials/C4/history").json["data"][0]["snapshot_id"] == "manual"


def test_an_older_snapshot_completing_first_leaves_a_newer_ones_trials(client, put_batch, complete):
    with time_machine.travel(T0, tick=False):
        put_batch([trial("C1"), trial("C2"), trial("C3")], "day-1")
        complete("day-1")
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        put_batch([trial("C1"), trial("C2")], "older")
    with time_machine.travel(T0 + timedelta(days=1, minutes=1), tick=False):
        put_batch([trial("C3")], "newer")  # its first page; the rest is still to come
    with time_machine.travel(T0 + timedelta(days=1, minutes=2), tick=False):
        put_batch([trial("C3")], "older")
        assert complete("older").json["withdrawn"] == 0
        put_batch([trial("C1")], "newer")
        response = complete("newer")  # C2 is gone by the newer pull
    assert response.json["withdrawn"] == 1
    assert [t["trial_id"] for t in client.get("/trials").json["data"]] == ["C1", "C3"]
