"""`make up` / `make down` / `make logs`: run the whole system on one machine.

up: Redis (the system's if one answers at REDIS_URL, else the bundled one), migrations,
then every process of PROCESSES under supervisord, detached; waits for every /health,
loads the first data, prints each service's Swagger URL. down: stops exactly what up started.

supervisord restarts a process that dies (a crash, an out-of-memory kill) while the others
keep serving: at once after a process that had been running, with a growing pause (1 s, 2 s,
3 s, ...) while it keeps failing to start, and it logs every exit and spawn in stack.log.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import xmlrpc.client
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
COLLECTOR_OPERATOR_KEY = VAR / "collector_operator_key"
STACK_LOG = VAR / "log" / "stack.log"          # supervisord: every spawn, exit and restart
PROCESS_LOGS = VAR / "log" / "processes"       # each process's own output, <name>.log
SUPERVISOR_CONF = VAR / "supervisord.conf"
SUPERVISOR_SOCKET = VAR / "supervisor.sock"
REDIS_DIR = VAR / "redis"
# A process must stay up this long to count as started; one that dies sooner is retried after
# a pause one second longer each time, and given up (FATAL, logged) after START_RETRIES tries.
START_SECONDS = 5
START_RETRIES = 30
STOP_WAIT_SECONDS = 20


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
    # the integration (process `orders-sync`) runs beside A with B as its peer.
    Service("orders-a", "ORDERS_A_PORT", 5103, app="services.orders", extra_env=(("ORDERS_INSTANCE", "A"),)),
    Service("orders-b", "ORDERS_B_PORT", 5104, app="services.orders", extra_env=(("ORDERS_INSTANCE", "B"),)),
]


@dataclass(frozen=True)
class Process:
    """One supervised process. `{KEY}` in the command or env is filled in by `placeholders()`."""
    name: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def gunicorn(app: str, port_key: str, *options: str) -> tuple[str, ...]:
    return ("gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"{{BIND_HOST}}:{{{port_key}}}", *options, app)


ORDERS_A = (("ORDERS_INSTANCE", "A"), ("ORDERS_PEER_URL", "{ORDERS_PEER_URL}"))

# Every process `make up` runs, the one list (deploy/compose.yaml has a container for each but the sandbox).
PROCESSES = (
    Process("sandbox", gunicorn("deploy.sandbox:create_app()", "SANDBOX_PORT", "--workers", "1", "--threads", "8")),
    Process("trials", gunicorn("services.trials:create_app()", "TRIALS_PORT")),
    Process("grader", gunicorn("services.grader:create_app()", "GRADER_PORT", "--timeout", "300")),
    Process("collector", gunicorn("services.collector:create_app()", "COLLECTOR_PORT")),
    Process("collector-worker", ("dramatiq", "services.collector.worker", "--processes", "1", "--threads", "10"),
            env=(("dramatiq_worker_timeout", "{COLLECTOR_WORKER_POLL_MS}"),
                 # Dramatiq's Prometheus middleware (services/collector/worker.py): its own metrics server.
                 ("dramatiq_prom_host", "{BIND_HOST}"), ("dramatiq_prom_port", "{COLLECTOR_WORKER_METRICS_PORT}"),
                 ("dramatiq_prom_db", "{METRICS_DIR}/collector-worker"))),
    Process("collector-scheduler", ("python", "-m", "services.collector.scheduler")),
    Process("orders-a", gunicorn("services.orders:create_app()", "ORDERS_A_PORT"), env=ORDERS_A),
    Process("orders-b", gunicorn("services.orders:create_app()", "ORDERS_B_PORT"), env=(("ORDERS_INSTANCE", "B"),)),
    Process("orders-sync", ("flask", "--app", "services.orders", "sync", "run"), env=ORDERS_A),
)


def placeholders(env: Environment, child_env: dict) -> dict[str, str]:
    values = {service.port_key: str(service.port(env)) for service in SERVICES}
    values["BIND_HOST"] = env.str("BIND_HOST", "127.0.0.1")
    values["COLLECTOR_WORKER_POLL_MS"] = env.str("COLLECTOR_WORKER_POLL_MS", "50")
    values["COLLECTOR_WORKER_METRICS_PORT"] = env.str("COLLECTOR_WORKER_METRICS_PORT", "5106")
    values["METRICS_DIR"] = str(VAR / "metrics")
    values["ORDERS_PEER_URL"] = env.str("ORDERS_PEER_URL", child_env["ORDERS_B_URL"])
    return values


def _supervisor_quote(value: str) -> str:
    return value.replace("%", "%%")


def supervisor_config(processes: tuple[Process, ...], values: dict[str, str]) -> str:
    """supervisord.conf for `processes`; supervisord passes its own environment to each."""
    sections = [f"""[supervisord]
nodaemon=true
silent=true
logfile={STACK_LOG}
logfile_maxbytes=0
pidfile={VAR / "supervisord.pid"}
directory={REPO_ROOT}
childlogdir={PROCESS_LOGS}

[unix_http_server]
file={SUPERVISOR_SOCKET}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{SUPERVISOR_SOCKET}
"""]
    for process in processes:
        command = [part.format(**values) for part in process.command]
        if (BIN / command[0]).exists():
            command[0] = str(BIN / command[0])
        environment = ",".join(f'{key}="{value.format(**values)}"' for key, value in process.env)
        sections.append(f"""[program:{process.name}]
