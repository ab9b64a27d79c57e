"""Bad input on the write path: clear 4xx, good records kept, nothing stored lost."""
import json

import pytest

from tests.support.auth import SERVICE_TOKEN
from tests.support.trials import trial


def test_bad_records_are_reported_and_good_ones_stored(client, put_batch):
    response = put_batch([
        trial("G1"),
        trial("", 과제명="no id"),
        trial("G2", 전체목표연구대상자수="열두명"),
        "not an object",
        trial("G3", 전체목표연구대상자수="-4"),
        {"trial_id": "G4", "title": 12},
        trial("G1", 과제명="duplicate in batch"),
        trial("G5", 전체목표연구대상자수="1,200"),
    ])
    assert response.status_code == 200
    body = response.json
    assert (body["received"], body["created"]) == (8, 2)
    reasons = {r["index"]: r for r in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    assert "trial_id" in reasons[1]["reason"]
    assert reasons[2] == {"index": 2, "trial_id": "G2", "reason": "target_subjects: Not a valid integer."}
    assert reasons[3]["trial_id"] is None and "JSON object" in reasons[3]["reason"]
    assert "target_subjects" in reasons[4]["reason"]
    assert reasons[5]["reason"] == "title: Not a valid string."
    assert reasons[6]["reason"] == "trial_id appears earlier in the same batch"
    assert client.get("/trials/G1").json["title"] == "G1 코호트 연구"
    assert client.get("/trials/G5").json["target_subjects"] == 1200
    assert client.get("/trials/G2").status_code == 404


def test_a_rejected_record_leaves_the_stored_trial_untouched(client, put_batch):
    put_batch([trial("K1")])
    response = put_batch([trial("K1", 전체목표연구대상자수="lots")])
    assert response.json["rejected"][0]["trial_id"] == "K1"
    assert client.get("/trials/K1").json["target_subjects"] == 120


@pytest.mark.parametrize("body, field", [
    ({}, "records"),
    ({"records": []}, "records"),
    ({"records": "C1"}, "records"),
    ({"records": [{"trial_id": "x"}], "snapshot_id": "has space"}, "snapshot_id"),
    ({"records": [{"trial_id": "x"}], "snapshot_id": "pull-1\n"}, "snapshot_id"),
    ({"records": [{"trial_id": "x"}], "snapshot_id": "p" * 101}, "snapshot_id"),
    ({"records": [{"trial_id": "x"}], "colour": "red"}, "colour"),
])
def test_malformed_batch_body_is_422(client, body, field):
    response = client.put("/trials/batch", json=body, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_body_that_is_not_json_is_a_4xx(client):
    response = client.put("/trials/batch", data="records=1", content_type="text/plain",
                          headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert 400 <= response.status_code < 500
    assert response.json["code"] == response.status_code


def test_oversized_batch_is_413(app, client, put_batch):
    app.config["TRIALS_BATCH_MAX"] = 3
    response = put_batch([trial(f"Z{n}") for n in range(4)])
    assert response.status_code == 413
    assert "at most 3" in response.json["message"]
    assert client.get("/trials").json["count"] == 0


@pytest.mark.parametrize("header, status", [
    (None, 401),
    ("Bearer", 401),
    ("Basic dXNlcjpwYXNz", 401),
    ("Bearer wrong-token", 403),
])
def test_writes_need_the_service_token(client, header, status):
    headers = {"Authorization": header} if header else {}
    response = client.put("/trials/batch", json={"records": [trial("T1")]}, headers=headers)
    assert response.status_code == status
    assert response.json["code"] == status
    assert SERVICE_TOKEN not in response.get_data(as_text=True)
    assert client.post("/trials/snapshots/s/complete", headers=headers).status_code == status
    assert client.get("/trials/T1").status_code == 404


def test_writes_are_refused_when_no_token_is_configured(app, client):
    app.config["SERVICE_TOKEN"] = ""
    response = client.put("/trials/batch", json={"records": [trial("T1")]},
                          headers={"Authorization": "Bearer anything"})
    assert response.status_code == 503
    assert "SERVICE_TOKEN" in response.json["message"]


def test_reads_are_open(client, put_batch):
    put_batch([trial("O1")])
    assert client.get("/trials/O1").status_code == 200


def test_null_record_is_reported_not_fatal(client, put_batch):
    response = put_batch([None, trial("N1")])
    assert response.status_code == 200
    assert response.json["created"] == 1
    assert response.json["rejected"] == [{"index": 0, "trial_id": None, "reason": "a record must be a JSON object"}]


def test_text_no_database_can_store_is_rejected_per_record(client):
    """A NUL (PostgreSQL refuses it) or an unpaired surrogate (not UTF-8) once made the whole batch a 500;
    so did a digit int() does not read ("²"). Sent as ASCII-escaped JSON, as any client may."""
    records = [trial("U1", 과제명="천식\x00코호트"), {"trial_id": "U2\x00"}, trial("U3", 진료과="Pedi\ud800atrics"),
               {"과제번호": "U4\udc00"}, trial("U5", 전체목표연구대상자수="²"), trial("U6")]
    response = client.put("/trials/batch", data=json.dumps({"records": records}), content_type="application/json",
                          headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert response.status_code == 200
    assert response.json["created"] == 1
    unstorable = "Contains a NUL character or an unpaired surrogate, which cannot be stored."
    assert response.json["rejected"] == [
        {"index": 0, "trial_id": "U1", "reason": f"title: {unstorable}"},
        {"index": 1, "trial_id": "U2\x00", "reason": f"trial_id: {unstorable}"},
        {"index": 2, "trial_id": "U3", "reason": f"department: {unstorable}"},
        {"index": 3, "trial_id": "U4?", "reason": f"trial_id: {unstorable}"},
        {"index": 4, "trial_id": "U5", "reason": "target_subjects: Not a valid integer."},
    ]
    assert [t["trial_id"] for t in client.get("/trials").json["data"]] == ["U6"]


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/trials/C1")
    assert response.status_code == 405
    assert response.json["code"] == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
