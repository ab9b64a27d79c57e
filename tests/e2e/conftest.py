"""The whole stack, started exactly as `make up` starts it, on free ports with fresh data."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.fake_google import FakeGoogle
from tests.support.processes import REPO_ROOT, free_port
from tests.support.smtp import smtp_server


@dataclass
class Stack:
    urls: dict[str, str]
    env: dict[str, str]
    var: Path
    output: str

    def url(self, service: str) -> str:
        return self.urls[service]

    @property
    def service_token(self) -> str:
        return (self.var / "service_token").read_text().strip()

    @property
    def collector_key(self) -> str:
        """The operator key `make up` wrote for the collector."""
        return (self.var / "collector_operator_key").read_text().strip()


def _stack(command: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploy.stack", command], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def outside(tmp_path_factory):
    """What is outside our walls for the report: a local SMTP server and the Sheets v4 fake."""
    credentials = tmp_path_factory.mktemp("google") / "service-account.json"
    with smtp_server() as inbox, FakeGoogle() as google:
        google.service_account_file(credentials)
        yield {"inbox": inbox, "google": google, "env": {
            "GRADER_SMTP_HOST": "127.0.0.1", "GRADER_SMTP_PORT": str(inbox.port), "GRADER_SMTP_SECURITY": "none",
            "GRADER_REPORT_RECIPIENTS": "manager@example.edu", "GRADER_REPORT_FROM": "grader@example.edu",
            "GRADER_SHEETS_CREDENTIALS_FILE": str(credentials),
            "GRADER_SHEETS_SPREADSHEET_ID": google.spreadsheet.spreadsheet_id,
            "GRADER_SHEETS_API_URL": google.url}}


@pytest.fixture(scope="session")
def stack(tmp_path_factory, redis_server_url, outside):
    from deploy.stack import SERVICES

    var = tmp_path_factory.mktemp("stack-var")
    ports = {service.name: free_port() for service in SERVICES}
    env = {**os.environ, "ENV_FILE": os.devnull, "VAR_DIR": str(var), "REDIS_URL": f"{redis_server_url}/15",
           "COLLECTOR_NAMESPACE": f"e2e-{os.getpid()}", "SANDBOX_GRADER_ATTEMPTS_PER_DAY": "2000",
           # A killed worker's task is re-run in seconds, not the default 30 s + 15 s (test_process_death).
           "COLLECTOR_HEARTBEAT_SECONDS": "1", "COLLECTOR_HEARTBEAT_TIMEOUT": "8", "COLLECTOR_REAP_SECONDS": "1",
           **outside["env"],
           **{service.port_key: str(ports[service.name]) for service in SERVICES}}
    env.pop("SERVICE_TOKEN", None)
    started = _stack("up", env, timeout=300)
    if started.returncode != 0:
        _stack("down", env, timeout=60)
        pytest.fail(f"make up failed:\n{started.stdout}\n{started.stderr}")
    yield Stack({name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, env, var, started.stdout)
    stopped = _stack("down", env, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
