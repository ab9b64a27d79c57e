"""Helpers the benchmarks share: the machine, a database, gunicorn processes, wrk."""
from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
def gunicorn(app: str, env: dict, workers: int = 2, threads: int = 1, port: int | None = None,
             args: Sequence[str] = ()):
    """Serve `app` ("module:create_app()") under gunicorn on `port` (a free one by default), with
    gunicorn's `args` besides; yield its base URL."""
    port = port or free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(OUT / f"gunicorn-{port}.log", "ab")  # appended: gunicorns sharing a port (--reuse-port) share it
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--log-level", "warning", *args, app],
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


# Datasette, the peer the trials reads are measured against (issue 15), lives in a venv of its own
# that the bench makes with pip, as `make bench` installs wrk: the project's dependencies do not grow.
DATASETTE = "datasette>=0.65,<0.66"
DATASETTE_VENV = Path(os.environ.get("BENCH_DATASETTE_VENV", REPO_ROOT / "var" / "bench-datasette"))


def datasette_binary() -> Path:
    """`datasette` from DATASETTE_VENV, created (python -m venv, pip install DATASETTE) when missing."""
    binary = DATASETTE_VENV / "bin" / "datasette"
    stamp = DATASETTE_VENV / ".installed"
    if not (binary.exists() and stamp.exists() and stamp.read_text() == DATASETTE):
        print(f"  installing {DATASETTE} into {DATASETTE_VENV}")
        if not (DATASETTE_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(DATASETTE_VENV)], check=True)
        subprocess.run([str(DATASETTE_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", DATASETTE], check=True)
        stamp.write_text(DATASETTE)
    return binary


@functools.cache
def datasette_version() -> str:
    out = subprocess.run([str(datasette_binary()), "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


@contextmanager
def datasette(database: Path, instances: int = 2):
    """`instances` Datasette processes serving `database` (mutable, as a table browser opens a file;
    facet suggestions off, its fastest JSON), each on a free port; yield their base URLs.

    Datasette runs one process (uvicorn, a thread pool for SQL): "2 processes", to match the trials
    service's 2 gunicorn workers on this 2-core host, is two instances side by side, each sent half
    of the connections (wrk_split)."""
    binary = datasette_binary()
    OUT.mkdir(parents=True, exist_ok=True)
    started = []
    try:
        for _ in range(instances):
            port = free_port()
            log = open(OUT / f"datasette-{port}.log", "wb")
            process = subprocess.Popen(
                [str(binary), "serve", str(database), "--host", "127.0.0.1", "--port", str(port),
                 "--setting", "suggest_facets", "off"],
                stdout=log, stderr=subprocess.STDOUT, cwd=OUT)
            started.append((process, log, f"http://127.0.0.1:{port}"))
        for process, log, url in started:
            _wait_until_up(process, url + "/-/versions.json", f"datasette on {url}; see {log.name}")
        yield [url for _, _, url in started]
    finally:
        for process, _, _ in started:
            process.terminate()
        for process, log, _ in started:
            process.wait(10)
            log.close()


def _wait_until_up(process: subprocess.Popen, url: str, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


def wrk_split(urls: list[str], seconds: int = 10, connections: int = 16, threads: int = 2) -> dict:
    """One wrk per URL, all at once, sharing `threads` and `connections` between them: the summed
    requests/s and the worst p50 / p99 (for servers that are several processes behind nothing)."""
    share_t, share_c = max(1, threads // len(urls)), max(1, connections // len(urls))
    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(lambda url: wrk(url, seconds, share_c, share_t), urls))
    return {"rps": sum(r["rps"] for r in results), "p50": max(r["p50"] for r in results),
            "p99": max(r["p99"] for r in results), "non_2xx": sum(r["non_2xx"] for r in results)}


def row(figure: str, ours: str, reference: str = "", ratio: str = "", goal: str = "") -> dict:
    return {"figure": figure, "ours": ours, "reference": reference, "ratio": ratio, "goal": goal}
