from shared.config import BaseConfig, sqlite_url


class Config(BaseConfig):
    SERVICE_NAME = "orders"
    API_TITLE = "Orders"
    API_VERSION = "1.0"
    OPENAPI_SPEC_OPTIONS = {  # noqa: RUF012 - read once by flask-smorest
        "info": {"description": "Orders with a change feed (`GET /orders?since=<seq>`), optimistic concurrency "
                                "(ETag / If-Match), soft deletes, an admin page at /admin, and, beside instance A, "
                                "the two-way sync integration's status and collisions under /sync."},
    }

    def __init__(self, environ: dict | None = None):
        super().__init__(environ)
        env = self.env
        self.ORDERS_INSTANCE = (env.str("ORDERS_INSTANCE", "A") or "A").upper()
        # Both instances run this code; logs and the default database file are per instance.
        self.SERVICE_NAME = f"orders-{self.ORDERS_INSTANCE.lower()}"
        # ORDERS_DATABASE_URL (one process), else ORDERS_<A|B>_DATABASE_URL (make up runs both),
        # else var/data/orders-<a|b>.sqlite3: the two instances never share a database by default.
        if not env.str("ORDERS_DATABASE_URL"):
            self.SQLALCHEMY_DATABASE_URI = env.str(f"ORDERS_{self.ORDERS_INSTANCE}_DATABASE_URL",
                                                   sqlite_url(self.SERVICE_NAME, self.VAR_DIR))
        self.ORDERS_DEFAULT_CURRENCY = env.str("ORDERS_DEFAULT_CURRENCY", "EUR")
        # Admin page login; without a password the admin page refuses every login.
        self.ORDERS_ADMIN_USER = env.str("ORDERS_ADMIN_USER", "admin")
        self.ORDERS_ADMIN_PASSWORD = env.str("ORDERS_ADMIN_PASSWORD", "")
        # Signs the admin session cookie (through a key derived per instance, so A's cookie never
        # verifies on B). Unset: a random key per process (logins end on restart).
        self.SECRET_KEY = env.str("ORDERS_SECRET_KEY") or None
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env.bool("ORDERS_SESSION_COOKIE_SECURE", False)  # true behind HTTPS
        # A login lasts at most this long; logout ends it at once (admin_sessions rows).
        self.ORDERS_ADMIN_SESSION_HOURS = env.float("ORDERS_ADMIN_SESSION_HOURS", 12.0)
        # Failed logins allowed per client address and user name (Flask-Limiter's notation),
        # counted in Redis so every gunicorn worker shares them; memory:// for a process alone.
        self.ORDERS_ADMIN_LOGIN_LIMIT = env.str("ORDERS_ADMIN_LOGIN_LIMIT", "5/minute")
        self.ORDERS_ADMIN_LOGIN_STORAGE = env.str("ORDERS_ADMIN_LOGIN_STORAGE") or self.REDIS_URL or "memory://"
        self.ORDERS_ADMIN_LOGIN_KEY_PREFIX = env.str("ORDERS_ADMIN_LOGIN_KEY_PREFIX",
                                                     f"orders-{self.ORDERS_INSTANCE.lower()}-admin-login")
        # Testing aid: shift this instance's clock (created_at/updated_at) by N seconds.
        self.ORDERS_CLOCK_SKEW_SECONDS = env.float("ORDERS_CLOCK_SKEW_SECONDS", 0.0)

        # --- the integration (services/orders/sync), run beside one instance ---
        self.ORDERS_PEER_URL = env.str("ORDERS_PEER_URL", "")
        self.ORDERS_SYNC_INTERVAL = env.float("ORDERS_SYNC_INTERVAL", 0.5)
        self.ORDERS_SYNC_MAX_BACKOFF = env.float("ORDERS_SYNC_MAX_BACKOFF", 30.0)
        self.ORDERS_SYNC_POLICY = env.str("ORDERS_SYNC_POLICY", "manual")
        self.ORDERS_SYNC_PAGE_SIZE = env.int("ORDERS_SYNC_PAGE_SIZE", 500)
        self.ORDERS_SYNC_TIMEOUT = env.float("ORDERS_SYNC_TIMEOUT", 5.0)
        # Writes to the peer in flight at once while pushing a batch (independent orders).
        self.ORDERS_SYNC_PUSH_CONCURRENCY = env.int("ORDERS_SYNC_PUSH_CONCURRENCY", 8)
        # Testing aid for the fault-injection suite: "crash-before-checkpoint" makes the
        # integration exit hard after applying a page and before saving its checkpoint.
        self.ORDERS_SYNC_FAULT = env.str("ORDERS_SYNC_FAULT", "")
