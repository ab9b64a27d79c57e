"""The record parser and validator of the grader connector: table-driven edge cases."""
from __future__ import annotations

import ast
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.connectors.grader import (
    RecordRejected,
    course_and_block,
    normalize_record,
    parse_passback,
    parse_records,
    windows,
)

SOURCEDID = "course-v1:SF+DST-3.0+28FEB2021:lms.example.ru-0a1b2c:3f2a9c0e"
URL = "https://lms.example.ru/courses/x/handler_noauth/grade_handler"
FULL = repr({"oauth_consumer_key": "", "lis_result_sourcedid": SOURCEDID, "lis_outcome_service_url": URL})


def raw(**changes) -> dict:
    record = {"lti_user_id": "3f2a9c0e5b7d41a8b6c2e9f0a1d3b4c5", "passback_params": FULL, "is_correct": None,
              "attempt_type": "run", "created_at": "2023-05-31 09:16:11.313646"}
    record.update(changes)
    return record


ACCEPTED = [
    # (case, raw record, expected fields, expected warnings)
    ("run", raw(), {"is_correct": None, "attempt_type": "run", "oauth_consumer_key": "",
                    "lis_result_sourcedid": SOURCEDID, "lis_outcome_service_url": URL}, {}),
    ("submit 1", raw(attempt_type="submit", is_correct=1), {"is_correct": True}, {}),
    ("submit 0", raw(attempt_type="submit", is_correct=0), {"is_correct": False}, {}),
    ("submit true", raw(attempt_type="submit", is_correct=True), {"is_correct": True}, {}),
    ("submit false", raw(attempt_type="submit", is_correct=False), {"is_correct": False}, {}),
    ("no fraction", raw(created_at="2023-05-31 09:16:11"),
     {"created_at": datetime(2023, 5, 31, 9, 16, 11, tzinfo=UTC)}, {}),
    ("ISO with offset", raw(created_at="2023-05-31T12:16:11+03:00"),
     {"created_at": datetime(2023, 5, 31, 9, 16, 11, tzinfo=UTC)}, {}),
    ("microseconds kept", raw(), {"created_at": datetime(2023, 5, 31, 9, 16, 11, 313646, tzinfo=UTC)}, {}),
    ("missing outcome url", raw(passback_params=repr({"oauth_consumer_key": "", "lis_result_sourcedid": SOURCEDID})),
     {"lis_outcome_service_url": None, "lis_result_sourcedid": SOURCEDID},
     {"missing_lis_outcome_service_url": 1}),
    ("empty passback", raw(passback_params="{}"),
     {"oauth_consumer_key": None, "lis_result_sourcedid": None, "lis_outcome_service_url": None},
     {"missing_oauth_consumer_key": 1, "missing_lis_result_sourcedid": 1, "missing_lis_outcome_service_url": 1}),
    ("extra keys dropped", raw(passback_params=FULL[:-1] + ", 'context_id': 'c1', 'x': ''}"),
     {"lis_result_sourcedid": SOURCEDID}, {"extra_passback_keys": 2}),
    ("value with a quote", raw(passback_params=repr({"oauth_consumer_key": "it's", "lis_result_sourcedid": SOURCEDID,
                                                     "lis_outcome_service_url": URL})),
     {"oauth_consumer_key": "it's"}, {}),
    ("escaped quote", raw(passback_params="{'oauth_consumer_key': 'a\\'b', 'lis_result_sourcedid': 's', "
                                          "'lis_outcome_service_url': 'u'}"),
     {"oauth_consumer_key": "a'b", "lis_result_sourcedid": "s"}, {}),
    ("double-quoted literal", raw(passback_params='{"oauth_consumer_key": "k", "lis_result_sourcedid": "s", '
                                                  '"lis_outcome_service_url": "u"}'),
     {"oauth_consumer_key": "k"}, {}),
    ("already a dict", raw(passback_params={"oauth_consumer_key": "", "lis_result_sourcedid": "s",
                                            "lis_outcome_service_url": "u"}),
     {"lis_result_sourcedid": "s"}, {}),
    ("user id trimmed", raw(lti_user_id="  u1 "), {"user_id": "u1"}, {}),
    ("non-ASCII value", raw(passback_params=repr({"oauth_consumer_key": "ключ", "lis_result_sourcedid": "s",
                                                  "lis_outcome_service_url": "u"})),
     {"oauth_consumer_key": "ключ"}, {}),
]

