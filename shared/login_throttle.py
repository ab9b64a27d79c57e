"""A login form's POSTs limited per client with Flask-Limiter: the orders admin and the collector
dashboard each throttle theirs through `throttle_login`.

The attempts are counted in `storage_uri` (Redis, so every worker process and instance behind one
address shares the count; while Redis does not answer, Flask-Limiter counts per process in memory
instead, so the throttle never turns into an outage), over a moving window.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, Response
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit


def retry_after(limit: RequestLimit) -> int:
    """Seconds until an attempt counts again (limits rounds reset_at up to the next second; no
    attempt counts for longer than the window)."""
    return max(1, min(math.ceil(limit.reset_at - time.time()), limit.limit.get_expiry()))


def throttle_login(app: Flask, endpoint: str, *, limit: str, storage_uri: str, key_prefix: str,
                   key_func: Callable[[], str], on_breach: Callable[[RequestLimit], Response],
                   deduct_when: Callable[[Response], bool] | None = None) -> Limiter:
    """At most `limit` (Flask-Limiter's notation, e.g. "5/minute") POSTs to `endpoint` per
    `key_func()`, counting only the answers `deduct_when` picks (all of them when None); past it,
    `on_breach`'s answer. The view must be registered already."""
    limiter = Limiter(key_func, app=app, storage_uri=storage_uri, key_prefix=key_prefix, strategy="moving-window",
                      in_memory_fallback_enabled=True)
    limited = limiter.limit(limit, methods=["POST"], on_breach=on_breach, deduct_when=deduct_when)
    app.view_functions[endpoint] = limited(app.view_functions[endpoint])
    # Only the login is limited, and its decorator checks its limit itself: the limiter's own
    # before_request hook, which serves default and application-wide limits (none here), would
    # only cost every other request a walk through the limiter's bookkeeping.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # The house error handler would answer JSON: the 429 is the page `on_breach` built.
    app.register_error_handler(RateLimitExceeded, lambda exc: exc.get_response())
    return limiter