command={_supervisor_quote(shlex.join(command))}
directory={REPO_ROOT}
{"environment=" + _supervisor_quote(environment) if environment else ""}
autorestart=true
startsecs={START_SECONDS}
startretries={START_RETRIES}
stopwaitsecs={STOP_WAIT_SECONDS}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={PROCESS_LOGS / (process.name + ".log")}
stdout_logfile_maxbytes=0
""")
    return "\n".join(sections)


def supervisor(socket: Path = SUPERVISOR_SOCKET) -> xmlrpc.client.ServerProxy:
    """supervisord's XML-RPC interface (getAllProcessInfo, getProcessInfo, ...) on its socket."""
    from supervisor.xmlrpc import SupervisorTransport

    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{socket}"))


def process_states(socket: Path = SUPERVISOR_SOCKET) -> dict[str, dict]:
    """name -> supervisord's info (statename, pid, ...) for every process; empty if it does not answer."""
    try:
        with supervisor(socket) as proxy:  # closes the socket's connection
            return {info["name"]: info for info in proxy.supervisor.getAllProcessInfo()}
    except (OSError, xmlrpc.client.Error):
        return {}


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
    # The collector dashboard's session cookie key (SECURITY.md).
    merged["COLLECTOR_SESSION_KEY"] = generated_secret(env, "COLLECTOR_SESSION_KEY", "collector_session_key")
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


def wait_healthy(services: list[Service], env: Environment, supervisord: subprocess.Popen,
                 timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        if supervisord.poll() is not None:
            raise SystemExit(f"supervisord stopped; see {STACK_LOG}:\n" + tail(STACK_LOG))
        fatal = [name for name, info in process_states().items() if info["statename"] == "FATAL"]
        if fatal:
            down()
            raise SystemExit(f"{', '.join(fatal)} could not start; see {STACK_LOG} and {PROCESS_LOGS}:\n"
                             + "\n".join(tail(PROCESS_LOGS / f"{name}.log") for name in fatal))
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
                             f"see {PROCESS_LOGS / service.name}.log:\n{tail(PROCESS_LOGS / f'{service.name}.log')}")
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
    # An operator key for the collector, kept in var/ (mode 600) while it stays valid.
    run([str(BIN / "flask"), "--app", "services.collector", "keys", "ensure-file", str(COLLECTOR_OPERATOR_KEY)],
        child_env)
    PROCESS_LOGS.mkdir(parents=True, exist_ok=True)
    SUPERVISOR_CONF.write_text(supervisor_config(PROCESSES, placeholders(env, child_env)))
    # supervisord logs to STACK_LOG itself; this only catches what it prints before it can.
    log = open(STACK_LOG, "ab")
    supervisord = subprocess.Popen([str(BIN / "supervisord"), "-c", str(SUPERVISOR_CONF)], env=child_env,
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    STACK_PID.write_text(str(supervisord.pid))
    wait_healthy(SERVICES, env, supervisord)
    load_first_data(child_env)
    for service in SERVICES:
        url = f"http://127.0.0.1:{service.port(env)}"
        print(f"{service.name:<10} {url + '/docs' if service.docs else url}")
    if not env.str("ORDERS_ADMIN_PASSWORD"):
        print(f"orders admin: /admin on orders-a and orders-b, user admin, password in {VAR / 'orders_admin_password'}")
    print(f"collector operator key: {COLLECTOR_OPERATOR_KEY} (send it as X-API-Key; SECURITY.md)")
    print(f"logs: make logs ({STACK_LOG}); stop: make down")


def load_first_data(env: dict) -> None:
    """Fill the trials service from the sandbox (or the configured odcloud): start a `trials`
    collection through the collector API and wait until it ends (non-zero exit if it failed)."""
    collector = f"http://127.0.0.1:{Environment(environ=env).int('COLLECTOR_PORT', 5105)}"
    key = COLLECTOR_OPERATOR_KEY.read_text().strip()  # works in COLLECTOR_AUTH=required too
    run([str(BIN / "python"), "-m", "services.collector", "--url", collector, "start", "trials", "--wait"],
        {**env, "COLLECTOR_API_KEY": key})


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (a failed `up`), now reaped
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down() -> None:
    pid = stack_running()
    if pid:
        # Each process is the leader of its own group under supervisord: note them in case it hangs.
        groups = [info["pid"] for info in process_states().values() if info["pid"]]
        os.kill(pid, signal.SIGTERM)  # supervisord stops every process (TERM, then KILL after stopwaitsecs)
        deadline = time.monotonic() + STOP_WAIT_SECONDS + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            for group in [pid, *groups]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
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
    """Follow supervisord's log and every process's output (tail names the file before each part)."""
    files = [str(STACK_LOG), *(str(PROCESS_LOGS / f"{process.name}.log") for process in PROCESSES)]
    os.execvp("tail", ["tail", "-n", "20", "-F", *files])


def main(argv: list[str]) -> None:
    commands = {"up": up, "down": down, "logs": logs}
    if len(argv) != 1 or argv[0] not in commands:
        raise SystemExit("usage: python -m deploy.stack up|down|logs")
    commands[argv[0]]()


if __name__ == "__main__":
    main(sys.argv[1:])
