"""Configuration base: every service's Config reads the environment here, once.

Values come from the process environment, then from `.env` at the repository root
(environment variables win). Each read has an explicit cast so a typo in a number
fails at start-up with the key's name, not deep inside a request.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class ConfigError(ValueError):
    """A configuration value is missing or has the wrong type."""


class Environment:
    """The merged view of `.env` and the process environment."""

    def __init__(self, env_file: Path | None = None, environ: dict | None = None):
        env_file = env_file or Path(os.environ.get("ENV_FILE", REPO_ROOT / ".env"))
        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
        values.update(os.environ if environ is None else environ)
        self._values = values

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self._values.get(key)
        return default if value is None or value == "" else value

    def int(self, key: str, default: int) -> int:
        raw = self.str(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key} must be an integer, got {raw!r}") from None

    def float(self, key: str, default: float) -> float:
        raw = self.str(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {raw!r}") from None

    def bool(self, key: str, default: bool) -> bool:
        raw = self.str(key)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{key} must be a boolean (true/false), got {raw!r}")

    def list(self, key: str, default: list[str] | None = None) -> list[str]:
        raw = self.str(key)
        if raw is None:
            return list(default or [])
        return [item.strip() for item in raw.split(",") if item.strip()]


def sqlite_url(name: str, var_dir: Path) -> str:
    return f"sqlite:///{var_dir / 'data' / f'{name}.sqlite3'}"


class BaseConfig:
    """Settings every service has. A service subclasses it and adds its own keys.

    `SERVICE_NAME` is set by the subclass; the database URL is read from
    `<SERVICE>_DATABASE_URL` and defaults to a SQLite file under `var/data/`.
    """

    SERVICE_NAME = "service"
    API_TITLE = "Service"
    API_VERSION = "1.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    # Served by the service itself (shared/api.py, DOCS_ASSETS_PREFIX): the pages work offline.
    OPENAPI_SWAGGER_UI_URL = "/docs/static/swagger-ui/"
    # No validator badge: Swagger UI would send the document to validator.swagger.io for it.
    OPENAPI_SWAGGER_UI_CONFIG: ClassVar[dict] = {"validatorUrl": None}
    OPENAPI_REDOC_PATH = "redoc"
    OPENAPI_REDOC_URL = "/docs/static/redoc/redoc.standalone.js"
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    JSON_SORT_KEYS = False
    # The largest request body read, in bytes, from <SERVICE>_MAX_CONTENT_LENGTH; a larger one is a 413.
    # A service with batch endpoints raises its default.
    DEFAULT_MAX_CONTENT_LENGTH = 1 * MiB

    def __init__(self, environ: dict | None = None):
        env = Environment(environ=environ)
        self.env = env
        prefix = self.SERVICE_NAME.upper().replace("-", "_")
        self.VAR_DIR = Path(env.str("VAR_DIR", str(REPO_ROOT / "var")))
        self.LOG_DIR = Path(env.str("LOG_DIR", str(self.VAR_DIR / "log")))
        self.LOG_LEVEL = env.str("LOG_LEVEL", "INFO")
        # text (the default) or json: one JSON object a line (shared/logs.py).
        self.LOG_FORMAT = env.str("LOG_FORMAT", "text").lower()
        if self.LOG_FORMAT not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be text or json, got {self.LOG_FORMAT!r}")
        self.LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", 3)
        self.SQLALCHEMY_DATABASE_URI = env.str(
            f"{prefix}_DATABASE_URL", sqlite_url(self.SERVICE_NAME, self.VAR_DIR)
        )
        self.SERVICE_TOKEN = env.str("SERVICE_TOKEN", "")
        self.REDIS_URL = env.str("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.MAX_CONTENT_LENGTH = env.int(f"{prefix}_MAX_CONTENT_LENGTH", self.DEFAULT_MAX_CONTENT_LENGTH)
        # Seconds each /health check (database, Redis, ...) may take before it counts as down.
        self.HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", 1.0)
        self.HTTP_TIMEOUT = env.float("HTTP_TIMEOUT", 30.0)
        self.HTTP_RETRIES = env.int("HTTP_RETRIES", 3)
        self.HTTP_BACKOFF = env.float("HTTP_BACKOFF", 0.5)
