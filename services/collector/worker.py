"""The Dramatiq worker's entry module: `dramatiq services.collector.worker --processes 1 --threads 10`.

Dramatiq's CLI imports this module and uses the global broker, so this is the one place
that builds the app and its broker at import time (the app-context middleware needs the app).
"""
from __future__ import annotations

import dramatiq
from dramatiq.middleware.prometheus import Prometheus

from services.collector import create_app
from services.collector.runtime import runtime

app = create_app()
with app.app_context():
    broker = runtime().broker  # declares the actors and the queues on it
# Messages by queue and actor, errors, retries, durations, in progress, on its own server (dramatiq_prom_host,
# dramatiq_prom_port, default 9191; files in dramatiq_prom_db). prometheus_client must not be imported before.
broker.add_middleware(Prometheus())
dramatiq.set_broker(broker)
