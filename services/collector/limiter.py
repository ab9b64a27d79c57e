"""The cap on tasks running at once, across every worker process: a set of leases in Redis.

Dramatiq's ConcurrentRateLimiter counts with INCR/DECR under one key-wide TTL, so a
worker killed mid-task keeps its slot until the whole key expires (and a TTL shorter
than a task lets an 11th in). Here each running task holds a lease (a sorted-set member
scored by its expiry) that its heartbeat renews: a dead worker's slot frees itself once
its lease runs out, and a long task keeps its slot as long as it is alive.
"""
from __future__ import annotations

import redis

# KEYS[1] lease set; ARGV: member, lease milliseconds, limit. Returns 1 if the member holds a slot.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
  return 1
end
return 0
"""

_RENEW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now_ms + tonumber(ARGV[2]), ARGV[1])
"""


class LeaseLimiter:
    def __init__(self, client: redis.Redis, key: str, limit: int, lease_seconds: float):
        self.client, self.key, self.limit = client, key, limit
        self.lease_ms = int(lease_seconds * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    def acquire(self, member: str) -> bool:
        return bool(self._acquire(keys=[self.key], args=[member, self.lease_ms, self.limit]))

    def renew(self, member: str) -> None:
        self._renew(keys=[self.key], args=[member, self.lease_ms])

    def release(self, member: str) -> None:
        self.client.zrem(self.key, member)

    def holders(self) -> int:
        return self.client.zcard(self.key)
