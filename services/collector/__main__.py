"""The collector's command-line client: `python -m services.collector start trials --wait`.

It talks to the collector API over HTTP (like any client script): start a task (with --wait,
a progress bar until it ends), list tasks, watch one, print or follow its log, cancel it.
The exit status of --wait and watch is 0 only if the task completed.

The API key (needed where the collector runs COLLECTOR_AUTH=required, or off loopback) is
--key, else COLLECTOR_API_KEY, else the operator key `make up` writes to var/collector_operator_key.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from shared.config import REPO_ROOT, Environment

FINAL = {"completed", "failed", "cancelled"}
LOG_PAGE = 100  # the API's largest page
KEY_FILE_NAME = "collector_operator_key"


class ApiError(Exception):
    """An answer other than the one asked for: its status and the house error shape's message."""

    def __init__(self, response: requests.Response):
        try:
            body = response.json()
        except ValueError:
            body = {}
        self.status = response.status_code
        self.message = body.get("message") or response.reason
        self.errors = body.get("errors")
        super().__init__(f"HTTP {self.status}: {self.message}")


class Client:
    """The collector's JSON API at `url`, sending `key` (if any) as a Bearer token."""

    def __init__(self, url: str, key: str | None):
        self.url = url.rstrip("/")
        self.api = self.url + "/api/v1/async-collection"
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(method, self.api + path, timeout=30, **kwargs)
        if not response.ok:
            raise ApiError(response)
        return response.json()

    def task(self, task_id: str) -> dict:
        return self.call("GET", f"/task/{task_id}")

    def log_page(self, task_id: str, page: int) -> dict:
        return self.call("GET", f"/task/{task_id}/logs", params={"page": page, "per_page": LOG_PAGE})


class LogFollower:
    """A task's log lines not yet seen, oldest first, however many pages they fill."""

    def __init__(self, client: Client, task_id: str):
        self.client, self.task_id, self.seen = client, task_id, 0

    def new_lines(self) -> list[dict]:
        # The page holding the last line seen (lines are only appended), then any after it.
        page = max(1, math.ceil(self.seen / LOG_PAGE))
        lines = []
        while True:
            body = self.client.log_page(self.task_id, page)
            fresh = body["data"][self.seen - (page - 1) * LOG_PAGE:]
            lines += fresh
            self.seen += len(fresh)
            if body["count"] <= self.seen or not body["data"]:
                return lines
            page += 1


def default_key(env: Environment) -> str | None:
    if key := env.str("COLLECTOR_API_KEY"):
        return key
    path = Path(env.str("VAR_DIR", str(REPO_ROOT / "var"))) / KEY_FILE_NAME
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


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
    parser.add_argument("--key", help="API key (default: COLLECTOR_API_KEY, else var/collector_operator_key)")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a collection task")
    start.add_argument("source")
    start.add_argument("params", nargs="*", type=parse_param, metavar="key=value")
    start.add_argument("--wait", action="store_true", help="show progress until the task ends")
    start.add_argument("--poll", type=float, default=1.0, help="seconds between status polls")
    status = commands.add_parser("status", help="show a task (JSON)")
    status.add_argument("task_id")
    listing = commands.add_parser("list", help="list tasks, newest first")
    listing.add_argument("--status", action="append", default=[],
                         help="only tasks in this status (repeat or comma-separate for several)")
    listing.add_argument("--source", help="only this source's tasks")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--per-page", type=int, default=20)
    listing.add_argument("--json", action="store_true", help="print the API's JSON page instead of a table")
    watch = commands.add_parser("watch", help="a live progress bar on an existing task, until it ends")
    watch.add_argument("task_id")
    watch.add_argument("--poll", type=float, default=1.0, help="seconds between status polls")
    logs = commands.add_parser("logs", help="print a task's log")
    logs.add_argument("task_id")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the task ends")
    logs.add_argument("--poll", type=float, default=1.0, help="seconds between polls with --follow")
    cancel = commands.add_parser("cancel", help="cancel a task")
    cancel.add_argument("task_id")
    return parser


def step_text(task: dict) -> str:
    return f"{task['status']}: {task['current_step'] or ''}"


