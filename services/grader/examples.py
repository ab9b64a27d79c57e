"""Worked examples for the grader OpenAPI document, in the code grader's own format
(docs/upstreams.md section 2): one learner, two courses, the figures of two days."""
from __future__ import annotations

USER = "3f2a9c0e5b7d41a8b6c2e9f0a1d3b4c5"
COURSE = "course-v1:SF+DST-3.0+28FEB2021"
SOURCEDID = f"{COURSE}:lms.example.ru-0a1b2c:3f2a9c0e"
OUTCOME_URL = (f"https://lms.example.ru/courses/{COURSE}/xblock/block-v1:SF+DST-3.0+28FEB2021+type@lti+block@0a1b2c"
               "/handler_noauth/grade_handler")

BATCH_RECORDS_EXAMPLE = [
    {"user_id": USER, "oauth_consumer_key": "", "lis_result_sourcedid": SOURCEDID,
     "lis_outcome_service_url": OUTCOME_URL, "is_correct": None, "attempt_type": "run",
     "created_at": "2023-05-31T09:16:11.313646+00:00"},
    {"lti_user_id": USER, "passback_params": f"{{'oauth_consumer_key': '', 'lis_result_sourcedid': "
                                             f"'{SOURCEDID}', 'lis_outcome_service_url': '{OUTCOME_URL}'}}",
     "is_correct": 1, "attempt_type": "submit", "created_at": "2023-05-31 09:17:02.004211"},
]

BATCH_RESULT_EXAMPLE = {
    "received": 1000, "inserted": 996, "duplicates": 2,
    "rejected": [{"index": 17, "reason": "is_correct of a submit must be 0, 1, true or false, got 2"},
                 {"index": 503, "reason": "created_at 'yesterday' is not a timestamp"}],
}


def _day(day: str, busiest_hour: int, unique_users: int, *courses: tuple) -> dict:
    """A worked DailyStats example: the day's totals are the sums over its courses
    (`courses`: course_id, attempts, runs, submits, correct_submits, unique_users, unique_tasks)."""

    def figures(attempts, runs, submits, correct, users, tasks) -> dict:
        return {"attempts": attempts, "runs": runs, "submits": submits, "correct_submits": correct,
                "success_rate": round(correct / submits, 4), "unique_users": users, "unique_tasks": tasks}

    totals = [sum(column) for column in zip(*(course[1:] for course in courses), strict=True)]
    totals[4] = unique_users  # fewer than the courses' sum: some learners take both courses
    return {"date": day, **figures(*totals),
            "by_course": [{"course_id": course[0], **figures(*course[1:])} for course in courses],
            "busiest_hour": busiest_hour}


DAY_EXAMPLE = _day("2023-05-31", 9, 412, (COURSE, 1210, 853, 357, 251, 268, 38),
                   ("course-v1:SF+SQL-1.0+15JAN2023", 624, 443, 181, 120, 151, 19))
RANGE_EXAMPLE = {"count": 2, "data": [
    _day("2023-05-30", 10, 349, (COURSE, 1003, 705, 298, 210, 231, 35),
         ("course-v1:SF+SQL-1.0+15JAN2023", 508, 365, 143, 92, 127, 17)),
    DAY_EXAMPLE,
]}

REPORT_EXAMPLE = {"id": 42, "date": "2023-05-31", "created_at": "2023-06-01T06:00:04+00:00", "stats": DAY_EXAMPLE,
                  "sheets_status": "published", "sheets_detail": "appended a row to 'Daily'",
                  "email_status": "skipped", "email_detail": "e-mail is not configured"}

WATERMARK_EXAMPLE = {"name": "grader-statistics", "position": "2023-06-01T00:00:00+00:00",
                     "updated_at": "2023-06-01T00:07:41.532118+00:00"}
WATERMARK_EXAMPLES = {"stored": {"summary": "after a pull", "value": WATERMARK_EXAMPLE},
                      "none yet": {"summary": "no pull has stored it yet", "value": {
                          "name": "grader-statistics", "position": None, "updated_at": None}}}

# Error messages as the views word them.
BATCH_TOO_LARGE = "A batch holds at most 50000 records; this one has 60000."
RANGE_TOO_LONG = "A range holds at most 366 days; this one has 400."
REPORT_IN_PROGRESS = "A report for 2024-03-01 is being published right now; try again when it is done."
