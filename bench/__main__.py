"""`make bench`: run every bench/bench_*.py module and write bench/results.md.

`python -m bench trials grader` runs only those modules.
"""
from __future__ import annotations

import importlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"


def modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected]
    return names


def render(rows: list[dict], host: str, failures: list[str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {host}, by `make bench`.",
        "",
        "| figure | ours | baseline or ceiling | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['figure']} | {r['ours']} | {r['reference']} | {r['ratio']} | {r['goal']} |" for r in rows]
    if failures:
        lines += ["", "Not measured in this run:", ""] + [f"- {f}" for f in failures]
    return "\n".join(lines) + "\n"


def main(selected: list[str]) -> int:
    host = machine()
    print(f"machine: {host}")
    rows, failures = [], []
    for name in modules(selected):
        started = time.monotonic()
        try:
            rows += importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"{name} failed: {exc}", file=sys.stderr)
        print(f"{name}: {time.monotonic() - started:.0f} s")
    RESULTS.write_text(render(rows, host, failures))
    print(f"wrote {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
