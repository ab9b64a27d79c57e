"""The console: server-rendered pages (Pico CSS) kept live by htmx fragments, behind the collector's login.

`/` tasks (filters, paging, moving progress bars, cancel) and the start forms; `/tasks/<id>` one task
(params, progress, stats, the log followed live, summary, sample, exports, audit trail, re-run);
`/start/<source>` one start form; `/workers` workers, queues and the cap; `/schedules` the sources'
schedules (pause, resume, run now). The `/console/...` routes are the fragments htmx polls.
Starts and cancels go through the same `tasks` functions as the API (so the same checks apply).
"""
from __future__ import annotations

import json
from datetime import date

import marshmallow as ma
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from services.collector import api_keys, console_forms, console_state, items, tasks
from services.collector.access import OPERATOR, VIEWER, current_caller, requires
from services.collector.errors import EnqueueFailed, IdempotencyConflict, SealingUnavailable, TaskFinished
from services.collector.models import ACTIVE, PENDING, STATUSES, TaskLog, db
from services.collector.sources import SOURCES
from services.collector.view_helpers import describe_source
from shared.pagination import counted, pagination_metadata
from shared.timeutil import utcnow

dashboard = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/dashboard-static")

PER_PAGE = 20
LIVE = (PENDING, *ACTIVE)


@dashboard.app_context_processor
def console_globals():
    caller = current_caller()
    return {"caller": caller, "can_operate": bool(caller and api_keys.allows(caller.role, OPERATOR)),
            "live_statuses": LIVE, "display_value": console_forms.display_value, "now": utcnow,
            "rules_example": json.dumps(console_forms.RULES_EXAMPLE, ensure_ascii=False)}


def _hx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> dict:
    statuses = [s for s in request.args.getlist("status") if s in STATUSES]
    source = request.args.get("source") if request.args.get("source") in SOURCES else None
    queue = request.args.get("queue") if request.args.get("queue") in current_app.config["COLLECTOR_QUEUES"] else None
    return {"status": statuses, "source": source, "queue": queue, "from": _day("from"), "to": _day("to")}


