"""The Dramatiq worker's entry module: `dramatiq services.collector.worker --processes 1 --threads 10`.

Dramatiq's CLI imports this module and uses the global broker, so this is the one place
that builds the app and its broker at import time (the app-context middleware needs the app).
"""
from __future__ import annotations

import os

import dramatiq
from dramatiq.middleware.prometheus import DB_PATH, Prometheus

# Before prometheus_client is first imported (by the app's shared/metrics.py): this process's figures
# go to the folder Dramatiq's metrics server (port dramatiq_prom_port, default 9191) reads them from.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH

from services.collector import create_app
from services.collector.runtime import runtime

app = create_app()
with app.app_context():
    broker = runtime().broker  # declares the actors and the queues on it
broker.add_middleware(Prometheus())  # messages by queue and actor, errors, retries, durations, in progress
dramatiq.set_broker(broker)
