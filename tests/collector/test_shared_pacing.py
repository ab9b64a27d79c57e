"""Pacing per source is one Redis key shared by every task and worker (services/collector/pacing.py)."""
from __future__ import annotations

import redis

from services.collector.pacing import SharedPacing


def test_reservations_of_one_source_are_spaced_by_the_interval_across_clients(redis_url, namespace):
    # Two clients stand for two workers; nobody waits: each reservation says how long to wait.
    first, second = (SharedPacing(redis.Redis.from_url(redis_url), namespace) for _ in range(2))
    waits = [first.reserve("babitalk", 10), second.reserve("babitalk", 10), first.reserve("babitalk", 10)]
    assert waits[0] == 0
    # Each later request is held about one more interval back (less the few ms between the calls).
    assert 9 < waits[1] <= 10 and 19 < waits[2] <= 20
    assert first.reserve("naver", 10) == 0          # another source has its own key
    assert second.reserve("label_table", 0) == 0    # no pacing: no wait, no key
    assert not redis.Redis.from_url(redis_url).exists(f"{namespace}:pacing:label_table")
