"""Stand-in for the odcloud gateway serving clinical-trials dataset 3074271.

Reproduces (docs/upstreams.md section 1): the real path; `page`/`perPage` (defaults 1/10 when
missing, not a decimal 32-bit integer, or under 1); `returnType` JSON or XML; the key as
`serviceKey` query parameter or `Authorization: Infuser <key>`; the counters (`totalCount`,
`matchCount`, `currentCount`); `data: []` past the end; the error bodies
`{"code": -401|-4|-3|-10, "msg": ...}`; plain-text 404 outside `/api`.

Control (`/_sandbox/odcloud/...`): `revise` changes, drops and adds records (deterministic
per seed) so that a second pull sees updates and withdrawals; `reset`; `mode` switches
on the unknown-key-as-401 and quota-exceeded behaviours.
"""
from __future__ import annotations

import json
import random
import threading
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, jsonify, request

from deploy.sandbox.query import int_arg
from shared.connectors.odcloud import DATASET_PATH

blp = Blueprint("odcloud", __name__)

KEYS = ("과제명", "과제번호", "연구기간", "연구범위", "연구종류", "연구책임기관", "임상시험단계(연구모형)",
        "전체목표연구대상자수", "진료과")
DEPARTMENTS = ("Pediatrics", "Rheumatology", "Hematology", "Oncology", "Cardiology", "Neurology", "Psychiatry",
               "Gastroenterology", "Endocrinology", "Nephrology", "Pulmonology", "Dermatology", "Ophthalmology",
               "Orthopedics", "Urology", "Obstetrics and Gynecology", "Infectious Diseases", "Radiology")
INSTITUTIONS = ("서울아산병원", "가톨릭대 서울성모병원", "삼성서울병원", "서울대학교병원", "세브란스병원",
                "분당서울대학교병원", "고려대학교 안암병원", "경희대학교병원", "부산대학교병원", "전남대학교병원",
                "충남대학교병원", "국립암센터", "아주대학교병원", "한양대학교병원")
PHASES = ("코호트", "Case-only", "환자-대조군", "단면연구", "1상", "2상", "3상", "4상", "기타", "")
STUDY_TYPES = ("관찰연구", "관찰연구", "관찰연구", "중재연구", "기타")
SCOPES = ("국내다기관", "단일기관")
PERIODS = ("1년", "2년", "3년", "5년", "6년", "6개월", "18개월", "")
CONDITIONS = ("쇼그렌 증후군", "조직구증식증", "악성림프종", "소아 천식", "류마티스 관절염", "만성 신장병", "위암",
              "제2형 당뇨병", "파킨슨병", "심부전", "아토피 피부염", "갑상선암", "다발성 경화증", "폐섬유증")
TEMPLATES = ("{c} 코호트 구축", "{c} 임상연구 네트워크 구축 및 운영", "{c} 환자의 예후 예측 지표 분석",
             "{c}의 임상양상과 치료 성적 조사, retrospective study", "{c} 레지스트리 기반 다기관 연구",
             "Prospective registry of {c}")

PAGE_NUMBERS = range(1, 2**31)  # page and perPage: positive 32-bit integers

MESSAGES = {
    -401: "인증키는 필수 항목 입니다.",
    -4: "등록되지 않은 인증키 입니다.",
    -3: "등록되지 않은 서비스 입니다.",
    -10: "트래픽 허용 횟수를 초과하였습니다.",
}


def make_trial(number: int, rng: random.Random) -> dict:
    subjects = rng.choice(("", "0", str(rng.randint(10, 3000)), str(rng.randint(10, 500))))
    return {
        "과제명": rng.choice(TEMPLATES).format(c=rng.choice(CONDITIONS)),
        "과제번호": f"C{100000 + number:06d}",
        "연구기간": rng.choice(PERIODS),
        "연구범위": rng.choice(SCOPES),
        "연구종류": rng.choice(STUDY_TYPES),
        "연구책임기관": rng.choice(INSTITUTIONS),
        "임상시험단계(연구모형)": rng.choice(PHASES),
        "전체목표연구대상자수": subjects,
        "진료과": rng.choice(DEPARTMENTS),
    }


