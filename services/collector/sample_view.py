"""The dashboard's sample view of one task: `/tasks/<task_id>/sample`, a server-rendered
page showing a fresh random sample of the items collected so far (it reloads itself
every few seconds while the task runs)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from services.collector import items, tasks
from services.collector.access import OPERATOR, requires

sample_view = Blueprint("sample_view", __name__, template_folder="templates")


@sample_view.get("/tasks/<string:task_id>/sample")
@requires(OPERATOR)
def task_sample(task_id: str):
    task = tasks.get_task(task_id)
    if task is None:
        abort(404)
    size = request.args.get("size", default=20, type=int)
    size = min(max(size or 20, 1), 100)
    return render_template("collector/task_sample.html", task=task, size=size, count=items.count_items(task.id),
                           sample=items.sample(task.id, size))
