"""The deployment files agree with each other (no Docker engine runs here to try them)."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def procfile_processes() -> set[str]:
    lines = (ROOT / "deploy" / "Procfile").read_text().splitlines()
    return {line.split(":", 1)[0] for line in lines if line and not line.startswith("#")}


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_every_process_of_make_up_has_a_container():
    services = compose()["services"]
    assert procfile_processes() - {"sandbox"} <= set(services)
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
