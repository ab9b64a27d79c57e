from shared.config import BaseConfig


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
        # Per-source pacing between upstream requests: COLLECTOR_PACING_<SOURCE> (seconds).
        from services.collector.sources import SOURCES

        for name, source in SOURCES.items():
            key = f"COLLECTOR_PACING_{name.upper()}"
            setattr(self, key, env.float(key, source.pacing_seconds))
            vars(self).update(source.settings(env, self) if hasattr(source, "settings") else {})  # source-specific keys
