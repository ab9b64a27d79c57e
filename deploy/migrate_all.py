"""Apply every service's migrations (`flask db upgrade`), e.g. as the compose file's one-shot job."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from flask_migrate import upgrade

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def migrate(service: str, config: dict | None = None) -> None:
    app = importlib.import_module(f"services.{service}").create_app(config)
    with app.app_context():
        upgrade()


def main(services: list[str]) -> None:
    for service in services or sorted(p.parent.name for p in SERVICES_DIR.glob("*/migrations")):
        print(f"migrating {service}")
        migrate(service)


if __name__ == "__main__":
    main(sys.argv[1:])
