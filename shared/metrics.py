"""/metrics on every service, in Prometheus' text format: requests answered and their latency, by
service, method, endpoint (the URL rule, e.g. `/trials/<trial_id>`, so ids do not multiply the
series) and status.

Under gunicorn each worker process counts its own requests; with `PROMETHEUS_MULTIPROC_DIR` set
before prometheus_client is first imported (deploy/gunicorn.conf.py does, one folder per service
under var/metrics/), every worker writes its figures there and /metrics adds them up, so any
worker answers for all. Without it (the Flask dev server, tests) the figures are the process's own.
/metrics is operational: a plain route outside the OpenAPI document, without a token; bind the
services to an address only the monitoring can reach (BIND_HOST, loopback by default).
"""
from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"  # a 404 for a URL no rule matches: one series, whatever the URL was

REQUESTS = Counter("http_requests_total", "HTTP requests answered",
                   ["service", "method", "endpoint", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request, in seconds",
                    ["service", "method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None or request.path == METRICS_PATH:
        return response
    service = current_app.config["SERVICE_NAME"]
    endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    REQUESTS.labels(service, request.method, endpoint, str(response.status_code)).inc()
    LATENCY.labels(service, request.method, endpoint).observe(time.perf_counter() - started)
    return response


def render_metrics() -> Response:
    """Every worker's figures when they share a PROMETHEUS_MULTIPROC_DIR, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # prometheus_client's own switch, read by it at import
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """Count and time every request of `app`, and serve the figures at /metrics."""
    app.before_request(_start_timer)
    app.after_request(_record)
    app.add_url_rule(METRICS_PATH, "metrics", render_metrics)
