"""A real local SMTP server (aiosmtpd) for tests: the report e-mail goes to an `Inbox`."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


class Inbox:
    """aiosmtpd handler that keeps every message it receives; `port` is its server's."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.port: int | None = None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(**controller_options) -> Iterator[Inbox]:
    """An SMTP server on a free port of 127.0.0.1 for the block; yields its `Inbox`.

    `controller_options` go to aiosmtpd's `Controller` (TLS context, authenticator, ...).
    aiosmtpd logs connection events from its own thread, possibly into log handlers a test
    has closed (which would reopen their file); its INFO lines are not needed, so they are
    held back meanwhile."""
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **controller_options)
    controller.start()
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()
        mail_log.setLevel(level)
