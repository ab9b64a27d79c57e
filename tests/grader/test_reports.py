"""Daily reports: Google Sheets through gspread's real HTTP client against a local fake of
the Sheets v4 endpoints, e-mail through a real local SMTP server (aiosmtpd)."""
from __future__ import annotations

import email
import socket
import threading
from datetime import date, timedelta

import pytest

from services.grader.models import ReportLease, db
from services.grader.reports import REPORT_LEASE
from shared.timeutil import utcnow
from tests.support.auth import AUTH
from tests.support.fake_google import FakeGoogle
from tests.support.grader import DAY, post_batch
from tests.support.smtp import smtp_server

SMTP_PASSWORD = "smtp-secret-value"


@pytest.fixture
def google(tmp_path):
    with FakeGoogle() as fake:
        fake.service_account_file(tmp_path / "service-account.json")
        yield fake


def sheets_config(google, tmp_path) -> dict:
    return {"GRADER_SHEETS_CREDENTIALS_FILE": str(tmp_path / "service-account.json"),
            "GRADER_SHEETS_SPREADSHEET_ID": google.spreadsheet.spreadsheet_id,
            "GRADER_SHEETS_API_URL": google.url}


def smtp_config(inbox) -> dict:
    return {"GRADER_SMTP_HOST": "127.0.0.1", "GRADER_SMTP_PORT": inbox.port, "GRADER_SMTP_SECURITY": "none",
            "GRADER_REPORT_RECIPIENTS": ["manager@example.edu", "team@example.edu"],
            "GRADER_REPORT_FROM": "grader@example.edu"}


def report(client, day="2024-03-01"):
    response = client.post("/reports/daily", json={"date": day}, headers=AUTH)
    assert response.status_code == 200, response.json
    return response.json


def test_unconfigured_sinks_are_skipped_not_errors(client):
    post_batch(client, DAY)
    body = report(client)
    assert body["sheets_status"] == "skipped" and body["email_status"] == "skipped"
    assert body["stats"]["attempts"] == 5
    listed = client.get("/reports").json
    assert listed["count"] == 1 and listed["data"][0]["id"] == body["id"]


def test_sheets_row_is_written_once_and_updated_in_place(make_app, google, tmp_path):
    client = make_app(**sheets_config(google, tmp_path)).test_client()
    post_batch(client, DAY)
    first = report(client)
    assert first["sheets_status"] == "published", first["sheets_detail"]
    grid = google.grid()
    assert grid[0][:3] == ["date", "attempts", "runs"]
    assert grid[1][:9] == ["2024-03-01", 5, 2, 3, 2, round(2 / 3, 4), 3, 3, 9]

    report(client, "2024-03-02")
    post_batch(client, [{**DAY[0], "user_id": "late", "created_at": "2024-03-01T10:00:00Z"}])
    again = report(client)
    assert "updated row 2" in again["sheets_detail"]
    assert [row[0] for row in google.grid()] == ["date", "2024-03-01", "2024-03-02"]
    assert google.grid()[1][1] == 6

    # What gspread actually sent, each call signed by the service account: metadata,
    # column A read, then update / append.
    assert len(google.tokens_seen) == len(google.requests)
    assert google.tokens_seen[0]["iss"] == "grader@test.iam.gserviceaccount.com"
    calls = [(r["method"], r["path"].split("/values/")[-1] if "/values/" in r["path"] else r["path"])
             for r in google.requests]
    sheet_id = google.spreadsheet.spreadsheet_id
    assert calls[:4] == [("GET", f"/v4/spreadsheets/{sheet_id}"), ("GET", f"/v4/spreadsheets/{sheet_id}"),
                         ("GET", "'Daily'!A1:A"), ("PUT", "'Daily'!A1")]
    assert calls[4] == ("POST", "'Daily'!A1:append")
    assert calls[-1] == ("PUT", "'Daily'!A2")
    appended = next(r for r in google.requests if r["method"] == "POST")
    assert appended["args"]["valueInputOption"] == "RAW"
    assert appended["json"]["values"][0][0] == "2024-03-01"
    assert sum(1 for m, _ in calls if m == "POST") == 2  # one append per date, never two


def test_a_second_report_of_a_date_is_refused_while_the_first_runs(make_app, google, tmp_path, smtp_inbox):
    """The schedule and a manual run asking for one date at once: one Sheets row, one e-mail."""
    app = make_app(**sheets_config(google, tmp_path), **smtp_config(smtp_inbox))
    post_batch(app.test_client(), DAY)
    google.hold_reads()
    first = []
    publishing = threading.Thread(target=lambda: first.append(
        app.test_client().post("/reports/daily", json={"date": "2024-03-01"}, headers=AUTH)))
    publishing.start()
    try:
        assert google.reading.wait(30)  # the first publication is inside the Sheets call
        second = app.test_client().post("/reports/daily", json={"date": "2024-03-01"}, headers=AUTH)
        # The lease is per date (an app on the same database, with no sinks, so no Sheets read).
        other_day = make_app().test_client().post("/reports/daily", json={"date": "2024-03-02"}, headers=AUTH)
    finally:
        google.release_reads()
        publishing.join(30)
    assert second.status_code == 409
    assert second.json["message"] == ("A report for 2024-03-01 is being published right now; "
                                      "try again when it is done.")
    assert other_day.status_code == 200
    assert first[0].status_code == 200, first[0].json
    assert [row[0] for row in google.grid()] == ["date", "2024-03-01"]
    assert len(smtp_inbox.messages) == 1
    assert app.test_client().get("/reports?date=2024-03-01").json["count"] == 1
    # Done: the date is free again.
    assert report(app.test_client())["sheets_detail"].startswith("updated row 2")


