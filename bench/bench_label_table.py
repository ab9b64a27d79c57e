"""label_table: rows labeled per second over a PostgreSQL table with 20 keyword labels, by one real worker
process (one thread for the task: its pipeline reads and writes in two more, and a table this large is labeled
in the worker's labeling processes, two by default, label_table/labeler.py), from `POST .../label_table/start`
to the output table swapped in; beside the labeling alone: the same function the labeling processes run
(labeler.label_texts, the same rules) over the first 100,000 texts of the same table, in memory, in chunks of
the job's size, with no database, in one thread, measured just before and just after each run, under the same
load (the job, labeling in two processes, may pass it). Run at each of BENCH_LABEL_TABLE_ROWS (default 250,000
and 1,000,000 rows): the peak RSS of the worker process and of its labeling processes at both show whether
memory grows with the table. The CPU each side spent on the task (the worker process, its labeling processes,
the PostgreSQL backends of the job's connections, told apart by their application_name) is read from /proc
while the task runs.
"""
from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.common import OUT, bench_database_url, dramatiq_worker, row

ROW_COUNTS = [int(n) for n in os.environ.get("BENCH_LABEL_TABLE_ROWS", "250000,1000000").split(",")]
CHUNK_ROWS = os.environ.get("COLLECTOR_LABEL_TABLE_CHUNK_ROWS", "5000")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN = "bench-token"
WORDS_PER_TEXT = 30
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
LABELS = {f"label{n:02d}": [f"키워드{n:02d}a", f"keyword{n:02d}b", f"표현{n:02d}c"] for n in range(20)}
FILLER = [f"단어{n}" for n in range(300)] + [f"word{n}" for n in range(300)]
INPUT_SEED = 7
APPLICATION_NAME = "bench_label_table"
POLL_SECONDS = 0.25
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def texts(count: int, seed: int):
    """Comment-like texts of 30 words; about 2% of words are keywords, so ~45% of rows get a label."""
    rng = random.Random(seed)
    keywords = [word for words in LABELS.values() for word in words]
    for _ in range(count):
        yield " ".join(rng.choice(keywords) if rng.random() < 0.02 else rng.choice(FILLER)
                       for _ in range(WORDS_PER_TEXT))


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fill_input(url: str, rows: int) -> None:
    """The user's table: (id, body, author, created_at), one row per second from 2026-01-01, by COPY."""
    with psycopg.connect(conninfo(url)) as connection:
        connection.execute("CREATE TABLE posts (id bigint PRIMARY KEY, body text, author text, "
                           "created_at timestamptz NOT NULL)")
        with connection.cursor().copy("COPY posts (id, body, author, created_at) FROM STDIN") as copy:
            for number, body in enumerate(texts(rows, INPUT_SEED), start=1):
                copy.write_row((number, body, f"user{number % 50_000}", FIRST + timedelta(seconds=number)))
        connection.execute("ANALYZE posts")


def labeling_alone() -> tuple[float, float]:
    """Rows per second of the labeling alone (wall clock), and its CPU seconds per row: labeler.label_texts,
    chunk by chunk, over the table's first 100,000 texts (the same generator and seed as fill_input) already
    in memory."""
    from services.collector.label_table.labeler import label_texts
    from services.collector.labeling import compile_rules

    rules = compile_rules({"model": "keyword", "labels": LABELS})
    size = int(CHUNK_ROWS)
    sample = list(texts(100_000, INPUT_SEED))
    chunks = [sample[start:start + size] for start in range(0, len(sample), size)]
    started, cpu = time.perf_counter(), time.process_time()
    for chunk in chunks:
        label_texts(rules, chunk)
    return len(sample) / (time.perf_counter() - started), (time.process_time() - cpu) / len(sample)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss(pid: int) -> int:
    """VmHWM of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def process_tree(pid: int) -> dict[int, int]:
    """{pid: parent} of every process below `pid`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    below, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child in [child for child, of in parents.items() if of == parent]:
            below[child] = parent
            todo.append(child)
    return below


