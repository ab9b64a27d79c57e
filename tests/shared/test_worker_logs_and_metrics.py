"""The collector's Dramatiq worker as `make up` runs it: each log line written once (Dramatiq's CLI
handler and ours used to both write it), a message's log lines name the request that enqueued it,
and Dramatiq's Prometheus server shows the messages processed."""
from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.collector.runtime import RUN_TASK
from shared.logs import request_id_scope
from tests.support.processes import collector_worker, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def processed(metrics_url: str, actor: str) -> float:
    try:
        text = requests.get(metrics_url, timeout=2).text
    except requests.RequestException:
        return 0.0
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "dramatiq_messages_total" and sample.labels.get("actor_name") == actor)


def test_worker_lines_once_with_the_request_id_and_its_metrics(collector_app, collector_config, live_process,
                                                               tmp_path):
    from services.collector.runtime import runtime

    metrics_port = free_port()
    env = {"COLLECTOR_DATABASE_URL": collector_config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": collector_config["REDIS_URL"], "COLLECTOR_NAMESPACE": collector_config["COLLECTOR_NAMESPACE"],
           "SERVICE_TOKEN": collector_config["SERVICE_TOKEN"], "VAR_DIR": str(tmp_path),
           "LOG_DIR": str(tmp_path / "worker-log"), "dramatiq_prom_port": metrics_port,
           "dramatiq_prom_host": "127.0.0.1", "dramatiq_prom_db": str(tmp_path / "worker-metrics")}
    worker = live_process(collector_worker(2), env=env, name="worker")
    wait_for(lambda: "ready for action" in worker.output(), timeout=60, what="the worker to start")
    with collector_app.app_context(), request_id_scope("enqueued-by-req-9"):
        runtime().send(RUN_TASK, "no-such-task")
    line = "task no-such-task is None; message dropped"
    wait_for(lambda: line in worker.output(), timeout=60, what="the worker to drop the message")
    metrics_url = f"http://127.0.0.1:{metrics_port}/"
    wait_for(lambda: processed(metrics_url, RUN_TASK) >= 1, timeout=30, what="the worker's metrics")

    output = worker.output()
    assert output.count("Worker process is ready for action.") == 1
    assert output.count(line) == 1
    assert f"[collector enqueued-by-req-9] services.collector.runner: {line}" in output
