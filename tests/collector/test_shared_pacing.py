"""Pacing per source is one Redis key shared by every task and worker (services/collector/pacing.py)."""
from __future__ import annotations

import time

import redis

from services.collector.pacing import SharedPacing


def turns(redis_url, namespace):
    # Two clients stand for two workers.
    return [SharedPacing(redis.Redis.from_url(redis_url), namespace) for _ in range(2)]


def test_one_turn_per_interval_across_clients_and_asking_books_nothing(redis_url, namespace):
    first, second = turns(redis_url, namespace)
    assert first.take_turn("babitalk", 10) == 0
    waits = [second.take_turn("babitalk", 10), first.take_turn("babitalk", 10), second.take_turn("babitalk", 10)]
    # Nobody else gets a turn within the interval; every caller is told the same moment (less the
    # few ms between the calls): a wait is not a booking, so waiters do not push each other back.
    assert all(9 < wait <= 10 for wait in waits), waits
    assert max(waits) - min(waits) < 1
    assert first.take_turn("naver", 10) == 0          # another source has its own key
    assert second.take_turn("label_table", 0) == 0    # no pacing: no wait, no key
    assert not redis.Redis.from_url(redis_url).exists(f"{namespace}:pacing:label_table")


def test_a_late_turn_moves_the_next_one_a_whole_interval_later(redis_url, namespace):
    first, second = turns(redis_url, namespace)
    interval = 0.3
    assert first.take_turn("babitalk", interval) == 0
    wait = second.take_turn("babitalk", interval)
    assert 0 < wait <= interval
    # The second task wakes late (a loaded host): it takes its turn whenever it comes back ...
    time.sleep(wait + interval)
    assert second.take_turn("babitalk", interval) == 0
    # ... and the next request is a whole interval behind that one, not behind the turn it missed.
    assert interval - 0.05 < first.take_turn("babitalk", interval) <= interval