class CpuWatch:
    """The CPU the worker process, its labeling process and the job's PostgreSQL backends (by their
    application_name) spend while the task runs: each process's first and last reading, a process that
    appears meanwhile counting from zero (a backend that closed keeps its last reading, one interval old)."""

    def __init__(self, dramatiq_pid: int, conninfo: str):
        self.dramatiq_pid = dramatiq_pid
        self.connection = psycopg.connect(conninfo, autocommit=True)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.backends: set[int] = set()
        self.tree: dict[int, int] = {}

    def sample(self) -> None:
        self.backends |= {pid for (pid,) in self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,))}
        self.tree.update(process_tree(self.dramatiq_pid))
        started = bool(self.first)
        for pid in [*self.tree, *self.backends]:
            seconds = cpu_seconds(pid)
            if seconds is not None:
                self.first.setdefault(pid, 0.0 if started else seconds)
                self.last[pid] = seconds

    def labeling_pids(self) -> list[int]:
        """The worker's labeling processes (label_table/labeler.py: spawned children)."""
        pids = []
        for pid in self.tree:
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(pid)
            except OSError:
                continue
        return pids

    def totals(self) -> dict[str, float]:
        """CPU seconds of "worker", "labeling" (its children) and "postgresql" (the job's backends)."""
        children = self.labeling_pids()
        worker = self.tree.get(children[0]) if children else None

        def spent(pids) -> float:
            return sum(self.last[pid] - self.first[pid] for pid in pids if pid in self.last)

        return {"worker": spent([worker] if worker else []), "labeling": spent(children),
                "postgresql": spent(self.backends)}


def label_table(rows: int) -> dict:
    """One run over `rows` rows in a fresh worker process: the finished task, and the labeling alone after it."""
    from services.collector import create_app
    from services.collector.models import db

    print(f"  label_table: filling {rows:,} rows...", flush=True)
    # The job's connections name themselves, so that CpuWatch finds their backends.
    user_url = make_url(bench_database_url("bench_label_table_user")) \
        .update_query_dict({"application_name": APPLICATION_NAME}).render_as_string(hide_password=False)
    started = time.perf_counter()
    fill_input(user_url, rows)
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
    collector_url = bench_database_url("bench_label_table_collector")
    env = {"COLLECTOR_DATABASE_URL": collector_url, "REDIS_URL": REDIS_URL, "SERVICE_TOKEN": TOKEN,
           "COLLECTOR_NAMESPACE": f"bench-label-{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "WARNING",
           "COLLECTOR_LABEL_TABLE_CHUNK_ROWS": CHUNK_ROWS, "LOG_DIR": str(OUT / "log")}
    app = create_app({"SQLALCHEMY_DATABASE_URI": collector_url, "REDIS_URL": REDIS_URL, "SERVICE_TOKEN": TOKEN,
                      "COLLECTOR_NAMESPACE": env["COLLECTOR_NAMESPACE"], "LOG_LEVEL": "WARNING",
                      "LOG_DIR": OUT / "log"})
    with app.app_context():
        db.create_all()
    client = app.test_client()
    (before, before_cpu), load = labeling_alone(), os.getloadavg()[0]
    body = {"input": {"database_url": user_url, "table": "posts", "text_column": "body", "id_column": "id",
                      "time_column": "created_at", "author_column": "author"},
            "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z",
            "rules": {"model": "keyword", "labels": LABELS}, "output": {"table": "posts_labels"}}
    with dramatiq_worker("label-table-worker.log", 1, env) as process:
        watch = CpuWatch(process.pid, conninfo(user_url))
        response = client.post("/api/v1/async-collection/label_table/start", json=body)
        task_id = response.json["task_id"]
        task, shown = {}, 0.0
        while task.get("status") not in ("completed", "failed", "cancelled"):
            time.sleep(POLL_SECONDS)
            task = client.get(f"/api/v1/async-collection/task/{task_id}").json
            if task["status"] != "pending":
                watch.sample()
            if time.monotonic() - shown >= 1:
                shown = time.monotonic()
                print(f"  {task['status']}: {task['progress']:,.0f}/{(task['total'] or 0):,.0f} rows", flush=True)
        logs = client.get(f"/api/v1/async-collection/task/{task_id}/logs?per_page=100").json["data"]
        print("".join(f"  {line['message']}\n" for line in logs if line["message"].startswith("The labeling")),
              end="")
        children = watch.labeling_pids()
        task["labeling_processes"] = len(children)
        task["labeling_peak"] = sum(peak_rss(child) for child in children)     # they outlive the task
        task["cpu"] = watch.totals()
        watch.connection.close()
    with app.app_context():
        db.engine.dispose()
    if task["status"] != "completed":
        raise RuntimeError(f"the label_table task ended {task['status']}: {task.get('error')}")
    after, after_cpu = labeling_alone()
    # The ceiling under the run's own conditions: the labeling alone just before and just after it.
    task["rate"], task["alone"] = rows / task["run_time"], (before + after) / 2
    task["alone_cpu"] = (before_cpu + after_cpu) / 2
    task["load"] = (load, os.getloadavg()[0])
    print(f"  {task['rate']:,.0f} rows/s over {task['run_time']:.1f} s "
          f"({task['result_summary']['rows_labeled']:,} labeled); labeling alone {before:,.0f} rows/s before, "
          f"{after:,.0f} after; peak RSS: worker {task['peak_memory'] / 2**20:.0f} MiB, labeling processes "
          f"({task['labeling_processes']}) {task['labeling_peak'] / 2**20:.0f} MiB; CPU: " + ", ".join(
              f"{name} {seconds:.1f} s" for name, seconds in task["cpu"].items())
          + f"; load average {load:.1f} before, {task['load'][1]:.1f} after")
    return task


