"""Daily statistics over the stored attempts, computed in SQL (a day can hold millions of rows).

Definitions: `attempts` = runs + submits; `correct_submits` = submits with is_correct true;
`success_rate` = correct_submits / submits (0 when there is no submit); `unique_users` =
distinct user_id; `unique_tasks` = distinct (course_id, block_id) pairs among attempts whose
lis_result_sourcedid names a course block; `busiest_hour` = the UTC hour (0-23) with the most
attempts, the earliest on a tie, null on a day without attempts.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, distinct, func, literal_column, select

from services.grader.models import Attempt, db
from shared.connectors.grader import day_bounds

FIGURES = ("attempts", "runs", "submits", "correct_submits", "success_rate", "unique_users", "unique_tasks")


def _figures_columns():
    is_submit = Attempt.attempt_type == "submit"
    # A task is a (course, block) pair; concatenated so one COUNT(DISTINCT) works on both backends.
    task = case((Attempt.block_id.is_not(None), func.coalesce(Attempt.course_id, "") + "|" + Attempt.block_id))
    return (
        func.count().label("attempts"),
        func.coalesce(func.sum(case((Attempt.attempt_type == "run", 1), else_=0)), 0).label("runs"),
        func.coalesce(func.sum(case((is_submit, 1), else_=0)), 0).label("submits"),
        func.coalesce(func.sum(case((is_submit & (Attempt.is_correct.is_(True)), 1), else_=0)), 0)
        .label("correct_submits"),
        func.count(distinct(Attempt.user_id)).label("unique_users"),
        func.count(distinct(task)).label("unique_tasks"),
    )


def _figures(row) -> dict:
    submits, correct = int(row.submits), int(row.correct_submits)
    return {"attempts": int(row.attempts), "runs": int(row.runs), "submits": submits, "correct_submits": correct,
            "success_rate": round(correct / submits, 4) if submits else 0.0,
            "unique_users": int(row.unique_users), "unique_tasks": int(row.unique_tasks)}


def _hour_expression(dialect: str):
    if dialect == "postgresql":
        return func.extract("hour", func.timezone("UTC", Attempt.created_at))
    return func.cast(func.strftime("%H", Attempt.created_at), db.Integer)  # SQLite stores UTC text


def daily_stats(day: date) -> dict:
    """The figures of one UTC day; a day without attempts gives zeros."""
    start, end = day_bounds(day)
    in_day = (Attempt.created_at >= start) & (Attempt.created_at < end)
    session = db.session
    totals = session.execute(select(*_figures_columns()).where(in_day)).one()
    courses = session.execute(
        select(Attempt.course_id, *_figures_columns()).where(in_day)
        .group_by(Attempt.course_id).order_by(literal_column("attempts").desc(), Attempt.course_id)
    ).all()
    hour = _hour_expression(session.connection().dialect.name).label("hour")
    busiest = session.execute(
        select(hour, func.count().label("n")).where(in_day).group_by(hour)
        .order_by(literal_column("n").desc(), hour).limit(1)
    ).first()
    return {"date": day.isoformat(), **_figures(totals),
            "by_course": [{"course_id": row.course_id, **_figures(row)} for row in courses],
            "busiest_hour": int(busiest.hour) if busiest else None}


def stats_between(start: date, end: date) -> list[dict]:
    """One row per day from start to end, both included."""
    rows, day = [], start
    while day <= end:
        rows.append(daily_stats(day))
        day += timedelta(days=1)
    return rows
