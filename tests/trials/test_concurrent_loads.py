"""Loads racing on the same trials, over real connections (one per thread).

On PostgreSQL, writers that lock the same rows in different orders deadlock, and one of
them is aborted (a 503 to the collector, which fails the task). The store locks a batch's
trials, and a snapshot's withdrawals, in trial id order before it reads or writes them.
"""
import random
import threading

from tests.support.auth import SERVICE_TOKEN
from tests.support.trials import trial

AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def run_together(app, jobs) -> list:
    """Run each `job(client)` in its own thread, all released at once; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(index, job):
        client = app.test_client()
        barrier.wait()
        results[index] = job(client)

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_overlapping_snapshots_of_the_same_trials_all_complete(app, client, put_batch):
    records = [trial(f"K{n:03d}") for n in range(150)]
    assert put_batch(records).status_code == 200

    def snapshot(number: int):
        def job(client) -> list[int]:
            shuffled = random.Random(number).sample(records, len(records))
            statuses = [client.put("/trials/batch", headers=AUTH, json={
                "snapshot_id": f"snap-{number}", "records": shuffled[start:start + 30]}).status_code
                for start in range(0, len(shuffled), 30)]
            completed = client.post(f"/trials/snapshots/snap-{number}/complete", headers=AUTH)
            return [*statuses, completed.status_code]
        return job

    answers = run_together(app, [snapshot(number) for number in range(8)])
    assert answers == [[200] * 6] * 8
    # Every snapshot held every trial: whatever the interleaving, none completing withdrew one
    # that a newer snapshot had seen.
    assert client.get("/trials?per_page=1").json["count"] == 150


def test_racing_edits_of_one_trial_leave_an_unbroken_history(app, client, put_batch):
    assert put_batch([trial("H1")]).status_code == 200
    titles = [f"title {n}" for n in range(6)]

    def edit(title):
        return lambda client: client.put("/trials/batch", headers=AUTH,
                                         json={"records": [trial("H1", 과제명=title)]}).status_code

    assert run_together(app, [edit(title) for title in titles]) == [200] * len(titles)
    entries = client.get("/trials/H1/history?per_page=100").json["data"][::-1]  # oldest first
    titles_seen = ["H1 코호트 연구"]
    for entry in entries[1:]:
        (change,) = [c for c in entry["changes"] if c["field"] == "title"]
        assert change["old"] == titles_seen[-1]  # each edit saw the one before it, none was lost
        titles_seen.append(change["new"])
    assert sorted(titles_seen[1:]) == titles
    assert client.get("/trials/H1").json["title"] == titles_seen[-1]


def test_concurrent_first_loads_of_the_same_trials_both_succeed(app):
    """Two loads racing to insert the same new trials: the loser redoes its batch."""
    records = [trial(f"R{n:04d}") for n in range(400)]

    def load(client):
        return client.put("/trials/batch", json={"records": records}, headers=AUTH)

    answers = run_together(app, [load, load])
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.json["created"] + a.json["unchanged"] for a in answers) == [400, 400]
    assert sum(a.json["created"] for a in answers) == 400
    assert app.test_client().get("/trials").json["count"] == 400
