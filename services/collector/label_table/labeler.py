"""Where the label_table job labels its chunks: in its own thread, or in labeling processes of its own.

The job's reader and writer threads (pipeline.py) share the worker's interpreter lock with the labeling:
in one process the labeling waits for them about as long as they run. So a large table is labeled in
child processes (`InChildProcess`): a pool of COLLECTOR_LABEL_TABLE_PROCESSES (2) per worker process,
started on first use and kept for the worker's life (a small table, below COLLECTOR_LABEL_TABLE_PROCESS_ROWS
rows, is labeled in the job's thread, `InThisThread`, and never pays for a process start). With one child
the labeling alone set the job's pace (it was busy 87 % of a 1,000,000-row job, the reader and writer
waiting on it); with two, each labels whole chunks while the other does, and the job ran 1.4 times as
fast (bench/results.md). The children are *spawned*, not forked: the Dramatiq worker is threaded, and a
fork of a threaded process may inherit a lock held by another thread.

A child gets the texts of a chunk's rows, and hands back the matched terms of the rows that earned a
label, by position, and the count of each label; it compiles the rules once per rule set. Up to `depth`
chunks are in the children at a time, so none is idle waiting for the next one; results come back in
order. While the first child starts, the first chunks are labeled in the job's thread. If a child dies
(killed, out of memory), the pool is replaced and the chunks in flight are given to the new one once; a
second death fails the task, saying so. Tasks of one worker share the pool chunk by chunk. What a child
runs is in child.py, which imports only the rules, so that it starts without the app.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.util
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from services.collector.config import DEFAULT_LABEL_TABLE_PROCESS_ROWS, DEFAULT_LABEL_TABLE_PROCESSES
from services.collector.errors import SourceError
from services.collector.label_table.child import label_in_child, label_texts, watch_parent
from services.collector.labeling import LabelRules

log = logging.getLogger(__name__)

# Chunks in the children at a time: those labeled while the next ones wait in the pipe. Four, not two: a read
# that comes late (the reader shares the worker's interpreter lock with the writer) is absorbed by those
# waiting; 250,000 rows (bench, 3-4 runs each, alternated) in 8.4-9.3 s instead of 9.0-9.5 s, for 6-7 MiB
# more in the worker (two chunks' texts).
DEFAULT_DEPTH = 4
# Child restarts one job allows before it fails.
RESTARTS = 1


def texts_of(rows: Sequence[Sequence[Any]]) -> list:
    """The texts of (id, text) rows: all the child needs (a list of str pickles in a quarter of the time the
    rows' tuples take)."""
    return [row[1] for row in rows]


class InThisThread:
    """Labels each chunk in the caller's thread, as it comes."""

    def __init__(self, rules: LabelRules):
        self.rules = rules

    def labeled(self, chunks: Iterable[Sequence]) -> Iterator[tuple[Sequence, dict, dict]]:
        for rows in chunks:
            yield rows, *label_texts(self.rules, texts_of(rows))

    def close(self) -> str | None:
        return None


class InChildProcess:
    """Labels each chunk in the worker's labeling processes, `depth` chunks in flight, results in order;
    while the first child is starting (a second or so, once per worker process), in the caller's thread."""

    def __init__(self, rules: LabelRules, rules_spec: dict, depth: int = DEFAULT_DEPTH,
                 processes: int = DEFAULT_LABEL_TABLE_PROCESSES):
        self.rules = rules
        self.spec = json.dumps(rules_spec, sort_keys=True, ensure_ascii=False)
        self.depth = max(1, depth)
        self.processes = processes
        self.here = 0                # chunks labeled in the caller's thread while the child started
        self.restarts = 0
        self.child_cpu = 0.0         # CPU seconds the children spent labeling this job's chunks
        self.child_peak_rss = 0      # bytes, the largest child's
        self.between = 0.0           # seconds from the end of one chunk to the start of the next (0 if they overlap)
        self._last_end: float | None = None

    def labeled(self, chunks: Iterable[Sequence]) -> Iterator[tuple[Sequence, dict, dict]]:
        in_flight: deque[tuple[Sequence, Future]] = deque()
        ready = PROCESS.start(self.processes)
        try:
            for rows in chunks:
                if not in_flight and not ready.done():
                    self.here += 1
                    yield rows, *label_texts(self.rules, texts_of(rows))
                    continue
                in_flight.append((rows, PROCESS.submit(self.spec, rows)))
                if len(in_flight) > self.depth:
                    yield self._result(in_flight)
            while in_flight:
                yield self._result(in_flight)
        finally:          # stopped early (a cancel, a failed write): what is still queued is not labeled
            for _rows, future in in_flight:
                future.cancel()

    def _result(self, in_flight: deque) -> tuple[Sequence, dict, dict]:
        rows, future = in_flight[0]
        try:
            found, per_label, cpu, peak, started, ended = future.result()
        except BrokenProcessPool:
            PROCESS.discard(future.pool)
            if self.restarts >= RESTARTS:
                raise SourceError("The labeling process stopped unexpectedly (killed, or out of memory?) "
                                  f"{self.restarts + 1} times; no output was written") from None
            self.restarts += 1
            log.warning("the labeling process died; labeling the %d chunk(s) in flight in a new one", len(in_flight))
            for position, (waiting, _lost) in enumerate(list(in_flight)):
                in_flight[position] = (waiting, PROCESS.submit(self.spec, waiting))
            return self._result(in_flight)
        in_flight.popleft()
        self.child_cpu += cpu
        self.child_peak_rss = max(self.child_peak_rss, peak)
        if self._last_end is not None:
            self.between += max(0.0, started - self._last_end)
        self._last_end = ended
        return rows, found, per_label

    def close(self) -> str | None:
        """What the job's log says of the child's share."""
        return (f"The labeling processes spent {self.child_cpu:.1f} s of CPU labeling, {self.between:.1f} s "
                f"with no chunk being labeled (the largest's peak RSS {self.child_peak_rss / 2**20:.0f} MiB); "
                f"{self.here} chunk(s) "
                "labeled in the job's thread while it started"
                + (f"; it was restarted {self.restarts} time(s)" if self.restarts else ""))


def labeler(rules: LabelRules, rules_spec: dict, rows: int, config) -> InThisThread | InChildProcess:
    """InChildProcess for `rows` rows or more (COLLECTOR_LABEL_TABLE_PROCESS_ROWS), else InThisThread."""
    threshold = config.get("COLLECTOR_LABEL_TABLE_PROCESS_ROWS", DEFAULT_LABEL_TABLE_PROCESS_ROWS)
    if threshold is None or rows < int(threshold):
        return InThisThread(rules)
    return InChildProcess(rules, rules_spec,
                          processes=int(config.get("COLLECTOR_LABEL_TABLE_PROCESSES", DEFAULT_LABEL_TABLE_PROCESSES)))


# --- the worker process's labeling process -----------------------------------------------------------------
class LabelingProcess:
    """A pool of spawned children, made on first use, shared by the worker process's tasks (its size is
    the last `start`'s `processes`, a pool made again after a death included: one configuration serves a
    worker process)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future | None = None       # the current pool's first call: done once its child answers
        self._finalizer: multiprocessing.util.Finalize | None = None
        self._processes = DEFAULT_LABEL_TABLE_PROCESSES

    def start(self, processes: int = DEFAULT_LABEL_TABLE_PROCESSES) -> Future:
        """The pool started, if it was not: done (its result the first child's pid) once that child is ready."""
        with self._lock:
            self._processes = max(1, processes)
        self._current()
        with self._lock:
            return self._ready

    def submit(self, spec: str, rows: Sequence) -> Future:
        texts = texts_of(rows)
        for _attempt in range(3):
            pool = self._current()
            try:
                future = pool.submit(label_in_child, spec, texts)
            except (BrokenProcessPool, RuntimeError):   # died while idle, or another task's chunk saw it die
                self.discard(pool)
                continue
            future.pool = pool
            return future
        raise SourceError("The labeling process could not be started")

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # The second child is spawned when a chunk finds the first one busy.
                self._pool = ProcessPoolExecutor(max_workers=self._processes,
                                                 mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=watch_parent, initargs=(os.getpid(),))
                self._ready = self._pool.submit(os.getpid)      # spawns the child
            if self._finalizer is None:
                # A Dramatiq worker process ends as multiprocessing's children do: it joins its own children
                # (this one) without the interpreter's shutdown, which is what would tell the pool to stop
                # them. multiprocessing's finalizers run before that join, the highest priority first: this one
                # before those of the pool's queues (10), which stop the thread that would send the child "stop".
                self._finalizer = multiprocessing.util.Finalize(None, self.shutdown, exitpriority=100)
            return self._pool

    def discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool: the next chunk starts a new child."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the children, if there are any (at the worker's exit; tests)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def pid(self) -> int | None:
        """The first child's pid once it is ready (tests)."""
        with self._lock:
            ready = self._ready if self._pool is not None else None
        return ready.result() if ready is not None and ready.done() and not ready.exception() else None


PROCESS = LabelingProcess()      # this worker process's