def generate_trials(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [make_trial(n, rng) for n in range(count)]


class OdcloudState:
    """The records the stand-in serves; one per sandbox process."""

    def __init__(self, count: int, seed: int):
        self.lock = threading.Lock()
        self.count, self.seed = count, seed
        self.reset()

    def reset(self) -> None:
        self.records = generate_trials(self.count, self.seed)
        self.next_number = self.count
        self.revision = 0
        self.unknown_key_status = 400
        self.quota_exceeded = False

    def revise(self, change: int, drop: int, add: int) -> dict:
        """Change `change` records' content, drop `drop` records and add `add` new ones."""
        with self.lock:
            self.revision += 1
            rng = random.Random(self.seed * 1000 + self.revision)
            changed = rng.sample(range(len(self.records)), min(change, len(self.records)))
            for index in changed:
                record = dict(self.records[index])
                record["전체목표연구대상자수"] = str(rng.randint(3001, 9000))
                record["연구기간"] = rng.choice([p for p in PERIODS if p != record["연구기간"]])
                self.records[index] = record
            changed_ids = [self.records[i]["과제번호"] for i in changed]
            survivors = [r for r in self.records if r["과제번호"] not in changed_ids]
            dropped = [r["과제번호"] for r in rng.sample(survivors, min(drop, len(survivors)))]
            self.records = [r for r in self.records if r["과제번호"] not in dropped]
            added = []
            for _ in range(add):
                record = make_trial(self.next_number, rng)
                self.next_number += 1
                self.records.append(record)
                added.append(record["과제번호"])
            return {"revision": self.revision, "changed": changed_ids, "dropped": dropped, "added": added}


def state() -> OdcloudState:
    app = current_app._get_current_object()
    if "odcloud_state" not in app.extensions:
        app.extensions["odcloud_state"] = OdcloudState(app.config["ODCLOUD_TRIALS"], app.config["ODCLOUD_SEED"])
    return app.extensions["odcloud_state"]


def _error(code: int, status: int):
    return jsonify({"code": code, "msg": MESSAGES[code]}), status


def _key() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Infuser" and value:
        return value.strip()
    return request.args.get("serviceKey") or None


@blp.route("/api/<path:operation>")
def gateway(operation):
    # Key extraction runs before routing on the real gateway, so a bad path without a key is a 401.
    key = _key()
    if key is None:
        return _error(-401, 401)
    current = state()
    if key not in current_app.config["ODCLOUD_KEYS"]:
        return _error(-4, 400) if current.unknown_key_status == 400 else _error(-401, 401)
    if "/" + operation != DATASET_PATH:
        return _error(-3, 400)
    if current.quota_exceeded:
        return _error(-10, 400)
    # The gateway parses both as 32-bit integers, a failure being the default (docs/upstreams.md
    # section 1); what it answers for 0 or a negative number is not known, so they are defaults too.
    page, per_page = int_arg("page", 1, PAGE_NUMBERS), int_arg("perPage", 10, PAGE_NUMBERS)
    with current.lock:
        rows = current.records[(page - 1) * per_page: page * per_page]
        total = len(current.records)
    body = {"page": page, "perPage": per_page, "totalCount": total, "currentCount": len(rows),
            "matchCount": total, "data": rows}
    if request.args.get("returnType", "JSON").upper() == "XML":
        return Response(_xml(body), mimetype="application/xml")
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


def _xml(body: dict) -> str:
    counters = "".join(f"<{k}>{body[k]}</{k}>" for k in ("page", "perPage", "totalCount", "currentCount", "matchCount"))
    items = "".join(
        "<item>" + "".join(f"<col name=\"{escape(k)}\">{escape(v or '')}</col>" for k, v in row.items()) + "</item>"
        for row in body["data"])
    return f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><results>{counters}<data>{items}</data></results>"


@blp.route("/<path:anything>")
def outside_api(anything):
    return Response("not found service", status=404, mimetype="text/plain")


@blp.post("/_sandbox/odcloud/revise")
def revise():
    body = request.get_json(silent=True) or {}
    return jsonify(state().revise(int(body.get("change", 5)), int(body.get("drop", 3)), int(body.get("add", 2))))


@blp.post("/_sandbox/odcloud/reset")
def reset():
    current = state()
    with current.lock:
        current.reset()
    return jsonify({"revision": 0, "records": len(current.records)})


@blp.post("/_sandbox/odcloud/mode")
def mode():
    body = request.get_json(silent=True) or {}
    current = state()
    if "unknown_key_status" in body:
        current.unknown_key_status = 401 if int(body["unknown_key_status"]) == 401 else 400
    if "quota_exceeded" in body:
        current.quota_exceeded = bool(body["quota_exceeded"])
    return jsonify({"unknown_key_status": current.unknown_key_status, "quota_exceeded": current.quota_exceeded})
