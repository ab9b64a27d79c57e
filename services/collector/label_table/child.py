"""What runs in the label_table job's labeling process (labeler.py starts it): the labeling of a chunk's texts,
and the watch that ends the process when its worker is gone.

The process is spawned, so it imports afresh the module of every function it is handed, with each package
above it. This module imports only the rules (labeling.py, RE2) and the standard library, and the packages
above it import nothing at import time, so the child starts without Flask, SQLAlchemy or the app.
"""
from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections import Counter
from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING, Any

from services.collector.labeling import LabelRules, compile_rules

if TYPE_CHECKING:        # staging.py imports SQLAlchemy, which the child has no use for
    from services.collector.label_table.staging import MatchedTerms

PARENT_POLL_SECONDS = 1.0
_compiled: dict[str, LabelRules] = {}   # by rule set (its JSON), in the child


def label_texts(rules: LabelRules, texts: Iterable[Any]) -> tuple[dict[int, MatchedTerms], dict[str, int]]:
    """The labels of each text: the matched terms of those that earn one, by position in `texts`, and how
    many earned each label. A text that is not a str is labeled as its str(); None as ""."""
    matched_terms = rules.matched_terms
    found = {}
    for position, text in enumerate(texts):
        terms = matched_terms(text if type(text) is str else "" if text is None else str(text))
        if terms:
            found[position] = terms
    return found, dict(Counter(chain.from_iterable(found.values())))


def watch_parent(parent: int) -> None:
    """Exit when the worker process is gone (killed: nothing told this process to stop). The pool's pipes
    do not say so: this process holds both ends of the one it reads."""
    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM where /proc has it. Not ru_maxrss: Linux keeps that across
    the exec of a spawn, so it says what the worker process had when it forked this one (110 MiB where this
    process peaks at 35)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def label_in_child(spec: str, texts: list) -> tuple[dict, dict, float, int, float, float]:
    """label_texts, with the CPU it took, the child's peak RSS (bytes), and when it started and ended (the
    monotonic clock, which the parent shares)."""
    started = time.monotonic()
    rules = _compiled.get(spec)
    if rules is None:
        if len(_compiled) >= 8:          # rule sets of earlier jobs
            _compiled.clear()
        rules = _compiled[spec] = compile_rules(json.loads(spec))
    before = resource.getrusage(resource.RUSAGE_SELF)
    found, per_label = label_texts(rules, texts)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return found, per_label, cpu, peak_rss(), started, time.monotonic()
