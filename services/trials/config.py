from typing import ClassVar

from shared.config import BaseConfig, MiB


class Config(BaseConfig):
    SERVICE_NAME = "trials"
    DEFAULT_MAX_CONTENT_LENGTH = 16 * MiB  # TRIALS_MAX_CONTENT_LENGTH; a full batch fits
    API_TITLE = "Clinical trials"
    API_VERSION = "1.0"
    OPENAPI_SPEC_OPTIONS: ClassVar[dict] = {
        "info": {"description": "Korean clinical-trial records (data.go.kr dataset 3074271): "
                                "lookup, the trials changed in the last 7 days, search, history and export."},
    }

    def __init__(self, environ: dict | None = None):
        super().__init__(environ)
        env = self.env
        self.ODCLOUD_BASE_URL = env.str("ODCLOUD_BASE_URL", "http://127.0.0.1:5199/api")
        self.ODCLOUD_SERVICE_KEY = env.str("ODCLOUD_SERVICE_KEY", "")
        self.ODCLOUD_PER_PAGE = env.int("ODCLOUD_PER_PAGE", 100)
        self.TRIALS_RECENT_DAYS = env.int("TRIALS_RECENT_DAYS", 7)
        self.TRIALS_BATCH_MAX = env.int("TRIALS_BATCH_MAX", 5000)
        # A completed snapshot holding less than this share of the active trials is refused
        # (a broken upstream answering a few rows must not withdraw the whole table).
        # Seconds a process may serve a rendered GET response again (0: off). See cache.py.
        self.TRIALS_CACHE_SECONDS = env.float("TRIALS_CACHE_SECONDS", 1.0)
        self.TRIALS_MIN_SNAPSHOT_RATIO = env.float("TRIALS_MIN_SNAPSHOT_RATIO", 0.5)
