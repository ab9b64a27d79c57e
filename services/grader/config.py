from shared.config import BaseConfig, MiB


class Config(BaseConfig):
    SERVICE_NAME = "grader"
    DEFAULT_MAX_CONTENT_LENGTH = 64 * MiB  # GRADER_MAX_CONTENT_LENGTH; a full batch fits
    API_TITLE = "Grader analytics"
    API_VERSION = "1.0"
    OPENAPI_SPEC_OPTIONS = {  # noqa: RUF012 - read-only, as in every service's Config
        "info": {"description": "Student attempts pulled from the code grader's statistics API, "
                                "daily statistics, and the daily report to Google Sheets and e-mail."},
    }

    def __init__(self, environ: dict | None = None):
        super().__init__(environ)
        env = self.env
        self.GRADER_BATCH_MAX = env.int("GRADER_BATCH_MAX", 50_000)
        self.GRADER_STATS_MAX_DAYS = env.int("GRADER_STATS_MAX_DAYS", 366)
        # A watermark position later than now plus this many seconds is refused (422): clocks drift a little,
        # a position in the future would stop the scheduled pull until then.
        self.GRADER_WATERMARK_MAX_SKEW_SECONDS = env.int("GRADER_WATERMARK_MAX_SKEW_SECONDS", 300)
        # `flask pull` (services/grader/etl.py): the statistics API it reads, in windows, and its own log.
        self.GRADER_API_URL = env.str("GRADER_API_URL", "")
        self.GRADER_CLIENT = env.str("GRADER_CLIENT", "")
        self.GRADER_CLIENT_KEY = env.str("GRADER_CLIENT_KEY", "")          # a secret: never logged
        self.GRADER_WINDOW_MINUTES = env.int("GRADER_WINDOW_MINUTES", 60)
        self.GRADER_ETL_WINDOW_ATTEMPTS = env.int("GRADER_ETL_WINDOW_ATTEMPTS", 3)
        self.GRADER_ETL_RETRY_SECONDS = env.float("GRADER_ETL_RETRY_SECONDS", 5.0)
        self.GRADER_ETL_LOG_DAYS = env.int("GRADER_ETL_LOG_DAYS", 3)
        # Google Sheets: a service-account JSON file (a secret: its path only, from the environment).
        self.GRADER_SHEETS_CREDENTIALS_FILE = env.str("GRADER_SHEETS_CREDENTIALS_FILE", "")
        self.GRADER_SHEETS_SPREADSHEET_ID = env.str("GRADER_SHEETS_SPREADSHEET_ID", "")
        self.GRADER_SHEETS_WORKSHEET = env.str("GRADER_SHEETS_WORKSHEET", "")  # empty: the first sheet
        self.GRADER_SHEETS_API_URL = env.str("GRADER_SHEETS_API_URL", "https://sheets.googleapis.com")
        # E-mail: SMTP with STARTTLS (587), implicit TLS (465) or none (a local relay).
        self.GRADER_SMTP_HOST = env.str("GRADER_SMTP_HOST", "")
        self.GRADER_SMTP_PORT = env.int("GRADER_SMTP_PORT", 587)
        self.GRADER_SMTP_SECURITY = (env.str("GRADER_SMTP_SECURITY", "starttls") or "starttls").lower()
        self.GRADER_SMTP_USER = env.str("GRADER_SMTP_USER", "")
        self.GRADER_SMTP_PASSWORD = env.str("GRADER_SMTP_PASSWORD", "")
        self.GRADER_SMTP_CA_FILE = env.str("GRADER_SMTP_CA_FILE", "")
        self.GRADER_SMTP_TIMEOUT = env.float("GRADER_SMTP_TIMEOUT", 30.0)
        self.GRADER_REPORT_FROM = env.str("GRADER_REPORT_FROM", "grader-reports@localhost")
        self.GRADER_REPORT_RECIPIENTS = env.list("GRADER_REPORT_RECIPIENTS")
