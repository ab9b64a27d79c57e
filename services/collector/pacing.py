"""Pacing per source, shared by every task and worker: one "next allowed time" key per source in Redis.

A task about to send a source's next upstream request reserves a moment with one atomic script:
the later of now and the key's value, and moves the key one interval past it. So however many
tasks of a source run, on however many workers, the site sees at most one request per interval
(the time is Redis's own clock, so workers' clocks do not matter).
"""
from __future__ import annotations

import redis

# KEYS[1] the source's next-allowed key; ARGV[1] the interval in ms. Returns the ms to wait.
_RESERVE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local at = math.max(now_ms, tonumber(redis.call('GET', KEYS[1]) or 0))
redis.call('SET', KEYS[1], at + interval, 'PX', at + interval - now_ms + 60000)
return at - now_ms
"""


class SharedPacing:
    def __init__(self, client: redis.Redis, namespace: str):
        self.namespace = namespace
        self._reserve = client.register_script(_RESERVE)

    def reserve(self, source: str, interval_seconds: float) -> float:
        """Seconds to wait before this request of `source` may go; the moment is held for the caller."""
        if interval_seconds <= 0:
            return 0.0
        waited = self._reserve(keys=[f"{self.namespace}:pacing:{source}"], args=[int(interval_seconds * 1000)])
        return int(waited) / 1000