def _task_page():
    filters = _filters()
    page = max(request.args.get("page", default=1, type=int) or 1, 1)
    stmt = console_state.filtered_tasks(filters["status"], filters["source"], filters["queue"], filters["from"],
                                        filters["to"])
    count = db.session.scalar(counted(stmt))
    meta = pagination_metadata(page, PER_PAGE, count)
    page = min(page, meta["last_page"])
    listed = db.session.scalars(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    return {"tasks": listed, "filters": filters, "meta": {**meta, "page": page}, "query": query,
            "queues": current_app.config["COLLECTOR_QUEUES"], "statuses": STATUSES, "source_names": list(SOURCES)}


def _forms(values_by_source: dict | None = None) -> list[dict]:
    queues = current_app.config["COLLECTOR_QUEUES"]
    return [{"source": describe_source(source), "fields": console_forms.form_fields(source, queues),
             "filled": (values_by_source or {}).get(name, {}), "errors": {}, "general": []}
            for name, source in SOURCES.items()]


@dashboard.get("/")
@requires(VIEWER)
def index():
    return render_template("collector/tasks.html", summary=tasks.summary(), forms=_forms(), **_task_page())


@dashboard.get("/console/tasks")
@requires(VIEWER)
def tasks_fragment():
    return render_template("collector/_tasks_table.html", summary=tasks.summary(), **_task_page())


# --- starting -------------------------------------------------------------------------------------

def _source_or_404(name: str):
    if name not in SOURCES:
        abort(404)
    return SOURCES[name]


@dashboard.get("/start/<string:source_name>")
@requires(VIEWER)
def start_page(source_name: str):
    source = _source_or_404(source_name)
    form = _forms()[list(SOURCES).index(source_name)]
    rerun_of = tasks.get_task(request.args.get("from", "")) if request.args.get("from") else None
    if rerun_of is not None and rerun_of.source == source.name:
        form["filled"] = {**console_forms.prefill(rerun_of.params, form["fields"]), "queue": rerun_of.queue}
    return render_template("collector/start.html", form=form, rerun_of=rerun_of, sources=list(SOURCES))


def _posted_values(fields) -> dict:
    values = {}
    for entry in console_forms._flat(fields):
        if entry.widget == "multiselect":
            values[entry.name] = request.form.getlist(entry.name)
        elif entry.widget == "checkbox":
            values[entry.name] = entry.name in request.form
        elif entry.name in request.form:
            values[entry.name] = request.form[entry.name]
    return values


@dashboard.post("/start/<string:source_name>")
@requires(OPERATOR)
def start(source_name: str):
    """Start a task from a posted form: the body it stands for goes through tasks.start_task, like the
    API's; a 422 re-renders the form with each message next to its field."""
    source = _source_or_404(source_name)
    form = _forms()[list(SOURCES).index(source_name)]
    body, errors = console_forms.read_body(form["fields"], request.form)
    status = 422
    if errors:  # text that is not JSON: still show what the schema says of the rest
        try:
            tasks.start_schema(source.name)().load(body)
        except ma.ValidationError as exc:
            more, form["general"] = console_forms.field_errors(exc.messages, form["fields"])
            errors = {**more, **errors}
    else:
        try:
            task, _created = tasks.start_task(source.name, body, by=current_caller())
        except ma.ValidationError as exc:
            errors, form["general"] = console_forms.field_errors(exc.messages, form["fields"])
        except IdempotencyConflict as exc:
            form["general"], status = [str(exc)], 409
        except (SealingUnavailable, EnqueueFailed) as exc:
            form["general"], status = [str(exc)], 503
        else:
            target = url_for("dashboard.task_page", task_id=task.id)
            if _hx():
                return "", 204, {"HX-Redirect": target}
            return redirect(target, 303)
    form["errors"], form["filled"] = errors, _posted_values(form["fields"])
    template = "collector/_start_form.html" if _hx() else "collector/start.html"
    return render_template(template, form=form, rerun_of=None, sources=list(SOURCES)), status


@dashboard.post("/console/rules-check")
@requires(VIEWER)
def rules_check():
    ok, message = console_forms.check_rules(request.form.get("rules", ""))
    return render_template("collector/_rules_check.html", ok=ok, message=message)


# --- one task -------------------------------------------------------------------------------------

def _task_or_404(task_id: str):
    task = tasks.get_task(task_id)
    if task is None:
        abort(404)
    return task


def _log_page(task_id: str, after: int):
    rows = db.session.scalars(tasks.logs_query(task_id).where(TaskLog.id > after).limit(500)).all()
    return rows, (rows[-1].id if rows else after)


@dashboard.get("/tasks/<string:task_id>")
@requires(VIEWER)
def task_page(task_id: str):
    task = _task_or_404(task_id)
    lines, last = _log_page(task.id, 0)
    return render_template("collector/task.html", task=task, lines=lines, last=last, rerun=console_state.rerun_body(
        task) is not None, sample=_sample(task), count=items.count_items(task.id))


def _sample(task):
    current = current_caller()
    return items.sample(task.id, 10) if current and api_keys.allows(current.role, OPERATOR) else None


@dashboard.get("/console/tasks/<string:task_id>/panel")
@requires(VIEWER)
def task_panel(task_id: str):
    task = _task_or_404(task_id)
    return render_template("collector/_task_panel.html", task=task, rerun=console_state.rerun_body(task) is not None)


@dashboard.get("/console/tasks/<string:task_id>/log")
@requires(VIEWER)
def task_log(task_id: str):
    task = _task_or_404(task_id)
    lines, last = _log_page(task.id, request.args.get("after", default=0, type=int))
    return render_template("collector/_log_lines.html", task=task, lines=lines, last=last)


@dashboard.get("/console/tasks/<string:task_id>/sample")
@requires(OPERATOR)
def task_sample_fragment(task_id: str):
    task = _task_or_404(task_id)
    return render_template("collector/_sample.html", task=task, sample=_sample(task), count=items.count_items(task.id))


@dashboard.post("/tasks/<string:task_id>/cancel")
@requires(OPERATOR)
def cancel(task_id: str):
    task = _task_or_404(task_id)
    message = None
    try:
        task, message = tasks.cancel_task(task.id, by=current_caller())
    except TaskFinished as exc:
        message = str(exc)
    if request.args.get("view") == "row":
        return render_template("collector/_task_row.html", task=task)
    if _hx():
        return render_template("collector/_task_panel.html", task=task, notice=message,
                               rerun=console_state.rerun_body(task) is not None)
    return redirect(url_for("dashboard.task_page", task_id=task.id), 303)


@dashboard.post("/tasks/<string:task_id>/rerun")
@requires(OPERATOR)
def rerun(task_id: str):
    """Start the task again with the same params; when a secret cannot be put back, open its form prefilled."""
    task = _task_or_404(task_id)
    body = console_state.rerun_body(task)
    if body is None:
        target = url_for("dashboard.start_page", source_name=task.source, **{"from": task.id})
    else:
        try:
            again, _created = tasks.start_task(task.source, body, by=current_caller())
            target = url_for("dashboard.task_page", task_id=again.id)
        except (ma.ValidationError, EnqueueFailed, SealingUnavailable):
            target = url_for("dashboard.start_page", source_name=task.source, **{"from": task.id})
    if _hx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)


# --- workers, queues, the cap; schedules ------------------------------------------------------------

def _system():
    limit, held = console_state.slots()
    dump_limit, dumps = console_state.slots(dumps=True)
    return {"broker_workers": console_state.broker_workers(), "processes": console_state.worker_processes(),
            "queues": console_state.queues(), "limit": limit, "held": held, "dump_limit": dump_limit,
            "dumps": dumps}


@dashboard.get("/workers")
@requires(VIEWER)
def workers_page():
    return render_template("collector/workers.html", **_system())


@dashboard.get("/console/workers")
@requires(VIEWER)
def workers_fragment():
    return render_template("collector/_workers.html", **_system())


@dashboard.get("/schedules")
@requires(VIEWER)
def schedules_page():
    return render_template("collector/schedules.html", schedules=console_state.schedules())


@dashboard.get("/console/schedules")
@requires(VIEWER)
def schedules_fragment():
    return render_template("collector/_schedules.html", schedules=console_state.schedules())


def _scheduled_or_404(source_name: str):
    source = _source_or_404(source_name)
    if source.schedule is None:
        abort(404)
    return source


@dashboard.post("/schedules/<string:source_name>/<any(pause, resume):action>")
@requires(OPERATOR)
def pause_or_resume(source_name: str, action: str):
    _scheduled_or_404(source_name)
    console_state.set_paused(source_name, action == "pause", current_caller())
    if _hx():
        return render_template("collector/_schedules.html", schedules=console_state.schedules())
    return redirect(url_for("dashboard.schedules_page"), 303)


@dashboard.post("/schedules/<string:source_name>/run")
@requires(OPERATOR)
def run_now(source_name: str):
    _scheduled_or_404(source_name)
    task = console_state.run_now(source_name, current_caller())
    target = url_for("dashboard.task_page", task_id=task.id)
    if _hx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)
