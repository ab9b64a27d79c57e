"""The deployment files agree with each other (no Docker engine runs here to try them)."""
import re
import runpy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stack_processes() -> set[str]:
    from deploy.stack import PROCESSES

    return {process.name for process in PROCESSES}


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_every_process_of_make_up_has_a_container():
    services = compose()["services"]
    assert stack_processes() - {"sandbox"} <= set(services)
    assert {"postgres", "redis", "migrate"} <= set(services)


def test_dependencies_exist_and_apps_are_built_from_one_image():
    services = compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        if name not in {"postgres", "redis"}:
            assert service["image"] == "flask-services:latest"
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert service["command"]


def test_no_secret_is_written_in_the_compose_file():
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET|KEY", key) and value:
                assert str(value).startswith("${"), f"{name}.{key} must come from the environment"


def test_every_service_database_is_created():
    init = (ROOT / "deploy" / "postgres-init.sql").read_text()
    urls = [v for s in compose()["services"].values() for k, v in (s.get("environment") or {}).items()
            if k.endswith("DATABASE_URL")]
    for url in urls:
        assert f"CREATE DATABASE {url.rsplit('/', 1)[1]} " in init


def test_every_long_running_container_restarts_and_has_a_healthcheck():
    for name, service in compose()["services"].items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] == "CMD", name


def test_published_ports_are_on_loopback_only():
    published = [(name, port) for name, service in compose()["services"].items() for port in service.get("ports", [])]
    assert {name for name, _ in published} >= {"trials", "grader", "orders-a", "orders-b", "collector"}
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_supervisor_config_runs_every_process_with_restarts():
    from configparser import RawConfigParser

    from deploy.stack import PROCESSES, SERVICES, supervisor_config

    values = {service.port_key: str(5000 + n) for n, service in enumerate(SERVICES)}
    values |= {"BIND_HOST": "127.0.0.1", "COLLECTOR_WORKER_POLL_MS": "50", "ORDERS_PEER_URL": "http://127.0.0.1:5004"}
    config = RawConfigParser()
    config.read_string(supervisor_config(PROCESSES, values))
    programs = {section.split(":", 1)[1]: config[section] for section in config.sections()
                if section.startswith("program:")}
    assert set(programs) == stack_processes()
    for name, program in programs.items():
        assert program["autorestart"] == "true" and int(program["startretries"]) > 1, name
        assert program["stdout_logfile"].endswith(f"/log/processes/{name}.log")
        assert "{" not in program["command"], program["command"]
    assert "--bind 127.0.0.1:5001 " in programs["trials"]["command"]
    assert 'ORDERS_PEER_URL="http://127.0.0.1:5004"' in programs["orders-a"]["environment"]


def test_gunicorn_bounds_request_lines_and_headers():
    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert 0 < settings["limit_request_line"] <= 8190
    assert 0 < settings["limit_request_fields"] <= 200
    assert 0 < settings["limit_request_field_size"] <= 8190
    assert settings["logger_class"] == "deploy.access_log.RedactingLogger"
