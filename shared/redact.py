"""Redaction of secrets in text that leaves the process (responses, logs, task params).

Masking goes by structure, never by searching for a known secret as a substring: a URL is
split into its parts (urllib.parse), its userinfo password and every password-like query
parameter (`password`, `sslpassword`, `api_key`, ...) are masked, and the rest is kept as
written. So an error message is never mangled, and a short password ("a") is not revealed
by every "a" of a message turning into ***.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, unquote_plus, urlsplit

MASK = "***"

# Keys whose values are secrets wherever they appear (JSON bodies, query strings, params).
SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|client[_-]?key|service[_-]?key|cookie|cookies|authorization|nid_aut|nid_ses|credential)",
    re.IGNORECASE,
)
# Query parameters of a URL whose values are secrets: the keys above, plus the drivers' own
# (libpq `sslpassword`, a key file's passphrase; `pwd`; MySQL `ssl_key_password`) and signatures.
SECRET_PARAMS = re.compile(SECRET_KEYS.pattern + r"|pwd|passphrase|sslkey|ssl[_-]key|signature|^sig$|^auth$",
                           re.IGNORECASE)

# A URL inside free text: scheme://... up to a space, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)

_PATTERNS = [
    # scheme://user:password@host  ->  scheme://user:***@host (URLs the structural pass could not parse)
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


def redact_query(query: str) -> str:
    """A query string (`a=1&password=x`) with the values of password-like parameters masked;
    every other byte as it was (no re-encoding, order kept)."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        secret = equals and value and SECRET_PARAMS.search(unquote_plus(name))
        parts.append(f"{name}={MASK}" if secret else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """A URL (database, HTTP, or a request target such as `/path?token=x`) with the password of
    its userinfo and its password-like query parameters masked; the rest as written."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket: fall back to the text patterns
        return _patterns(url)
    netloc = _masked_netloc(parts)
    query = redact_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    rebuilt = f"{parts.scheme}:" if parts.scheme else ""
    if parts.netloc or url[len(rebuilt):].startswith("//"):
        rebuilt += "//" + netloc
    rebuilt += parts.path
    if "?" in url:
        rebuilt += "?" + query
    if parts.fragment or url.endswith("#"):
        rebuilt += "#" + parts.fragment
    return rebuilt


def _masked_netloc(parts: SplitResult) -> str:
    userinfo, at, hostport = parts.netloc.rpartition("@")   # the last @: a password may hold an unencoded one
    if not at or ":" not in userinfo:
        return parts.netloc
    user, _, password = userinfo.partition(":")
    return f"{user}:{MASK}@{hostport}" if password else parts.netloc


def _patterns(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_text(text: str) -> str:
    """Mask secrets inside free text (a log line, an error message, a URL): each URL by its
    structure, then `Bearer x`-style credentials and `password=x`-style pairs."""
    return _patterns(_URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text))


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
