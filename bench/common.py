"""Helpers the benchmarks share: the machine, a database, gunicorn processes, wrk."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests
from sqlalchemy.engine import make_url

from shared.db import normalise_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = REPO_ROOT / "bench" / "out"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def bench_database_url(schema: str) -> str:
    """A fresh PostgreSQL schema at BENCH_DATABASE_URL (default: the local server's `test` database)."""
    base = make_url(normalise_database_url(os.environ.get("BENCH_DATABASE_URL",
                                                          "postgresql://postgres@127.0.0.1:5432/test")))
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(app: str, env: dict, workers: int = 2, threads: int = 1):
    """Serve `app` ("module:create_app()") under gunicorn on a free port; yield its base URL."""
    port = free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(OUT / f"gunicorn-{port}.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--log-level", "warning", app],
        env={**os.environ, "ENV_FILE": os.devnull, "LOG_LEVEL": "WARNING", **env}, cwd=REPO_ROOT,
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"gunicorn {app} did not start; see {log.name}")
        time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@contextmanager
def dramatiq_worker(log_name: str, threads: int, env: dict):
    """One collector worker process (`threads` threads) for the length of the block."""
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / log_name, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "dramatiq"), "services.collector.worker", "--processes", "1", "--threads", str(threads)],
            env={**os.environ, "ENV_FILE": os.devnull, **env}, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(30)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("the benchmarks need wrk (Debian: apt-get install wrk); `make bench` installs it as root")
    return found


def wrk(url: str, seconds: int = 10, connections: int = 16, threads: int = 2) -> dict:
    """Requests/s and latency percentiles (ms) from wrk --latency."""
    result = subprocess.run([wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                            capture_output=True, text=True, check=True)
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
            "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)), "non_2xx": int(errors.group(1)) if errors else 0}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def row(figure: str, ours: str, reference: str = "", ratio: str = "", goal: str = "") -> dict:
    return {"figure": figure, "ours": ours, "reference": reference, "ratio": ratio, "goal": goal}
