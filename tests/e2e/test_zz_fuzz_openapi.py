"""Schemathesis against every running service's OpenAPI document.

No 5xx, every response conforms to its documented schema, content type, headers and
status codes. A bounded number of examples in `make test`; `make fuzz` runs for FUZZ_SECONDS in all (600).
(The file name sorts last on purpose: the fuzzer writes random data, and the journeys in
the other e2e files run first on the same stack.)
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "25")
# `make fuzz`: the whole run's budget in seconds, shared equally by the services.
FUZZ_SECONDS = os.environ.get("FUZZ_SECONDS")


def fuzzed_services():
    from deploy.stack import SERVICES

    return [s.name for s in SERVICES if s.docs]


@pytest.mark.parametrize("service", fuzzed_services())
def test_openapi_fuzzing_finds_no_failure(stack, service, tmp_path):
    url = stack.url(service)
    args = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
            "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
            # One worker: CPython 3.11's ast module is not safe across threads, and schemathesis
            # compiles schemas with it (seen as "AST constructor recursion depth mismatch").
            "--workers", "1",
            # The collector takes its own API keys (SECURITY.md); the others take the service token.
            "-H", f"Authorization: Bearer {stack.collector_key if service == 'collector' else stack.service_token}",
            "--no-color",
            "--seed", os.environ.get("FUZZ_SEED", "20261122")]
    budget = int(FUZZ_SECONDS) // len(fuzzed_services()) if FUZZ_SECONDS else 0
    args += ["--max-time", str(max(budget, 1))] if FUZZ_SECONDS else ["--max-examples", MAX_EXAMPLES]
    result = subprocess.run(args, capture_output=True, text=True, timeout=budget + 600,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": ""}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    print(f"\n{service}:", result.stdout[result.stdout.rfind("SUMMARY"):])  # shown by `make fuzz` (-s)
