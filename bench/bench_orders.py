"""Orders two-way sync: propagation delay B -> A (p50/p99 over N edits), the initial sync of
10,000 orders (seconds and requests; pulled from B, and pushed to B), and the integration's
requests per minute when idle.

Both instances under gunicorn (2 workers) on SQLite files, the integration as its own
process (ORDERS_SYNC_INTERVAL=0.5, the default). Sizes: BENCH_ORDERS_EDITS (200),
BENCH_ORDERS_INITIAL (10000), BENCH_ORDERS_IDLE_SECONDS (20),
BENCH_ORDERS_PUSH_INITIAL (10000), BENCH_ORDERS_PUSH_CONCURRENCY (8, the integration's
ORDERS_SYNC_PUSH_CONCURRENCY).

The push row gives the CPU each side spent per pushed order (B's gunicorn masters and workers,
the integration process from its start) and the host's 1-minute load average before and after:
on a shared 2-core host the wall time says as much about the neighbours as about the push.

B of the push is two gunicorns of one worker x 4 threads bound to one port with SO_REUSEPORT
(BENCH_ORDERS_PUSH_B=split, the default), so the kernel spreads the integration's kept-alive
connections over both processes; BENCH_ORDERS_PUSH_B=one is one gunicorn of 2 workers x 4 threads,
where whichever worker wakes first accepts, and one often took all eight. Either way B writes its
access log through deploy/access_log.py's logger, as `make up` does, and the CPU of each B worker
is printed.

The push's ceiling is measured beside it: the same integration pushing the same orders to
bench/bare_flask.py's peer (a POST /orders that reads the JSON body and answers 201 with a version,
an empty change feed) served the same way. Both are timed from the integration's start to B's
access log showing every POST answered 201.
"""
from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from bench.common import BIN, OUT, REPO_ROOT, free_port, gunicorn, row

EDITS = int(os.environ.get("BENCH_ORDERS_EDITS", "200"))
INITIAL = int(os.environ.get("BENCH_ORDERS_INITIAL", "10000"))
IDLE_SECONDS = float(os.environ.get("BENCH_ORDERS_IDLE_SECONDS", "20"))
PUSH_INITIAL = int(os.environ.get("BENCH_ORDERS_PUSH_INITIAL", "10000"))
PUSH_CONCURRENCY = int(os.environ.get("BENCH_ORDERS_PUSH_CONCURRENCY", "8"))
PUSH_B = os.environ.get("BENCH_ORDERS_PUSH_B", "split")
LOGGER = "--logger-class deploy.access_log.RedactingLogger"
ORDERS_APP, BARE_APP = "services.orders:create_app()", "bench.bare_flask:create_app()"
INTERVAL = 0.5  # ORDERS_SYNC_INTERVAL's default, which the integration runs with here
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY = {"customer_name": "Bench Customer", "customer_email": "bench@example.com",
        "items": [{"sku": "B-1", "name": "Thing", "qty": 1, "unit_price": "3.00"}], "currency": "EUR"}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _migrated(url: str, instance: str, preload: int = 0) -> None:
    from flask_migrate import upgrade

    from services.orders import create_app, orders
    from services.orders.models import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ORDERS_INSTANCE": instance, "LOG_LEVEL": "WARNING",
                      "LOG_DIR": str(OUT / "log")})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        for start in range(0, preload, 1000):  # set-up, not measured: B already holds these orders
            batch = range(start, min(preload, start + 1000))
            seqs = orders.reserve_seqs(len(batch))
            for i in batch:
                content = orders.normalise_content({**BODY, "note": f"preloaded {i}"}, fallback_number=f"PRE-{i}")
                orders.write_content(str(uuid.uuid4()), content, existing=None, seqs=seqs)
            db.session.commit()
        db.engine.dispose()


@contextmanager
def _split_gunicorns(env: dict, processes: int = 2, threads: int = 4, app: str = ORDERS_APP):
    """`processes` gunicorns of one worker bound to one port with SO_REUSEPORT: the kernel hands
    each new connection to one of their listening sockets (by a hash of its addresses), so kept-
    alive connections spread over the processes instead of going to whichever worker wakes first."""
    port = free_port()
    with ExitStack() as stack:
        for _ in range(processes):
            url = stack.enter_context(gunicorn(app, env, 1, threads, port=port,
                                               args=["--reuse-port"]))
        # /health may have been answered by a process started before: wait for every worker.
        _wait(lambda: len(_gunicorn_pids(url)) == 2 * processes, timeout=30, interval=0.1)
        yield url


