"""`make openapi`: `flask openapi write` each service's OpenAPI document to docs/openapi/<service>.json.

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


def document(service: str) -> str:
    """`flask openapi write` for one service, in a clean environment."""
    with tempfile.TemporaryDirectory() as var:
        out = Path(var) / f"{service}.json"
        env = {"PATH": os.environ.get("PATH", ""), "ENV_FILE": os.devnull, "VAR_DIR": var, "LOG_LEVEL": "WARNING"}
        flask = Path(sys.executable).parent / "flask"
        result = subprocess.run([str(flask), "--app", f"services.{service}", "openapi", "write", "--format", "json",
                                 str(out)], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"`flask openapi write` for {service} failed:\n{result.stderr}")
        text = out.read_text(encoding="utf-8")
    json.loads(text)  # fail here, not in a reader's tool, if it is not one JSON document
    return text


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (OUT / f"{service}.json").write_text(document(service), encoding="utf-8")
        print(f"wrote docs/openapi/{service}.json")


if __name__ == "__main__":
    main()
