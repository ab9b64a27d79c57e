"""gunicorn's access log without secrets: the request target, query string and referer go
through shared.redact (password-like query parameters masked), secret-named headers are masked."""
from __future__ import annotations

from gunicorn.glogging import Logger

from shared.redact import MASK, SECRET_KEYS, redact_url


class RedactingLogger(Logger):
    """`logger_class` of deploy/gunicorn.conf.py; the atoms of access_log_format, redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        target = redact_url(environ.get("RAW_URI", ""))
        atoms["r"] = f"{environ['REQUEST_METHOD']} {target} {environ['SERVER_PROTOCOL']}"
        query = environ.get("QUERY_STRING")
        atoms["q"] = redact_url(f"?{query}")[1:] if query else query
        atoms["f"] = redact_url(atoms["f"]) if atoms["f"] != "-" else "-"
        for key in list(atoms):
            if key.startswith("{") and key.endswith(("}i", "}o", "}e")):
                name = key[1:-2]
                if SECRET_KEYS.search(name):
                    atoms[key] = MASK
                elif name in ("raw_uri", "query_string", "referer", "http_referer", "request_uri"):
                    atoms[key] = redact_url(str(atoms[key]))
        return atoms
