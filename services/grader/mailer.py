"""The daily report e-mail over SMTP: STARTTLS, implicit TLS ("ssl") or none (a local relay)."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

SECURITY_MODES = ("starttls", "ssl", "none")


def email_configured(config) -> bool:
    return bool(config["GRADER_SMTP_HOST"] and config["GRADER_REPORT_RECIPIENTS"])


def _hour(hour: int | None) -> str:
    return "-" if hour is None else f"{hour:02d}:00-{hour:02d}:59 UTC"


def report_message(config, stats: dict) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Grader daily report {stats['date']}: {stats['attempts']} attempts"
    message["From"] = config["GRADER_REPORT_FROM"]
    message["To"] = ", ".join(config["GRADER_REPORT_RECIPIENTS"])
    lines = [f"Grader attempts loaded for {stats['date']} (UTC).", "",
             f"Attempts:         {stats['attempts']}",
             f"Runs:             {stats['runs']}",
             f"Submits:          {stats['submits']}",
             f"Correct submits:  {stats['correct_submits']}",
             f"Success rate:     {stats['success_rate']:.2%}",
             f"Unique users:     {stats['unique_users']}",
             f"Unique tasks:     {stats['unique_tasks']}",
             f"Busiest hour:     {_hour(stats['busiest_hour'])}",
             "", "By course:"]
    for course in stats["by_course"]:
        lines.append(f"  {course['course_id'] or '(unknown course)'}: {course['attempts']} attempts, "
                     f"{course['submits']} submits, success rate {course['success_rate']:.2%}, "
                     f"{course['unique_users']} users")
    if not stats["by_course"]:
        lines.append("  (no attempts)")
    message.set_content("\n".join(lines) + "\n")
    return message


def _tls_context(config) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config["GRADER_SMTP_CA_FILE"] or None)


def send_report(config, stats: dict) -> str:
    """Send the summary to the configured recipients; returns what was done."""
    security = config["GRADER_SMTP_SECURITY"]
    if security not in SECURITY_MODES:
        raise ValueError(f"GRADER_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, got {security!r}")
    host, port, timeout = config["GRADER_SMTP_HOST"], config["GRADER_SMTP_PORT"], config["GRADER_SMTP_TIMEOUT"]
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(config))
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=_tls_context(config))
        if config["GRADER_SMTP_USER"]:
            smtp.login(config["GRADER_SMTP_USER"], config["GRADER_SMTP_PASSWORD"])
        refused = smtp.send_message(report_message(config, stats))
    recipients = config["GRADER_REPORT_RECIPIENTS"]
    return f"sent to {len(recipients) - len(refused)} of {len(recipients)} recipients"
