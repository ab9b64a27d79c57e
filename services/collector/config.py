"""The collector's settings: every key it reads from the environment, read here once."""
from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from services.collector.outbound import DEFAULT_ALLOW, OutboundPolicy
from shared.config import BaseConfig, ConfigError

# The sources (sources/__init__.py) whose pacing COLLECTOR_PACING_<NAME> may override.
PACED_SOURCES = ("trials", "grader", "babitalk", "gangnamunni", "naver", "label_table")
DEFAULT_LABEL_TABLE_CHUNK_ROWS = 5000
DEFAULT_LABEL_TABLE_PROCESS_ROWS = 100_000
DEFAULT_LABEL_TABLE_PROCESSES = 2
# COLLECTOR_BROKER_URL's schemes: Redis or RabbitMQ (broker.py builds the one it names).
BROKER_SCHEMES = ("redis", "rediss", "unix", "amqp", "amqps")


class Config(BaseConfig):
    SERVICE_NAME = "collector"
    API_TITLE = "Collector"
    API_VERSION = "1.0"
    OPENAPI_SPEC_OPTIONS = {  # noqa: RUF012 (read once by flask-smorest)
        "info": {"description": "Background collection tasks (Dramatiq on Redis): start, watch, cancel, logs. "
                                "The `/api/v1/async-collection` routes keep the job API existing scripts call."},
    }

    def __init__(self, environ: dict | None = None):
        super().__init__(environ)
        env = self.env
        # Other services, reached over HTTP with SERVICE_TOKEN.
        self.TRIALS_URL = env.str("TRIALS_URL", "http://127.0.0.1:5101")
        self.GRADER_URL = env.str("GRADER_URL", "http://127.0.0.1:5102")
        # odcloud, for the trials source (the sandbox by default).
        self.ODCLOUD_BASE_URL = env.str("ODCLOUD_BASE_URL", "http://127.0.0.1:5199/api")
        self.ODCLOUD_SERVICE_KEY = env.str("ODCLOUD_SERVICE_KEY", "")
        self.ODCLOUD_PER_PAGE = env.int("ODCLOUD_PER_PAGE", 100)
        # Dramatiq: Redis key namespace (lets several stacks or tests share one Redis) and queues.
        self.COLLECTOR_NAMESPACE = env.str("COLLECTOR_NAMESPACE", "collector")
        self.COLLECTOR_QUEUES = env.list("COLLECTOR_QUEUES", ["default", "bulk"])  # the first is the default
        # What carries the messages: empty for the Redis at REDIS_URL, another redis:// URL, or an amqp(s)://
        # URL for RabbitMQ (its vhost is the stack's own: COLLECTOR_NAMESPACE names only Redis keys). The cancel
        # flags, the cap's leases, pacing, heartbeats and the schedule store stay on REDIS_URL whichever it is.
        self.COLLECTOR_BROKER_URL = env.str("COLLECTOR_BROKER_URL", "")
        if self.COLLECTOR_BROKER_URL and urlsplit(self.COLLECTOR_BROKER_URL).scheme not in BROKER_SCHEMES:
            # The value is not echoed: it may hold a password.
            raise ConfigError("COLLECTOR_BROKER_URL must be empty, a redis:// or an amqp:// URL")
        # At most this many tasks run at once across every worker process (a Redis lease set).
        self.COLLECTOR_MAX_RUNNING = env.int("COLLECTOR_MAX_RUNNING", 10)
        # A task over the cap is re-queued after this many milliseconds (stays pending).
        self.COLLECTOR_CAP_RETRY_MS = env.int("COLLECTOR_CAP_RETRY_MS", 500)
        # A running task writes a heartbeat this often; without one for HEARTBEAT_TIMEOUT its worker is lost.
        self.COLLECTOR_HEARTBEAT_SECONDS = env.float("COLLECTOR_HEARTBEAT_SECONDS", 5.0)
        self.COLLECTOR_HEARTBEAT_TIMEOUT = env.float("COLLECTOR_HEARTBEAT_TIMEOUT", 30.0)
        # A task whose worker was lost is re-run until it has had this many attempts, then failed.
        self.COLLECTOR_MAX_ATTEMPTS = env.int("COLLECTOR_MAX_ATTEMPTS", 2)
        self.COLLECTOR_REAP_SECONDS = env.float("COLLECTOR_REAP_SECONDS", 15.0)
        # Dumps run on a queue of their own and take slots of the cap above, at most this many at once,
        # so collection always keeps the rest.
        self.COLLECTOR_DUMP_QUEUE = env.str("COLLECTOR_DUMP_QUEUE", "dumps")
        self.COLLECTOR_MAX_DUMPS = env.int("COLLECTOR_MAX_DUMPS", 2)
        # A scheduled fire missed while the scheduler was down runs when it is back, if at most this late.
        self.COLLECTOR_SCHEDULE_GRACE_SECONDS = env.float("COLLECTOR_SCHEDULE_GRACE_SECONDS", 3600.0)
        # Finished tasks older than this are purged (with their logs).
        self.COLLECTOR_RETENTION_HOURS = env.float("COLLECTOR_RETENTION_HOURS", 24.0)
        self.COLLECTOR_PURGE_MINUTES = env.float("COLLECTOR_PURGE_MINUTES", 60.0)
        # Longest a task may run before Dramatiq interrupts it.
        self.COLLECTOR_TIME_LIMIT_SECONDS = env.int("COLLECTOR_TIME_LIMIT_SECONDS", 6 * 3600)
        # Lines shown in a task's `logs` (all lines: GET .../logs).
        self.COLLECTOR_TASK_LOG_LINES = env.int("COLLECTOR_TASK_LOG_LINES", 10)
        # Fernet key for secret start params (kept encrypted, never in clear). Unset: derived from SERVICE_TOKEN.
        self.COLLECTOR_SECRET_KEY = env.str("COLLECTOR_SECRET_KEY", "")
        # Callback POSTs: attempts and the pause between them.
        self.COLLECTOR_CALLBACK_RETRIES = env.int("COLLECTOR_CALLBACK_RETRIES", 3)
        self.COLLECTOR_CALLBACK_BACKOFF_MS = env.int("COLLECTOR_CALLBACK_BACKOFF_MS", 5000)
        # Who may call the API (SECURITY.md): "protected" serves anonymous loopback clients as operators and
        # asks every other client for a key; "required" asks everyone.
        self.COLLECTOR_AUTH = env.str("COLLECTOR_AUTH", "protected").strip().lower()
        # Proxies in front whose X-Forwarded-For/-Proto/-Host are believed (0: the socket's address counts).
        self.COLLECTOR_TRUSTED_PROXIES = env.int("COLLECTOR_TRUSTED_PROXIES", 0)
        # Host names this service answers for (DNS rebinding); the bind name is added when it names a host.
        bind = env.str("BIND_HOST", "")
        named_bind = [bind] if bind and bind not in ("0.0.0.0", "::", "[::]") else []
        self.COLLECTOR_ALLOWED_HOSTS = env.list("COLLECTOR_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]",
                                                                           *named_bind])
        # Origins whose browser pages may call the API (CORS, with a key); none by default.
        self.COLLECTOR_CORS_ORIGINS = env.list("COLLECTOR_CORS_ORIGINS", [])
        # The dashboard: an admin password for its login (unset: keys only), and the session cookie's key.
        self.COLLECTOR_ADMIN_PASSWORD = env.str("COLLECTOR_ADMIN_PASSWORD", "")
        # Refused dashboard logins allowed per client address (Flask-Limiter's notation), counted where
        # every worker sees them (REDIS_URL by default; memory:// counts per process).
        self.COLLECTOR_LOGIN_LIMIT = env.str("COLLECTOR_LOGIN_LIMIT", "5/minute")
        self.COLLECTOR_LOGIN_STORAGE = env.str("COLLECTOR_LOGIN_STORAGE") or self.REDIS_URL
        self.SECRET_KEY = env.str("COLLECTOR_SESSION_KEY", "") or secrets.token_urlsafe(32)  # unset: per process
        self.SESSION_COOKIE_NAME = "collector_session"  # cookies ignore ports: not the orders admin's
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env.bool("COLLECTOR_SESSION_COOKIE_SECURE", False)
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
        self.WTF_CSRF_TIME_LIMIT = None  # a form's token lasts as long as its session
        # Per-source pacing between upstream requests: COLLECTOR_PACING_<SOURCE> (seconds). Unset (None):
        # the source's own `pacing_seconds` (sources/base.py `Source.pacing`).
        for name in PACED_SOURCES:
            key = f"COLLECTOR_PACING_{name.upper()}"
            setattr(self, key, env.float(key, None))
        # Dumps into an analyst's SQLite file (and label_table's SQLite URLs) stay under this directory.
        self.COLLECTOR_DUMP_SQLITE_DIR = env.str("COLLECTOR_DUMP_SQLITE_DIR", str(Path(self.VAR_DIR) / "dumps"))
        # Hosts a caller may make the collector connect to (callback_url, dump and label_table databases):
        # host[:port] or cidr[:port] entries; link-local and cloud-metadata addresses are refused whatever it says.
        self.COLLECTOR_OUTBOUND_ALLOW = env.list("COLLECTOR_OUTBOUND_ALLOW", list(DEFAULT_ALLOW))
        try:
            OutboundPolicy.parse(self.COLLECTOR_OUTBOUND_ALLOW)
        except ValueError as exc:
            raise ConfigError(f"COLLECTOR_OUTBOUND_ALLOW: {exc}") from None
        # A caller's database (dumps, label_table): seconds to connect, to wait for one read or write
        # (MySQL), and for one statement (PostgreSQL's statement_timeout). Ours, never the URL's.
        self.COLLECTOR_DATABASE_CONNECT_TIMEOUT = env.float("COLLECTOR_DATABASE_CONNECT_TIMEOUT", 10.0)
        self.COLLECTOR_DATABASE_READ_TIMEOUT = env.float("COLLECTOR_DATABASE_READ_TIMEOUT", 300.0)
        self.COLLECTOR_DATABASE_STATEMENT_TIMEOUT = env.float("COLLECTOR_DATABASE_STATEMENT_TIMEOUT", 300.0)
        # GET .../sample of a label_table task reads the caller's database from an API thread: every
        # timeout of that read, and how many such reads one API process runs at once (others get a 503).
        self.COLLECTOR_SAMPLE_TIMEOUT = env.float("COLLECTOR_SAMPLE_TIMEOUT", 5.0)
        self.COLLECTOR_SAMPLE_CONCURRENCY = env.int("COLLECTOR_SAMPLE_CONCURRENCY", 2)
        # label_table: rows read, labeled and written per chunk.
        self.COLLECTOR_LABEL_TABLE_CHUNK_ROWS = env.int("COLLECTOR_LABEL_TABLE_CHUNK_ROWS",
                                                        DEFAULT_LABEL_TABLE_CHUNK_ROWS)
        # From this many rows, a label_table job labels in the worker's labeling process (label_table/labeler.py);
        # below, in its own thread: starting that process costs about a second of CPU, once per worker process.
        self.COLLECTOR_LABEL_TABLE_PROCESS_ROWS = env.int("COLLECTOR_LABEL_TABLE_PROCESS_ROWS",
                                                          DEFAULT_LABEL_TABLE_PROCESS_ROWS)
        # How many labeling processes a worker process keeps for those jobs (each about 35 MiB); each
        # labels whole chunks, so two take the labeling off the job's critical path on two cores.
        self.COLLECTOR_LABEL_TABLE_PROCESSES = env.int("COLLECTOR_LABEL_TABLE_PROCESSES", DEFAULT_LABEL_TABLE_PROCESSES)
        # The community platforms (the sandbox's stand-ins by default, see docs/upstreams.md).
        sandbox = f"http://127.0.0.1:{env.int('SANDBOX_PORT', 5199)}"
        self.BABITALK_BASE_URL = env.str("BABITALK_BASE_URL", sandbox)
        gangnamunni = self.GANGNAMUNNI_BASE_URL = env.str("GANGNAMUNNI_BASE_URL", sandbox)
        # The sandbox's token only while pointing at the sandbox; the real site needs your own.
        self.GANGNAMUNNI_TOKEN = env.str("GANGNAMUNNI_TOKEN", "sandbox-token" if gangnamunni == sandbox else "")
        self.NAVER_API_BASE_URL = env.str("NAVER_API_BASE_URL", sandbox)
        self.NAVER_ARTICLE_BASE_URL = env.str("NAVER_ARTICLE_BASE_URL", sandbox)
        self.NAVER_COOKIES = env.str("NAVER_COOKIES", "")
        self.NAVER_MAX_PAGES = env.int("NAVER_MAX_PAGES", 50)
        # The grader source: the statistics API (unset: the sandbox's stand-in), its windows and sink chunks.
        self.GRADER_API_URL = env.str("GRADER_API_URL", "")
        self.GRADER_CLIENT = env.str("GRADER_CLIENT", "")
        self.GRADER_CLIENT_KEY = env.str("GRADER_CLIENT_KEY", "")
        self.GRADER_WINDOW_MINUTES = env.int("GRADER_WINDOW_MINUTES", 60)
        self.GRADER_WINDOW_ATTEMPTS = env.int("GRADER_WINDOW_ATTEMPTS", 3)
        self.GRADER_SINK_CHUNK = env.int("GRADER_SINK_CHUNK", 5000)
