"""The cap on tasks running at once, across every worker process: a set of leases in Redis.

Dramatiq's ConcurrentRateLimiter counts with INCR/DECR under one key-wide TTL, so a
worker killed mid-task keeps its slot until the whole key expires (and a TTL shorter
than a task lets an 11th in). Here each running task holds a lease (a sorted-set member
scored by its expiry) that its heartbeat renews: a dead worker's slot frees itself once
its lease runs out, and a long task keeps its slot as long as it is alive.

A lease is named by the task id plus a token of the delivery that took it (`<task id>#<token>`),
and renewing or releasing names both: a second delivery of the same message takes (and gives
back) a lease of its own, so it can never free the slot of the copy that is running.
"""
from __future__ import annotations

import uuid

import redis

# KEYS[1] lease set; ARGV: member, lease milliseconds, limit. Returns 1 if the member now holds a slot.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
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

# KEYS[1] lease set; ARGV[1] "<task id>#": every lease of the task, whoever took it (the reaper's release).
_RELEASE_ALL = """
local removed = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, string.len(ARGV[1])) == ARGV[1] then
    removed = removed + redis.call('ZREM', KEYS[1], member)
  end
end
return removed
"""


def _member(task_id: str, token: str) -> str:
    return f"{task_id}#{token}"


class LeaseLimiter:
    def __init__(self, client: redis.Redis, key: str, limit: int, lease_seconds: float):
        self.client, self.key, self.limit = client, key, limit
        self.lease_ms = int(lease_seconds * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release_all = client.register_script(_RELEASE_ALL)

    def acquire(self, task_id: str) -> str | None:
        """A slot for this delivery of `task_id`: its lease token, or None when the cap is full."""
        token = uuid.uuid4().hex
        taken = self._acquire(keys=[self.key], args=[_member(task_id, token), self.lease_ms, self.limit])
        return token if taken else None

    def renew(self, task_id: str, token: str) -> None:
        self._renew(keys=[self.key], args=[_member(task_id, token), self.lease_ms])

    def release(self, task_id: str, token: str) -> None:
        """Give back this delivery's lease (and no other delivery's)."""
        self.client.zrem(self.key, _member(task_id, token))

    def release_all(self, task_id: str) -> int:
        """Free every lease of `task_id`: for the reaper, once the task's worker is known lost."""
        return int(self._release_all(keys=[self.key], args=[f"{task_id}#"]))

    def holders(self) -> int:
        return self.client.zcard(self.key)
