"""`flask --app services.grader pull`: the whole ETL in one command, nothing else running, against
the sandbox's statistics-API stand-in, the fake Google Sheets server and a real SMTP inbox."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from services.grader.models import Attempt, db
from tests.support.fake_google import FakeGoogle
from tests.support.grader import SANDBOX_CLIENT, SANDBOX_KEY
from tests.support.smtp import smtp_server

DAY = "2024-03-01"
STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|ERROR) \[grader-etl\] ")


@pytest.fixture
def google(tmp_path):
    with FakeGoogle() as fake:
        fake.service_account_file(tmp_path / "service-account.json")
        yield fake


@pytest.fixture
def inbox():
    with smtp_server() as server:
        yield server


@pytest.fixture
def etl_app(make_app, sandbox, tmp_path):
    def make(**extra):
        return make_app(GRADER_API_URL=sandbox.url, GRADER_CLIENT=SANDBOX_CLIENT, GRADER_CLIENT_KEY=SANDBOX_KEY,
                        GRADER_ETL_RETRY_SECONDS=0.0, HTTP_RETRIES=0, **extra)
    return make


def pull(app, *args):
    return app.test_cli_runner().invoke(args=["pull", *args])


def log_lines(app) -> list[str]:
    path = Path(app.config["LOG_DIR"]) / f"grader-etl-{datetime.now(UTC).date().isoformat()}.log"
    return path.read_text(encoding="utf-8").splitlines()


def stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attempt))


def expected(sandbox) -> dict:
    return requests.get(f"{sandbox.url}/_sandbox/grader/expected", params={"date": DAY}, timeout=5).json()


def test_one_command_pulls_validates_loads_logs_and_reports_a_day(etl_app, sandbox, google, inbox, tmp_path):
    app = etl_app(GRADER_SHEETS_CREDENTIALS_FILE=str(tmp_path / "service-account.json"),
                  GRADER_SHEETS_SPREADSHEET_ID=google.spreadsheet.spreadsheet_id, GRADER_SHEETS_API_URL=google.url,
                  GRADER_SMTP_HOST="127.0.0.1", GRADER_SMTP_PORT=inbox.port, GRADER_SMTP_SECURITY="none",
                  GRADER_REPORT_RECIPIENTS=["manager@example.edu"], GRADER_REPORT_FROM="grader@example.edu")
    result = pull(app, "--date", DAY)
    assert result.exit_code == 0, result.output
    counts = expected(sandbox)
    assert stored(app) == counts["valid"]
    assert "window 24/24 loaded" in result.output                      # plain lines: not a terminal
    summary = f"{counts['attempts']} received, {counts['rejected']} skipped, {counts['valid']} inserted"
    assert summary in result.output

    lines = log_lines(app)
    assert all(STAMPED.match(line) for line in lines), [line for line in lines if not STAMPED.match(line)][:3]
    text = "\n".join(lines)
    assert len(re.findall(r"Download 2024-03-01 \d\d:00 \.\. .* started", text)) == 24
    assert re.search(r"Download 2024-03-01 00:00 \.\. 2024-03-01 01:00 finished: \d+ rows in \d+\.\d\d s", text)
    skipped = sum(int(n) for n in re.findall(r"Validation 2024-03-01 \d\d:00: \d+ received, \d+ valid, (\d+) skipped",
                                              text))
    assert skipped == counts["rejected"] > 0
    assert re.search(r"skipped \(passback_params[^)]* \d+", text)          # why, counted by reason
    assert text.count(" started: ") == 24 and len(re.findall(r"Load .* finished: \d+ inserted", text)) == 24
    assert re.search(rf"Report {DAY}: {counts['valid']} attempts; Google Sheets published .* e-mail published", text)
    assert google.grid()[1][0] == DAY and len(inbox.messages) == 1
    assert SANDBOX_KEY not in text and SANDBOX_KEY not in result.output


def test_api_errors_are_logged_with_their_status_and_a_fatal_one_stops_the_run(etl_app, sandbox):
    app = etl_app()
    sandbox.grader_mode(fail_status=503, fail_times=1)
    assert pull(app, "--date", DAY, "--no-report").exit_code == 0
    assert any(" ERROR " in line and "HTTP 503" in line and "try 1/3" in line for line in log_lines(app))
    assert stored(app) == expected(sandbox)["valid"]

    sandbox.grader_mode(fail_status=403, fail_times=5)
    failed = pull(app, "--date", "2024-03-02", "--no-report")
    assert failed.exit_code == 1 and "HTTP 403" in failed.output
    assert sum("HTTP 403" in line and " ERROR " in line for line in log_lines(app)) == 1   # no retry of a 403


def test_a_range_without_a_whole_day_has_no_report_and_a_rerun_loads_nothing_twice(etl_app):
    app = etl_app()
    first = pull(app, "--start", "2024-03-01T22:00:00", "--end", "2024-03-02T02:00:00")
    assert first.exit_code == 0, first.output
    assert "4 windows" in first.output and "0 reports" in first.output
    loaded = stored(app)
    again = pull(app, "--start", "2024-03-01T22:00:00", "--end", "2024-03-02T02:00:00")
    assert f"0 inserted, {loaded} already stored" in again.output and stored(app) == loaded


def test_logs_of_the_last_three_days_are_kept(etl_app):
    app = etl_app()
    folder = Path(app.config["LOG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).date()
    old, kept = (folder / f"grader-etl-{today - timedelta(days=d)}.log" for d in (3, 2))
    old.write_text("old\n")
    kept.write_text("kept\n")
    assert pull(app, "--start", "2024-03-01T00:00:00", "--end", "2024-03-01T01:00:00").exit_code == 0
    assert not old.exists() and kept.exists() and log_lines(app)


def test_a_terminal_gets_a_progress_bar(etl_app):
    result = pull(etl_app(), "--start", "2024-03-01T00:00:00", "--end", "2024-03-01T03:00:00", "--progress")
    assert result.exit_code == 0, result.output
    assert "3/3" in result.output and "window 3/3 loaded" not in result.output


@pytest.mark.parametrize("args", [["--start", "2024-03-01"], ["--date", DAY, "--start", DAY, "--end", "2024-03-02"],
                                  ["--start", "2024-03-02", "--end", "2024-03-01"], ["--date", "yesterday"]])
def test_bad_ranges_are_usage_errors(etl_app, args):
    result = pull(etl_app(), *args)
    assert result.exit_code == 2 and "Error" in result.output


def test_without_a_configured_api_it_says_so(make_app):
    result = pull(make_app(), "--date", DAY)
    assert result.exit_code == 1 and "GRADER_CLIENT and GRADER_CLIENT_KEY must be configured" in result.output
