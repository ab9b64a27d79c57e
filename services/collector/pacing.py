"""Pacing per source, shared by every task and worker: one "next allowed time" key per source in Redis.

A task about to send a source's next upstream request asks for the turn with one atomic script:
if the key's time has come, the turn is the caller's and the key moves one interval past now;
if not, the caller is told how long to wait and asks again then. A turn is taken at the moment
the request goes, never booked ahead: a task that wakes late (a loaded host, a slow cancel
check) moves the next turn later instead of leaving it where the next task sends right behind.
So however many tasks of a source run, on however many workers, the site sees at most one
request per interval (the time is Redis's own clock, so workers' clocks do not matter).
"""
from __future__ import annotations

import redis

# KEYS[1] the source's next-allowed key; ARGV[1] the interval in ms. Returns 0 when the turn is
# the caller's (the key then holds now + interval), else the ms until it may ask again.
_TAKE_TURN = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local next_ms = tonumber(redis.call('GET', KEYS[1]) or 0)
if next_ms > now_ms then
    return next_ms - now_ms
end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], now_ms + interval, 'PX', interval + 60000)
return 0
"""


class SharedPacing:
    def __init__(self, client: redis.Redis, namespace: str):
        self.namespace = namespace
        self._take_turn = client.register_script(_TAKE_TURN)

    def take_turn(self, source: str, interval_seconds: float) -> float:
        """0 when this request of `source` may go now (the turn is taken), else the seconds to wait
        before asking again."""
        if interval_seconds <= 0:
            return 0.0
        waited = self._take_turn(keys=[f"{self.namespace}:pacing:{source}"],
                                 args=[int(interval_seconds * 1000)])
        return int(waited) / 1000
