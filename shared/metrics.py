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

import functools
import os
import threading
import time
from types import SimpleNamespace

from flask import Flask, Response, current_app, g, request

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"  # a 404 for a URL no rule matches: one series, whatever the URL was
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# prometheus_client picks its storage (one process, or files for several) when it is first imported,
# so it is imported at the first request, never when a module is: the collector's worker imports
# the app but serves no request, and Dramatiq's Prometheus middleware imports it after setting
# PROMETHEUS_MULTIPROC_DIR to the folder its own metrics server reads.
_metrics_lock = threading.Lock()


@functools.cache
def _build_instruments() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        requests=Counter("http_requests_total", "HTTP requests answered", ["service", "method", "endpoint", "status"]),
        latency=Histogram("http_request_duration_seconds", "Time to answer an HTTP request, in seconds",
                          ["service", "method", "endpoint"], buckets=BUCKETS))


def _instruments() -> SimpleNamespace:
    with _metrics_lock:  # built once, by one thread (a second registration would be refused)
        return _build_instruments()


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


@functools.cache
def _series(service: str, method: str, endpoint: str, status: int) -> tuple:
    """The request counter's and the latency histogram's series for these labels (one lookup each, then kept)."""
    metrics = _instruments()
    return (metrics.requests.labels(service, method, endpoint, str(status)),
            metrics.latency.labels(service, method, endpoint))


def _record(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None:
        return response
    served = request._get_current_object()  # one look-up through the proxy, not three
    rule = served.url_rule
    if rule is not None and rule.rule == METRICS_PATH:
        return response
    counted, timed = _series(current_app.config["SERVICE_NAME"], served.method,
                             UNMATCHED if rule is None else rule.rule, response.status_code)
    counted.inc()
    timed.observe(time.perf_counter() - started)
    return response


def render_metrics() -> Response:
    """Every worker's figures when they share a PROMETHEUS_MULTIPROC_DIR, else this process's."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _instruments()  # the families are listed (with no samples yet) before the first request is counted
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