def test_a_dead_publications_lease_is_taken_over(make_app):
    app = make_app()
    with app.app_context():
        db.session.add(ReportLease(date=date(2024, 3, 1), taken_at=utcnow() - REPORT_LEASE - timedelta(seconds=1)))
        db.session.commit()
    assert report(app.test_client())["sheets_status"] == "skipped"
    with app.app_context():
        db.session.add(ReportLease(date=date(2024, 3, 1), taken_at=utcnow()))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["report", "--date", "2024-03-01"])
    assert result.exit_code == 1
    assert "is being published right now" in result.output


def test_a_failing_sheet_is_reported_and_email_still_goes(make_app, google, tmp_path, smtp_inbox):
    config = {**sheets_config(google, tmp_path), **smtp_config(smtp_inbox),
              "GRADER_SHEETS_SPREADSHEET_ID": "no-such-sheet"}
    client = make_app(**config).test_client()
    body = report(client)
    assert body["sheets_status"] == "failed" and "SpreadsheetNotFound" in body["sheets_detail"]
    assert body["email_status"] == "published"
    assert len(smtp_inbox.messages) == 1


def test_report_email_reaches_the_smtp_server(make_app, smtp_inbox):
    client = make_app(**smtp_config(smtp_inbox)).test_client()
    post_batch(client, DAY)
    body = report(client)
    assert body["email_status"] == "published" and body["email_detail"] == "sent to 2 of 2 recipients"
    mail_from, recipients, content = smtp_inbox.messages[0]
    assert mail_from == "grader@example.edu"
    assert recipients == ["manager@example.edu", "team@example.edu"]
    message = email.message_from_bytes(content)
    assert message["Subject"] == "Grader daily report 2024-03-01: 5 attempts"
    text = message.get_payload(decode=True).decode()
    assert "Correct submits:  2" in text and "Success rate:     66.67%" in text
    assert "course-v1:SF+SQL-1.0+15JAN2023: 1 attempts" in text and "09:00-09:59 UTC" in text


def test_empty_day_report_still_goes_out(make_app, smtp_inbox):
    body = report(make_app(**smtp_config(smtp_inbox)).test_client(), "2020-01-01")
    assert body["stats"]["attempts"] == 0 and body["email_status"] == "published"
    assert "(no attempts)" in email.message_from_bytes(smtp_inbox.messages[0][2]).get_payload(decode=True).decode()


def test_smtp_failure_is_reported_without_the_password(make_app, caplog):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = make_app(GRADER_SMTP_HOST="127.0.0.1", GRADER_SMTP_PORT=port, GRADER_SMTP_SECURITY="starttls",
                      GRADER_SMTP_USER="reports", GRADER_SMTP_PASSWORD=SMTP_PASSWORD,
                      GRADER_SMTP_TIMEOUT=5, GRADER_REPORT_RECIPIENTS=["m@example.edu"]).test_client()
    response = client.post("/reports/daily", json={"date": "2024-03-01"}, headers=AUTH)
    assert response.status_code == 200
    assert response.json["email_status"] == "failed" and "ConnectionRefusedError" in response.json["email_detail"]
    assert SMTP_PASSWORD not in response.get_data(as_text=True)
    assert SMTP_PASSWORD not in caplog.text
    assert SMTP_PASSWORD not in client.get("/reports").get_data(as_text=True)


def test_smtp_login_over_starttls(make_app, tmp_path):
    """STARTTLS with a private CA and AUTH LOGIN, against aiosmtpd speaking TLS."""
    import ssl

    from aiosmtpd.smtp import AuthResult

    from tests.grader.tls import make_certificate

    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == SMTP_PASSWORD)

    with smtp_server(tls_context=context, require_starttls=True, authenticator=authenticator,
                     auth_require_tls=True) as inbox:
        client = make_app(GRADER_SMTP_HOST="127.0.0.1", GRADER_SMTP_PORT=inbox.port,
                          GRADER_SMTP_SECURITY="starttls", GRADER_SMTP_CA_FILE=str(cert),
                          GRADER_SMTP_USER="reports", GRADER_SMTP_PASSWORD=SMTP_PASSWORD,
                          GRADER_REPORT_RECIPIENTS=["m@example.edu"]).test_client()
        body = report(client)
    assert body["email_status"] == "published", body["email_detail"]
    assert logins == [("reports", SMTP_PASSWORD)]
    assert len(inbox.messages) == 1


def test_report_needs_the_token_and_a_date(client):
    assert client.post("/reports/daily", json={"date": "2024-03-01"}).status_code == 401
    response = client.post("/reports/daily", json={"date": "March"}, headers=AUTH)
    assert response.status_code == 422 and "date" in response.json["errors"]["json"]
    assert client.get("/reports", query_string={"date": "nope"}).status_code == 422


def test_reports_list_by_date_newest_first(client):
    report(client, "2024-03-01")
    report(client, "2024-03-02")
    second = report(client, "2024-03-01")
    listed = client.get("/reports", query_string={"date": "2024-03-01"}).json
    assert listed["count"] == 2 and listed["data"][0]["id"] == second["id"]