REJECTED = [
    ("not an object", ["a"], "JSON object"),
    ("passback null", raw(passback_params=None), "passback_params is missing"),
    ("passback a number", raw(passback_params=5), "not a dict literal"),
    ("passback truncated", raw(passback_params=FULL[:40]), "not a Python dict literal"),
    ("passback a list", raw(passback_params="['a', 'b']"), "holds a list"),
    ("passback None value", raw(passback_params="{'oauth_consumer_key': None}"), "strings to strings"),
    ("passback int value", raw(passback_params="{'lis_result_sourcedid': 5}"), "strings to strings"),
    ("passback int key", raw(passback_params="{1: 'a'}"), "strings to strings"),
    ("passback a call", raw(passback_params="__import__('os').system('true')"), "not a Python dict literal"),
    ("passback a set", raw(passback_params="{'a'}"), "holds a set"),
    ("passback huge", raw(passback_params="{'a': '" + "x" * 20_000 + "'}"), "longer than"),
    ("user missing", {k: v for k, v in raw().items() if k != "lti_user_id"}, "lti_user_id"),
    ("user empty", raw(lti_user_id=""), "lti_user_id"),
    ("user blank", raw(lti_user_id="   "), "lti_user_id"),
    ("user null", raw(lti_user_id=None), "lti_user_id"),
    ("user a number", raw(lti_user_id=42), "lti_user_id"),
    ("type unknown", raw(attempt_type="test"), "attempt_type"),
    ("type missing", raw(attempt_type=None), "attempt_type"),
    ("type upper case", raw(attempt_type="RUN"), "attempt_type"),
    ("run with result", raw(is_correct=1), "null for a run"),
    ("run with false", raw(is_correct=False), "null for a run"),
    ("submit null", raw(attempt_type="submit", is_correct=None), "0, 1, true or false"),
    ("submit 2", raw(attempt_type="submit", is_correct=2), "0, 1, true or false"),
    ("submit string", raw(attempt_type="submit", is_correct="1"), "0, 1, true or false"),
    ("submit float", raw(attempt_type="submit", is_correct=1.0), "0, 1, true or false"),
    ("created_at missing", raw(created_at=None), "created_at"),
    ("created_at garbage", raw(created_at="31/05/2023 09:16"), "not a timestamp"),
    ("created_at a number", raw(created_at=1685524571), "created_at"),
]


@pytest.mark.parametrize("case, record, expected, expected_warnings", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_records(case, record, expected, expected_warnings):
    warnings = Counter()
    attempt = normalize_record(record, warnings)
    for key, value in expected.items():
        assert attempt[key] == value, key
    assert attempt["created_at"].tzinfo is not None
    assert dict(warnings) == expected_warnings


@pytest.mark.parametrize("case, record, reason", REJECTED, ids=[c[0] for c in REJECTED])
def test_rejected_records(case, record, reason):
    with pytest.raises(RecordRejected, match=reason):
        normalize_record(record)


def test_a_bad_record_never_stops_the_batch():
    seen = []
    result = parse_records([raw(), raw(lti_user_id=""), "junk", raw(attempt_type="submit", is_correct=1)],
                           on_reject=lambda index, reason: seen.append(index))
    assert result.received == 4
    assert [a["attempt_type"] for a in result.attempts] == ["run", "submit"]
    assert [r["index"] for r in result.rejected] == [1, 2] == seen
    assert "lti_user_id" in result.rejected[0]["reason"]


def test_empty_input():
    result = parse_records([])
    assert (result.received, result.attempts, result.rejected) == (0, [], [])


plain_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.dictionaries(plain_text, plain_text, max_size=5))
def test_fast_path_reads_what_literal_eval_reads(params):
    """Whatever repr() writes (quotes, backslashes, unicode), the result is literal_eval's."""
    text = repr(params)
    assert parse_passback(text) == ast.literal_eval(text) == params


@pytest.mark.parametrize("text", ["{'a': 'b',}", "  {'a' :'b' , 'c':'d'}  ", "{}", "{ }", "{'a': 'x', 'a': 'y'}"])
def test_fast_path_agrees_on_spacing_and_duplicates(text):
    assert parse_passback(text) == ast.literal_eval(text)


@pytest.mark.parametrize("sourcedid, course, block", [
    (SOURCEDID, "course-v1:SF+DST-3.0+28FEB2021", "0a1b2c"),
    ("course-v1:SkillFactory+PYDA-2.0+01SEP2022:lms.sf-ru.example-ab12:u", "course-v1:SkillFactory+PYDA-2.0+01SEP2022",
     "ab12"),
    ("something-else", None, None),
    ("", None, None),
    (None, None, None),
    ("course-v1:X", None, None),
])
def test_course_and_block(sourcedid, course, block):
    assert course_and_block(sourcedid) == (course, block)


def test_windows_cover_the_range_without_overlap():
    start = datetime(2024, 3, 1, tzinfo=UTC)
    parts = list(windows(start, start + timedelta(hours=2, minutes=30)))
    assert [(a.hour, a.minute, b.hour, b.minute) for a, b in parts] == [(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 2, 30)]
    assert list(windows(start, start)) == []
    with pytest.raises(ValueError):
        list(windows(start, start + timedelta(hours=1), timedelta(0)))
