"""`make up` / `make down` / `make logs`: run the whole system on one machine.

up: Redis (the system's if one answers at REDIS_URL, else the bundled one), migrations,
then every process of deploy/Procfile under honcho, detached; waits for every /health,
loads the first data, prints each service's Swagger URL. down: stops exactly what up started.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy.engine import make_url

from shared.config import REPO_ROOT, Environment
from shared.redis_local import redis_answers, start_bundled_redis

BIN = Path(sys.executable).parent
# VAR_DIR moves everything `make up` writes (data, logs, pid files), e.g. for the e2e tests.
VAR = Path(Environment().str("VAR_DIR", str(REPO_ROOT / "var")))
STACK_PID = VAR / "stack.pid"
STACK_LOG = VAR / "log" / "stack.log"
REDIS_DIR = VAR / "redis"


@dataclass(frozen=True)
class Service:
    name: str
    port_key: str
    default_port: int
    app: str | None = None  # Flask app to migrate, if it has a database
    docs: bool = True
    extra_env: tuple[tuple[str, str], ...] = ()

    def port(self, env: Environment) -> int:
        return env.int(self.port_key, self.default_port)


SERVICES = [
    Service("sandbox", "SANDBOX_PORT", 5199, docs=False),
    Service("trials", "TRIALS_PORT", 5101, app="services.trials"),
    Service("grader", "GRADER_PORT", 5102, app="services.grader"),
    Service("collector", "COLLECTOR_PORT", 5105, app="services.collector"),
    # Two orders instances on separate databases (ORDERS_A/B_DATABASE_URL, default var/data/orders-a/b.sqlite3);
    # the integration (Procfile `orders-sync`) runs beside A with B as its peer.
    Service("orders-a", "ORDERS_A_PORT", 5103, app="services.orders", extra_env=(("ORDERS_INSTANCE", "A"),)),
    Service("orders-b", "ORDERS_B_PORT", 5104, app="services.orders", extra_env=(("ORDERS_INSTANCE", "B"),)),
]


def service_token(env: Environment) -> str:
    """SERVICE_TOKEN from the environment, else one generated once and kept in var/."""
    token = env.str("SERVICE_TOKEN")
    if token:
        return token
    path = VAR / "service_token"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def generated_secret(env: Environment, key: str, filename: str) -> str:
    """`key` from the environment, else a value generated once into var/<filename> (mode 600)."""
    value = env.str(key)
    if value:
        return value
    path = VAR / filename
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def ensure_redis(env: Environment) -> str:
    url = env.str("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_answers(url):
        print(f"redis      {make_url(url).render_as_string(hide_password=True)} (already running)")
        return url
    port = make_url(url).port or 6379
    start_bundled_redis(port, REDIS_DIR, daemonize=True)
    print(f"redis      redis://127.0.0.1:{port} (bundled redis-server, data in {REDIS_DIR})")
    return f"redis://127.0.0.1:{port}/0"


def process_env(env: Environment) -> dict:
    merged = {**os.environ}
    merged["PATH"] = f"{BIN}{os.pathsep}{merged.get('PATH', '')}"
    merged["PYTHONUNBUFFERED"] = "1"
    merged["VAR_DIR"] = str(VAR)
    merged["SERVICE_TOKEN"] = service_token(env)
    merged["REDIS_URL"] = ensure_redis(env)
    # The orders admin login (user ORDERS_ADMIN_USER, default "admin"): password and session key.
    merged["ORDERS_ADMIN_PASSWORD"] = generated_secret(env, "ORDERS_ADMIN_PASSWORD", "orders_admin_password")
    merged["ORDERS_SECRET_KEY"] = generated_secret(env, "ORDERS_SECRET_KEY", "orders_secret_key")
    # Where each service finds the others: <NAME>_URL, unless configured.
    for service in SERVICES:
        key = service.name.upper().replace("-", "_") + "_URL"
        merged.setdefault(key, env.str(key, f"http://127.0.0.1:{service.port(env)}"))
    sandbox = merged["SANDBOX_URL"]
    merged.setdefault("ODCLOUD_BASE_URL", env.str("ODCLOUD_BASE_URL", f"{sandbox}/api"))
    merged.setdefault("ODCLOUD_SERVICE_KEY", env.str("ODCLOUD_SERVICE_KEY", "sandbox-key"))
    # The grader statistics API: the sandbox's stand-in and its client credentials unless configured.
    merged.setdefault("GRADER_API_URL", env.str("GRADER_API_URL", sandbox))
    merged.setdefault("GRADER_CLIENT", env.str("GRADER_CLIENT", "Skillfactory"))
    merged.setdefault("GRADER_CLIENT_KEY", env.str("GRADER_CLIENT_KEY", "sandbox-grader-key"))
    return merged


def run(args: list[str], env: dict, timeout: float = 300) -> None:
    try:
        result = subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"no answer in {timeout:.0f} s: {' '.join(args)}\n{exc.stdout or ''}") from None
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed: {' '.join(args)}")


def stack_running() -> int | None:
    if not STACK_PID.exists():
        return None
    pid = int(STACK_PID.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        STACK_PID.unlink()
        return None
    return pid


def wait_healthy(services: list[Service], env: Environment, honcho: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        if honcho.poll() is not None:
            raise SystemExit(f"a process failed to start; see {STACK_LOG}:\n" + tail(STACK_LOG))
        service = pending[0]
        try:
            if requests.get(f"http://127.0.0.1:{service.port(env)}/health", timeout=1).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            down()
            raise SystemExit(f"{service.name} did not answer /health in {timeout}s; "
                             f"see {STACK_LOG}:\n{tail(STACK_LOG)}")
        time.sleep(0.2)


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def up() -> None:
    if stack_running():
        raise SystemExit("already running (make down first)")
    env = Environment()
    child_env = process_env(env)
    for service in SERVICES:
        if service.app:
            run([str(BIN / "flask"), "--app", service.app, "db", "upgrade"], {**child_env, **dict(service.extra_env)})
    STACK_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = open(STACK_LOG, "ab")
    honcho = subprocess.Popen([str(BIN / "honcho"), "-f", str(REPO_ROOT / "deploy" / "Procfile"), "-d", str(REPO_ROOT),
                               "start"], env=child_env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    STACK_PID.write_text(str(honcho.pid))
    wait_healthy(SERVICES, env, honcho)
    load_first_data(child_env)
    for service in SERVICES:
        url = f"http://127.0.0.1:{service.port(env)}"
        print(f"{service.name:<10} {url + '/docs' if service.docs else url}")
    if not env.str("ORDERS_ADMIN_PASSWORD"):
        print(f"orders admin: /admin on orders-a and orders-b, user admin, password in {VAR / 'orders_admin_password'}")
    print(f"logs: make logs ({STACK_LOG}); stop: make down")


def load_first_data(env: dict) -> None:
    """Fill the trials service from the sandbox (or the configured odcloud): start a `trials`
    collection through the collector API and wait until it ends (non-zero exit if it failed)."""
    collector = f"http://127.0.0.1:{Environment(environ=env).int('COLLECTOR_PORT', 5105)}"
    run([str(BIN / "python"), "-m", "services.collector", "--url", collector, "start", "trials", "--wait"], env)


def down() -> None:
    pid = stack_running()
    if pid:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        STACK_PID.unlink(missing_ok=True)
        print("stopped the services")
    redis_pid = REDIS_DIR / "redis.pid"
    if redis_pid.exists():
        try:
            os.kill(int(redis_pid.read_text()), signal.SIGTERM)
            print("stopped the bundled redis-server")
        except ProcessLookupError:
            pass
        redis_pid.unlink(missing_ok=True)


def logs() -> None:
    os.execvp("tail", ["tail", "-n", "100", "-F", str(STACK_LOG)])


def main(argv: list[str]) -> None:
    commands = {"up": up, "down": down, "logs": logs}
    if len(argv) != 1 or argv[0] not in commands:
        raise SystemExit("usage: python -m deploy.stack up|down|logs")
    commands[argv[0]]()


if __name__ == "__main__":
    main(sys.argv[1:])
