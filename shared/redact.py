"""Redaction of secrets in text that leaves the process (responses, logs, task params)."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"

# Keys whose values are secrets wherever they appear (JSON bodies, query strings, params).
SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|client[_-]?key|service[_-]?key|cookie|cookies|authorization|nid_aut|nid_ses|credential)",
    re.IGNORECASE,
)

_PATTERNS = [
    # scheme://user:password@host  ->  scheme://user:***@host
    (re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s]+)(?=@)", re.IGNORECASE),
     r"\g<head>" + MASK),
    # Authorization: Bearer x / Infuser x / Basic x
    (re.compile(r"(?P<head>\b(?:Bearer|Infuser|Basic|Token)\s+)[A-Za-z0-9._~+/=%-]+", re.IGNORECASE),
     r"\g<head>" + MASK),
    # key=value in query strings, cookies and headers
    (
        re.compile(
            r"(?P<head>\b(?:serviceKey|service_key|client_key|api_key|apikey|access_token|token|password|passwd|secret|NID_AUT|NID_SES)\s*[=:]\s*)[^&;\s,'\"]+",
            re.IGNORECASE,
        ),
        r"\g<head>" + MASK,
    ),
]


def redact_text(text: str) -> str:
    """Mask secrets inside free text (a log line, an error message, a URL)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """A database or HTTP URL with its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return redact_text(url)


def redact_value(key: str, value: Any) -> Any:
    if SECRET_KEYS.search(key) and value not in (None, "", [], {}):
        return MASK
    return redact(value)


def redact(value: Any) -> Any:
    """A copy of a JSON-like structure with secret keys masked and URLs' passwords hidden."""
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
