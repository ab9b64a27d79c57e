"""`make openapi`: write each service's OpenAPI document to docs/openapi/<service>.json.

Each document is built in a child process with an empty environment (no `.env`, no
overrides), so the files depend on the code alone; a test fails when one is stale.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "docs" / "openapi"
SERVICES = ("trials", "grader", "orders", "collector")

_DUMP = """
import json, sys
from importlib import import_module
app = import_module("services." + sys.argv[1]).create_app()
print(json.dumps(app.test_client().get("/openapi.json").get_json(), indent=2, sort_keys=True, ensure_ascii=False))
"""


def document(service: str) -> str:
    with tempfile.TemporaryDirectory() as var:
        env = {"PATH": os.environ.get("PATH", ""), "ENV_FILE": os.devnull, "VAR_DIR": var, "LOG_LEVEL": "WARNING"}
        result = subprocess.run([sys.executable, "-c", _DUMP, service], env=env, cwd=REPO_ROOT,
                                capture_output=True, text=True, check=True)
    json.loads(result.stdout)  # fail here, not in a reader's tool, if anything else was printed
    return result.stdout


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (OUT / f"{service}.json").write_text(document(service))
        print(f"wrote docs/openapi/{service}.json")


if __name__ == "__main__":
    main()
