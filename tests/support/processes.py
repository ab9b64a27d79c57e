"""Start real processes for end-to-end tests and wait until they answer over HTTP."""
from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


# The ports the tests' servers are told to listen on are picked below the kernel's ephemeral range. A
# port the kernel hands out in that range, closed again until the server binds it, may meanwhile become
# the local end of any outbound connection on the machine (CI saw a server find its port taken, once):
# below the range only another test's pick can collide, and picks are random and checked.
_PORTS = random.SystemRandom()   # not `random`: a seeded generator could give every xdist worker the same picks
LOWEST_PORT = 10000


def _ephemeral_range_start() -> int | None:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing listens on, for a server a test starts (and tells other processes of)."""
    start = _ephemeral_range_start()
    if start is not None and start > LOWEST_PORT + 1000:
        for _ in range(100):
            if _bindable(port := _PORTS.randrange(LOWEST_PORT, start)):
                return port
    with socket.socket() as sock:   # no such range (not Linux), or that part of it all taken
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveProcess:
    """A child process whose output goes to `log_path`; `url` answers once it is ready."""

    def __init__(self, args: list[str], env: dict, log_path: Path, port: int | None = None,
                 health_path: str = "/health"):
        self.args, self.log_path, self.port, self.health_path = args, log_path, port, health_path
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in env.items()}}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, env=self.env, cwd=REPO_ROOT, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        if self.port is not None:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.args} exited with {self.process.returncode}:\n{self.output()}")
            try:
                if requests.get(self.url + self.health_path, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.args} did not answer {self.health_path} in {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """Terminate the process if it still runs (then kill it after `timeout`); close its log."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean-up runs in the child."""
        self.process.kill()
        self.process.wait()
        self._log.close()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def flask_app(app: str, port: int) -> list[str]:
    """A service under the Flask development server (threaded)."""
    return python_module("flask", "--app", app, "run", "--port", str(port), "--no-reload", "--with-threads")


def collector_worker(threads: int) -> list[str]:
    """The collector's Dramatiq worker as `make up` runs it: one process of `threads` threads."""
    return python_module("dramatiq", "services.collector.worker", "--processes", "1", "--threads", str(threads))