@contextmanager
def _pair(workdir: Path, preload: int = 0, preload_on: str = "B", split_b: bool = False,
          app_b: str = ORDERS_APP):
    url_a, url_b = f"sqlite:///{workdir / 'a.sqlite3'}", f"sqlite:///{workdir / 'b.sqlite3'}"
    _migrated(url_a, "A", preload if preload_on == "A" else 0)
    _migrated(url_b, "B", preload if preload_on == "B" else 0)
    access_log = workdir / "b-access.log"
    common = {"SERVICE_TOKEN": TOKEN, "LOG_DIR": str(OUT / "log")}
    env_b = {**common, "ORDERS_INSTANCE": "B", "ORDERS_DATABASE_URL": url_b,
             "GUNICORN_CMD_ARGS": f"--access-logfile {access_log} {LOGGER}"}
    serve_b = _split_gunicorns(env_b, app=app_b) if split_b else gunicorn(app_b, env_b, workers=2, threads=4)
    with serve_b as b, \
            gunicorn(ORDERS_APP, {**common, "ORDERS_INSTANCE": "A", "ORDERS_DATABASE_URL": url_a},
                     workers=2, threads=4) as a:
        yield a, b, url_a, access_log, common


@contextmanager
def _integration(url_a: str, peer: str, common: dict):
    env = {**os.environ, "ENV_FILE": os.devnull, "LOG_LEVEL": "WARNING", **common, "ORDERS_INSTANCE": "A",
           "ORDERS_DATABASE_URL": url_a, "ORDERS_PEER_URL": peer}
    with open(OUT / "orders-sync.log", "wb") as log:
        process = subprocess.Popen([str(BIN / "flask"), "--app", "services.orders", "sync", "run"], env=env,
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(20)


def _sync_requests(access_log: Path) -> int:
    if not access_log.exists():
        return 0
    return sum(1 for line in access_log.read_text().splitlines() if "orders-sync/" in line)


def _sync_failures(access_log: Path) -> int:
    """The integration's requests that B answered with a 4xx or 5xx (gunicorn's common log format)."""
    if not access_log.exists():
        return 0
    return sum(1 for line in access_log.read_text().splitlines()
               if "orders-sync/" in line and re.search(r'" [45]\d\d ', line))


def _created(access_log: Path) -> int:
    """The POSTs of orders B has answered 201 (a line is written once the answer is sent)."""
    return access_log.read_bytes().count(b'"POST /orders HTTP/1.1" 201 ') if access_log.exists() else 0


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU these processes have used so far (from /proc; 0 for one that is gone)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _gunicorn_pids(url: str) -> list[int]:
    """The gunicorn masters serving `url` and their workers."""
    bind = f"127.0.0.1:{url.rsplit(':', 1)[1]}".encode()
    masters, parents = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if bind in (entry / "cmdline").read_bytes():
                masters.add(int(entry.name))
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    return sorted(masters | {pid for pid, parent in parents.items() if parent in masters})


def _wait(check, timeout: float = 300.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the sync")
        time.sleep(interval)


def _count(url: str) -> int:
    return requests.get(f"{url}/orders", params={"per_page": 1}, timeout=10).json()["count"]


def propagation(a: str, b: str) -> list[float]:
    created = requests.post(f"{b}/orders", json=BODY, headers=AUTH, timeout=10).json()
    uuid_ = created["uuid"]
    _wait(lambda: requests.get(f"{a}/orders/{uuid_}", timeout=5).status_code == 200)
    delays = []
    for i in range(EDITS):
        note = f"edit {i}"
        # Edits at random moments: right after seeing the last one arrive would always land
        # just after a sync round and measure the full interval every time.
        time.sleep(random.uniform(0, INTERVAL))
        started = time.monotonic()
        requests.put(f"{b}/orders/{uuid_}", json={**BODY, "note": note}, headers=AUTH, timeout=10).raise_for_status()
        _wait(lambda note=note: requests.get(f"{a}/orders/{uuid_}", timeout=5).json()["note"] == note)
        delays.append(time.monotonic() - started)
        if i % 50 == 49:
            print(f"  {i + 1}/{EDITS} edits, p50 so far {statistics.median(delays) * 1000:.0f} ms")
    return delays


def pull_and_propagation(tmp: Path) -> list[dict]:
    """The first sync B -> A of INITIAL orders, then the propagation delay and the idle request rate."""
    rows = []
    workdir = tmp / "initial"
    workdir.mkdir()
    print(f"orders: preloading {INITIAL} orders on B, then the first sync to an empty A")
    with _pair(workdir, preload=INITIAL) as (a, b, url_a, access_log, common):
        before = _sync_requests(access_log)
        started = time.monotonic()
        with _integration(url_a, b, common):
            _wait(lambda: _count(a) >= INITIAL, interval=0.1)
            seconds = time.monotonic() - started
            _wait(lambda: requests.get(f"{a}/sync/status", timeout=10).json()["lag"]["peer_changes"] == 0)
            made = _sync_requests(access_log) - before
            rows.append(row(f"orders: initial sync of {INITIAL} orders B -> A", f"{seconds:.1f} s",
                            f"{made} requests to B (incl. process start)", "", "< 30 s"))
            print(f"  initial sync: {seconds:.1f} s, {made} requests")

            print(f"orders: propagation delay B -> A over {EDITS} edits")
            delays = propagation(a, b)
            p50, p99 = _percentile(delays, 0.5) * 1000, _percentile(delays, 0.99) * 1000
            rows.append(row(f"orders: propagation B -> A, p50 ({EDITS} edits)", f"{p50:.0f} ms",
                            "sync interval 500 ms", "", "< 500 ms"))
            rows.append(row(f"orders: propagation B -> A, p99 ({EDITS} edits)", f"{p99:.0f} ms",
                            "sync interval 500 ms", "", ""))

            print(f"orders: idle requests over {IDLE_SECONDS:.0f} s")
            time.sleep(1.0)  # let the last echo round finish
            before = _sync_requests(access_log)
            time.sleep(IDLE_SECONDS)
            per_minute = (_sync_requests(access_log) - before) * 60 / IDLE_SECONDS
            rows.append(row("orders: integration requests/min while nothing changes", f"{per_minute:.0f}",
                            "1 feed GET per 0.5 s round = 120", "", ""))
    return rows


def _push_once(workdir: Path, app_b: str) -> dict:
    """The first sync A -> B of PUSH_INITIAL orders to `app_b`: seconds, requests, CPU per order."""
    workdir.mkdir()
    with _pair(workdir, preload=PUSH_INITIAL, preload_on="A", split_b=PUSH_B == "split", app_b=app_b) as \
            (a, b, url_a, access_log, common):
        peer = _gunicorn_pids(b)
        peer_before = _cpu_seconds(peer)
        each_before = [_cpu_seconds([pid]) for pid in peer]
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        with _integration(url_a, b, {**common, "ORDERS_SYNC_PUSH_CONCURRENCY": str(PUSH_CONCURRENCY)}) as process:
            # B's access log, read by this process: polling B or A over HTTP would add to what is measured.
            _wait(lambda: _created(access_log) >= PUSH_INITIAL, interval=0.1)
            seconds = time.monotonic() - started
            # CPU per order says where the time goes whatever else the host is running.
            integration_ms = _cpu_seconds([process.pid]) * 1000 / PUSH_INITIAL
            peer_ms = (_cpu_seconds(peer) - peer_before) * 1000 / PUSH_INITIAL
            # Per process (masters near 0): one worker doing all the work means B used one core.
            each = [_cpu_seconds([pid]) - before for pid, before in zip(peer, each_before, strict=True)]
            load_after = os.getloadavg()[0]
            _wait(lambda: requests.get(f"{a}/sync/status", timeout=10).json()["lag"]["local_pending"] == 0)
            made, refused = _sync_requests(access_log), _sync_failures(access_log)
    print(f"  push to {app_b}: {seconds:.1f} s, {made} requests, {refused} answered 4xx/5xx; CPU per order: "
          f"B {peer_ms:.2f} ms, integration {integration_ms:.2f} ms; load {load_before:.1f} -> {load_after:.1f}")
    print(f"  B ({PUSH_B}): CPU seconds per process {', '.join(f'{seconds:.1f}' for seconds in each)}")
    return {"seconds": seconds, "made": made, "refused": refused, "peer_ms": peer_ms,
            "integration_ms": integration_ms, "load": f"{load_before:.1f} -> {load_after:.1f}"}


def push(tmp: Path) -> list[dict]:
    """The first sync A -> B of PUSH_INITIAL orders, one POST each, PUSH_CONCURRENCY at a time: to the
    orders service, and to the bare peer, its ceiling."""
    print(f"orders: preloading {PUSH_INITIAL} orders on A, then the first sync to an empty B "
          f"(one POST each, {PUSH_CONCURRENCY} at a time), then the same to the bare peer")
    ours = _push_once(tmp / "push", ORDERS_APP)
    bare = _push_once(tmp / "push-bare", BARE_APP)
    spread = "2 gunicorns of 1 worker on one port (SO_REUSEPORT)" if PUSH_B == "split" else "1 gunicorn of 2 workers"
    return [row(f"orders: initial sync of {PUSH_INITIAL} orders A -> B (push)", f"{ours['seconds']:.1f} s",
                f"{bare['seconds']:.1f} s to bare Flask's POST (the ceiling); {ours['made']} requests to B "
                f"({ours['refused']} not 2xx), {PUSH_CONCURRENCY} in flight; no batch write in the public API; "
                f"B {spread}; load {ours['load']}", f"{bare['seconds'] / ours['seconds']:.2f}", "< 10 s"),
            row("orders: push, CPU per order (B's gunicorn / the integration)",
                f"{ours['peer_ms']:.2f} / {ours['integration_ms']:.2f} ms",
                f"{bare['peer_ms']:.2f} / {bare['integration_ms']:.2f} ms to bare Flask; the integration's incl. "
                "its start", "", "")]


def run() -> list[dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        rows = pull_and_propagation(Path(tmp)) + push(Path(tmp))
    for r in rows:
        print(f"  {r['figure']}: {r['ours']}")
    return rows


if __name__ == "__main__":
    run()
