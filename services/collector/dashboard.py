"""The dashboard at `/`: a server-rendered page; a little JavaScript refreshes it from the API."""
from __future__ import annotations

from flask import Blueprint, render_template

from services.collector import tasks
from services.collector.access import VIEWER, current_caller, requires
from services.collector.models import db
from services.collector.sources import SOURCES
from services.collector.view_helpers import describe_source

dashboard = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/dashboard-static")


@dashboard.get("/")
@requires(VIEWER)
def index():
    latest = db.session.scalars(tasks.tasks_query().limit(25)).all()
    for task in latest:
        tasks.with_recent_logs(task)
    return render_template("collector/dashboard.html", tasks=latest, summary=tasks.summary(), caller=current_caller(),
                           sources=[describe_source(source) for source in SOURCES.values()])
