"""The collector's fixtures, registered for every suite by `pytest_plugins` in tests/conftest.py:
the app on a real Redis namespace of its own and a fresh migrated database, and real Dramatiq
worker threads on its broker. The collector and community suites name it `app` in their conftest."""
from __future__ import annotations

import uuid

import pytest
import redis

from tests.support.auth import SERVICE_TOKEN

# This plugin is registered for every suite, so the collector (a second of imports) is imported
# inside the fixtures: only the suites that use them pay for it.


@pytest.fixture
def namespace(redis_url):
    """This test's own Redis key prefix (queues, leases, cancel flags), removed afterwards."""
    name = f"collector-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def message_broker(request, namespace):
    """The config keys of the broker the app's messages travel on: Redis (none: the default) or, for a
    test marked `@over_every_broker` (tests/support/brokers.py), RabbitMQ at TEST_AMQP_URL, on queues
    named after this test's namespace and deleted (with their delay and dead-letter queues) afterwards."""
    if getattr(request, "param", "redis") == "redis":
        yield {}
        return
    from tests.support.brokers import AMQP_URL, delete_rabbitmq_queues, rabbitmq_queues, with_delay_and_dead_letters

    queues = rabbitmq_queues(namespace)
    yield {"COLLECTOR_BROKER_URL": AMQP_URL, **queues}
    delete_rabbitmq_queues(AMQP_URL, with_delay_and_dead_letters(
        [*queues["COLLECTOR_QUEUES"], queues["COLLECTOR_DUMP_QUEUE"]]))


@pytest.fixture
def collector_config(migrated_database_for, redis_url, namespace, message_broker, tmp_path):
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": migrated_database_for("collector"),
        "REDIS_URL": redis_url,
        "COLLECTOR_NAMESPACE": namespace,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "VAR_DIR": tmp_path,
        "LOG_DIR": tmp_path / "log",
        "ODCLOUD_SERVICE_KEY": "sandbox-key",
        "ODCLOUD_BASE_URL": "http://127.0.0.1:9/api",  # tests that reach odcloud point this at a sandbox
        "TRIALS_URL": "http://127.0.0.1:9",
        "HTTP_RETRIES": 0,
        "COLLECTOR_PACING_TRIALS": 0.0,
        "COLLECTOR_CAP_RETRY_MS": 100,
        **message_broker,
    }


@pytest.fixture
def collector_app(collector_config):
    from services.collector import create_app
    from services.collector.models import db
    from services.collector.runtime import runtime

    app = create_app(collector_config)
    yield app
    with app.app_context():
        runtime().broker.close()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_collector_app(collector_config):
    """`make_collector_app(**overrides)`: more apps on the test's database, each closed after the test
    (an engine left to the garbage collector would leak its PostgreSQL connections into a later test)."""
    from services.collector import create_app
    from services.collector.models import db
    from services.collector.runtime import runtime

    apps = []

    def make(**overrides):
        apps.append(create_app({**collector_config, **overrides}))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            if "broker" in vars(runtime()):  # built (a test may have made one that refuses to build)
                runtime().broker.close()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def worker(collector_app):
    """`worker(threads=3, queues=None)`: real Dramatiq worker threads on the app's broker."""
    from dramatiq import Worker

    from services.collector.runtime import runtime

    started = []

    def start(threads: int = 3, queues: set[str] | None = None) -> Worker:
        with collector_app.app_context():
            broker = runtime().broker
        instance = Worker(broker, worker_threads=threads, worker_timeout=100, queues=queues)
        instance.start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop(timeout=10_000)
