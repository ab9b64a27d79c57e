"""gunicorn's access log without secrets: the request target, query string and referer go
through shared.redact (password-like query parameters masked), secret-named headers are masked.

Only the atoms access_log_format names are worked out: gunicorn's own `atoms` adds one per
request header, response header and environ entry (about 40 a request), and redacting them
all cost more than the rest of the line (the orders push writes one line per pushed order)."""
from __future__ import annotations

import functools
import re

from gunicorn.glogging import Logger

from shared.redact import MASK, SECRET_KEYS, redact_url

# %(name)s in a logging format string: the atoms it reads (SafeAtoms looks {...} atoms up in lower case).
_ATOM = re.compile(r"%\(([^)]*)\)")
_URL_VALUED = ("raw_uri", "referer", "http_referer", "request_uri")


class _WithoutEntries(dict):
    """The environ as gunicorn's `atoms` reads it, less the per-entry atoms (added here, by name)."""

    def items(self):
        return ()


class _Bare:
    """The response as gunicorn's `atoms` reads it, less its headers."""

    headers = ()

    def __init__(self, resp):
        self.status, self.sent = resp.status, getattr(resp, "sent", None)


@functools.cache
def _named(log_format: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The request header, response header and environ atoms a format names: {name: atom}."""
    found: tuple[dict, dict, dict] = ({}, {}, {})
    for atom in {name.lower() for name in _ATOM.findall(log_format)}:
        if atom.startswith("{") and atom.endswith(("}i", "}o", "}e")):
            found["ioe".index(atom[-1])][atom[1:-2]] = atom
    return found


def _by_name(pairs, wanted: dict[str, str]) -> dict:
    """The atoms of `wanted` from (name, value) pairs (the last value of a repeated name, as gunicorn)."""
    atoms = {}
    for name, value in pairs:
        atom = wanted.get(name.lower())
        if atom is not None:
            atoms[atom] = value
    return atoms


class RedactingLogger(Logger):
    """`logger_class` of deploy/gunicorn.conf.py; the atoms of access_log_format, redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(_Bare(resp), (), _WithoutEntries(environ), request_time)
        request_headers, response_headers, variables = _named(self.cfg.access_log_format)
        if request_headers:
            atoms.update(_by_name(getattr(req, "headers", req), request_headers))
        if response_headers:
            headers = resp.headers
            atoms.update(_by_name(headers.items() if hasattr(headers, "items") else headers, response_headers))
        if variables:
            atoms.update(_by_name(environ.items(), variables))
        target = redact_url(environ.get("RAW_URI", ""))
        atoms["r"] = f"{environ['REQUEST_METHOD']} {target} {environ['SERVER_PROTOCOL']}"
        query = environ.get("QUERY_STRING")
        atoms["q"] = _redacted_query(query)
        atoms["f"] = redact_url(atoms["f"]) if atoms["f"] != "-" else "-"
        for named in (request_headers, response_headers, variables):
            for name, atom in named.items():
                if atom not in atoms:
                    continue
                if SECRET_KEYS.search(name):
                    atoms[atom] = MASK
                elif name == "query_string":  # a query alone: redact_url reads it as a path
                    atoms[atom] = _redacted_query(str(atoms[atom]))
                elif name in _URL_VALUED:
                    atoms[atom] = redact_url(str(atoms[atom]))
        return atoms


def _redacted_query(query: str | None) -> str | None:
    return redact_url(f"?{query}")[1:] if query else query
