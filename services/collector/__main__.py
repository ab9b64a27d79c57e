"""The collector's command-line client: `python -m services.collector start trials --wait`.

It talks to the collector API over HTTP (like any client script) and, with --wait,
shows a progress bar until the task ends; the exit status is 0 only if it completed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import requests
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from shared.config import Environment

FINAL = {"completed", "failed", "cancelled"}


def parse_param(text: str) -> tuple[str, object]:
    """key=value; the value is read as JSON when it parses (numbers, true, lists), else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def build_parser() -> argparse.ArgumentParser:
    env = Environment()
    default_url = env.str("COLLECTOR_URL", f"http://127.0.0.1:{env.int('COLLECTOR_PORT', 5105)}")
    parser = argparse.ArgumentParser(prog="python -m services.collector", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=default_url, help=f"collector API (default {default_url})")
    parser.add_argument("--key", default=env.str("COLLECTOR_API_KEY"),
                        help="an API key (default COLLECTOR_API_KEY; none: the loopback operator of protected mode)")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a collection task")
    start.add_argument("source")
    start.add_argument("params", nargs="*", type=parse_param, metavar="key=value")
    start.add_argument("--wait", action="store_true", help="show progress until the task ends")
    start.add_argument("--poll", type=float, default=1.0, help="seconds between status polls")
    status = commands.add_parser("status", help="show a task")
    status.add_argument("task_id")
    cancel = commands.add_parser("cancel", help="cancel a task")
    cancel.add_argument("task_id")
    return parser


def wait_for(api: str, task_id: str, poll: float, console: Console, headers: dict) -> dict:
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[step]}"))
    seen_lines: list[str] = []
    with Progress(*columns, console=console) as bar:
        handle = bar.add_task(task_id[:8], total=None, step="pending")
        while True:
            task = requests.get(f"{api}/task/{task_id}", headers=headers, timeout=30).json()
            for line in task["logs"]:
                if line not in seen_lines:
                    seen_lines.append(line)
                    bar.console.print(line, markup=False, highlight=False)
            bar.update(handle, completed=task["progress"], total=task["total"],
                       step=f"{task['status']}: {task['current_step'] or ''}")
            if task["status"] in FINAL:
                return task
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    api = args.url.rstrip("/") + "/api/v1/async-collection"
    console = Console(stderr=True)
    headers = {"X-API-Key": args.key} if args.key else {}
    try:
        if args.command == "status":
            print(json.dumps(requests.get(f"{api}/task/{args.task_id}", headers=headers, timeout=30).json(),
                             ensure_ascii=False,
                             indent=2))
            return 0
        if args.command == "cancel":
            response = requests.delete(f"{api}/task/{args.task_id}", headers=headers, timeout=30)
            print(response.json().get("message"))
            return 0 if response.ok else 1
        response = requests.post(f"{api}/{args.source}/start", json=dict(args.params), headers=headers, timeout=30)
    except requests.RequestException as exc:
        console.print(f"collector API not reachable at {args.url}: {exc}", markup=False)
        return 2
    body = response.json()
    if response.status_code != 202:
        console.print(f"start refused (HTTP {response.status_code}): {body.get('message')}", markup=False)
        if body.get("errors"):
            console.print(json.dumps(body["errors"], ensure_ascii=False), markup=False)
        return 1
    print(body["task_id"])
    if not args.wait:
        return 0
    task = wait_for(api, body["task_id"], args.poll, console, headers)
    console.print(f"{task['type']} {task['status']}" + (f": {task['error']}" if task["error"] else ""), markup=False)
    if task["result_summary"]:
        console.print(json.dumps(task["result_summary"], ensure_ascii=False), markup=False)
    return 0 if task["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
