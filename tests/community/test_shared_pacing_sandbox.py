"""Pacing per source is shared by every task: two babitalk tasks at once, and the site (the sandbox's
stand-in, which records when each request arrived) still sees one request per pacing interval."""
from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

from tests.support.collector import start, wait_status

INTERVAL = 0.5
# A request goes out right after it takes its turn (pacing.py); the way from there to the sandbox
# may take a few ms more for one request than for the next on a loaded host.
JITTER = 0.15


def test_two_tasks_of_one_source_share_its_pace(community_app, client, worker):
    community_app.config["COLLECTOR_PACING_BABITALK"] = INTERVAL
    worker(threads=2)
    body = {"target_date": (date.today() - timedelta(days=7)).isoformat(), "categories": ["reviews", "talks"],
            "limit": 3}
    ids = [start(client, "babitalk", **body) for _ in range(2)]
    finished = [wait_status(client, task_id, {"completed", "failed"}) for task_id in ids]
    assert [task["status"] for task in finished] == ["completed", "completed"]
    starts = sorted(task["started_at"] for task in finished)
    times = sorted(community_app.sandbox.served("babitalk")["request_times"])
    assert len(times) >= 6
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert min(gaps) >= INTERVAL - JITTER, gaps
    assert starts[0] <= starts[1]  # both ran (the gaps above would be ~0 if each task kept its own pace)