def run() -> list[dict]:
    runs = {rows: label_table(rows) for rows in ROW_COUNTS}
    lines = []
    for rows, task in runs.items():
        lines.append(row(f"label_table: {rows:,} PostgreSQL rows, 20 keyword labels, 1 worker thread (rows/s)",
                         f"{task['rate']:,.0f} rows/s ({task['run_time']:.0f} s)",
                         f"{task['alone']:,.0f} rows/s (labeling alone, in memory; load average "
                         f"{task['load'][0]:.1f}–{task['load'][1]:.1f})",
                         f"{task['rate'] / task['alone']:.2f}", goal="≥ 0.8 of labeling alone"))
    rss = {rows: (task["peak_memory"] + task["labeling_peak"]) / 2**20 for rows, task in runs.items()}
    fewest, most = min(rss), max(rss)
    lines.append(row("label_table: peak RSS, worker + labeling processes, at " + " and ".join(
                         f"{rows:,}" for rows in rss) + " rows",
                     " / ".join(f"{runs[rows]['peak_memory'] / 2**20:.0f} + {runs[rows]['labeling_peak'] / 2**20:.0f}"
                                f" = {mib:.0f} MiB" for rows, mib in rss.items()), "",
                     f"{rss[most] / rss[fewest]:.2f}" if most != fewest else "",
                     goal=f"flat in the row count (chunks of {CHUNK_ROWS})"))
    for rows, task in runs.items():
        per_million = {name: seconds * 1_000_000 / rows for name, seconds in task["cpu"].items()}
        lines.append(row(f"label_table: CPU per 1,000,000 rows at {rows:,} (worker / labeling processes / "
                         "PostgreSQL)", " / ".join(f"{seconds:.1f} s" for seconds in per_million.values()),
                         f"{task['alone_cpu'] * 1_000_000:.1f} s (labeling alone)",
                         f"{per_million['labeling'] / (task['alone_cpu'] * 1_000_000):.2f}",
                         goal="the labeling processes near the labeling alone"))
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