def wait_for(client: Client, task_id: str, poll: float, console: Console) -> dict:
    """A progress bar (on a terminal; plain log lines otherwise) until the task ends; the task then."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[step]}"))
    follower = LogFollower(client, task_id)
    with Progress(*columns, console=console) as bar:
        handle = bar.add_task(task_id[:8], total=None, step="pending")
        while True:
            task = client.task(task_id)
            for line in follower.new_lines():
                bar.console.print(line["line"], markup=False, highlight=False)
            bar.update(handle, completed=task["progress"], total=task["total"], step=step_text(task))
            if task["status"] in FINAL:
                for line in follower.new_lines():  # written between the two reads
                    bar.console.print(line["line"], markup=False, highlight=False)
                return task
            time.sleep(poll)


def report_end(task: dict, console: Console) -> int:
    console.print(f"{task['type']} {task['status']}" + (f": {task['error']}" if task["error"] else ""), markup=False)
    if task["result_summary"]:
        console.print(json.dumps(task["result_summary"], ensure_ascii=False), markup=False)
    return 0 if task["status"] == "completed" else 1


def start(client: Client, args, console: Console) -> int:
    body = client.call("POST", f"/{args.source}/start", json=dict(args.params))
    print(body["task_id"], flush=True)
    if not args.wait:
        return 0
    return report_end(wait_for(client, body["task_id"], args.poll, console), console)


def list_tasks(client: Client, args, console: Console) -> int:
    statuses = [part for raw in args.status for part in raw.split(",") if part]
    params = {"status": statuses, "page": args.page, "per_page": args.per_page}
    if args.source:
        params["source"] = args.source
    body = client.call("GET", "/tasks", params=params)
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    table = Table("id", "type", "status", "progress", "queue", "created", "step", box=None, pad_edge=False)
    for task in body["data"]:
        progress = f"{task['progress']:g}/{task['total']:g}" if task["total"] is not None else f"{task['progress']:g}"
        table.add_row(task["id"], task["type"], task["status"], progress, task.get("queue", ""),
                      task["created_at"][:19], task["current_step"] or "")
    out = Console(width=200) if not sys.stdout.isatty() else Console()
    out.print(table, markup=False, highlight=False)
    pages = max(1, math.ceil(body["count"] / args.per_page))
    console.print(f"{body['count']} tasks (page {args.page} of {pages})", markup=False)
    return 0


def logs(client: Client, args, console: Console) -> int:
    follower = LogFollower(client, args.task_id)
    while True:
        task = client.task(args.task_id) if args.follow else None
        for line in follower.new_lines():
            print(line["line"], flush=True)
        if task is None:
            return 0
        if task["status"] in FINAL:
            for line in follower.new_lines():
                print(line["line"], flush=True)
            console.print(f"{task['type']} {task['status']}", markup=False)
            return 0
        time.sleep(args.poll)


def watch(client: Client, args, console: Console) -> int:
    return report_end(wait_for(client, args.task_id, args.poll, console), console)


def cancel(client: Client, args, console: Console) -> int:
    print(client.call("DELETE", f"/task/{args.task_id}")["message"])
    return 0


def status(client: Client, args, console: Console) -> int:
    print(json.dumps(client.task(args.task_id), ensure_ascii=False, indent=2))
    return 0


COMMANDS: dict[str, Callable[[Client, argparse.Namespace, Console], int]] = {
    "start": start, "status": status, "list": list_tasks, "watch": watch, "logs": logs, "cancel": cancel}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)  # a message is one line, however long
    client = Client(args.url, args.key or default_key(Environment()))
    try:
        return COMMANDS[args.command](client, args, console)
    except ApiError as exc:
        what = "start refused" if args.command == "start" else f"{args.command} refused"
        console.print(f"{what} (HTTP {exc.status}): {exc.message}", markup=False)
        if exc.errors:
            console.print(json.dumps(exc.errors, ensure_ascii=False), markup=False)
        if exc.status == 401:
            console.print("Send an API key: --key, COLLECTOR_API_KEY or var/collector_operator_key.", markup=False)
        return 1
    except requests.RequestException as exc:
        console.print(f"collector API not reachable at {args.url}: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
