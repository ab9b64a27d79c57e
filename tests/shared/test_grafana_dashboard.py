"""deploy/grafana/flask-services.json charts only series that exist: the services' /metrics and
the names Dramatiq's Prometheus middleware registers."""
from __future__ import annotations

import inspect
import json
import re

from dramatiq.middleware import prometheus

from shared.config import REPO_ROOT
from tests.shared.service_apps import service_app, service_config

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "flask-services.json"
SERIES = re.compile(r"\b((?:http|dramatiq)_[a-z_]+)")


def test_every_charted_series_is_exported(migrated_database_for, tmp_path, redis_url):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    charted = {name for expr in exprs for name in SERIES.findall(expr)}
    assert any(name.startswith("http_") for name in charted) and any(name.startswith("dramatiq_") for name in charted)

    with service_app("trials", service_config("trials", migrated_database_for("trials"), tmp_path, redis_url)) as app:
        client = app.test_client()
        client.get("/health/live")
        page = client.get("/metrics").get_data(as_text=True)
    exported = set(re.findall(r"^(http_[a-z_]+)", page, re.MULTILINE))
    exported |= {f"{name}_bucket" for name in re.findall(r'"(dramatiq_[a-z_]+)"', inspect.getsource(prometheus))}
    exported |= set(re.findall(r'"(dramatiq_[a-z_]+)"', inspect.getsource(prometheus)))
    assert charted <= exported, charted - exported
