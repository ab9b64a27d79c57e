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
README = HERE.parent / "README.md"
# The README's performance section is this file's table, copied between these markers.
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


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


def _rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| figure")]


KEPT = "the others kept from earlier runs, the first: "


def merge(previous: str, current: str, selected: list[str]) -> str:
    """A partial run (`python -m bench trials`) replaces its own rows and keeps the others."""
    rows = _rows(current)
    figures = {row.split(" | ")[0] for row in rows}
    kept = [row for row in _rows(previous) if row.split(" | ")[0] not in figures]
    lines = current.splitlines()
    measured = next((line for line in previous.splitlines() if line.startswith("Measured ")), "")
    if kept and measured:  # say where the rows this run did not measure come from
        earliest = measured.split(KEPT, 1)[1] if KEPT in measured else measured[len("Measured "):]
        earliest = earliest.removesuffix(".").removesuffix(")").removesuffix(".")
        at = next(i for i, line in enumerate(lines) if line.startswith("Measured "))
        lines[at] = (f"{lines[at].removesuffix('.')} (the rows of `python -m bench {' '.join(selected)}`; "
                     f"{KEPT}{earliest}).")
    header = next(i for i, line in enumerate(lines) if line.startswith("| figure"))
    tail = lines[header + 2 + len(rows):]
    return "\n".join(lines[:header + 2] + kept + rows + tail).rstrip() + "\n"


def update_readme(results: str) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        return
    body = results.split("\n", 2)[2].strip()  # without the title
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{body}\n{END}{after}")


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
    results = render(rows, host, failures)
    if selected and RESULTS.exists():
        results = merge(RESULTS.read_text(), results, selected)
    RESULTS.write_text(results)
    update_readme(results)
    print(f"wrote {RESULTS} and the README's performance section")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
