"""Settings every gunicorn of `make up` shares; deploy/stack.py adds the address and the app."""
from pathlib import Path

workers = 2
threads = 4
accesslog = "-"
# Secret-looking query parameters and headers are masked before a line is written.
logger_class = "deploy.access_log.RedactingLogger"
# Bounded requests: a longer request line is answered 414 and too many or too large header
# fields 431, by gunicorn itself, before any application code runs (an unbounded line costs
# quadratic CPU to parse). 8190 is gunicorn's default; the APIs' longest documented URLs are
# far shorter.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def on_starting(server):
    """/metrics (shared/metrics.py) in prometheus_client's multiprocess mode: every worker writes its
    figures to var/metrics/gunicorn-<address>/ (emptied at each start), and any worker serves the sum."""
    import os
    import shutil

    from shared.config import REPO_ROOT, Environment

    var = Path(Environment().str("VAR_DIR", str(REPO_ROOT / "var")))
    address = "-".join(server.cfg.bind).replace(":", "-").replace("/", "_")
    directory = var / "metrics" / f"gunicorn-{address}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # read by prometheus_client in each worker


def child_exit(server, worker):
    """A worker that exits: its live gauges leave the sum (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
