"""A bounded pipeline for the label_table job: a reader thread and a writer thread around the caller's own
loop (the labeling), so that reading, labeling and writing overlap instead of taking turns.

Each hand-over is a queue.Queue of at most `depth` chunks, so a fast stage waits for a slow one and memory
stays a few chunks whatever the table's size. The caller's thread keeps everything that needs the app
context (the task row, the resume state): the writer thread only writes, and hands back in order each
chunk it has written; the pipeline gives those to `on_written` in the caller's thread, so the resume
position only ever moves past chunks that are written.

The first error of any stage stops all three: the reader and the writer look at a stop flag between chunks
and at every wait, and the caller meets the error at its next call (after `on_written` has had every chunk
written before it). Leaving the `with` block, by an error or not, stops both threads and waits for them, so
nothing is still writing when the caller cleans up (drops its staging table).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

POLL_SECONDS = 0.1           # how often a waiting stage looks at the stop flag
_END = object()              # after the last chunk


class Pipeline:
    def __init__(self, read: Iterable[Any], write: Callable[[Any], None], on_written: Callable[[Any], None],
                 depth: int = 2, name: str = "pipeline"):
        self._read, self._write, self._on_written = read, write, on_written
        self._chunks: queue.Queue = queue.Queue(maxsize=depth)     # reader -> caller
        self._writes: queue.Queue = queue.Queue(maxsize=depth)     # caller -> writer
        self._written: queue.Queue = queue.Queue()                 # writer -> caller: at most depth + 1 entries
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._reading, name=f"{name}-reader", daemon=True),
                         threading.Thread(target=self._writing, name=f"{name}-writer", daemon=True)]

    def __enter__(self) -> Pipeline:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    # --- the caller's side ----------------------------------------------------------------------------
    def chunks(self) -> Iterator[Any]:
        """The chunks the reader reads, in order, until the last one."""
        while True:
            chunk = self._take(self._chunks)
            if chunk is _END:
                return
            yield chunk

    def send(self, item: Any) -> None:
        """Hand `item` to the writer (waits while `depth` items wait for it)."""
        self._deliver()
        self._hand(self._writes, item)
        self._deliver()

    def finish(self) -> None:
        """Wait until the writer has written everything sent, giving each item to `on_written`."""
        self._hand(self._writes, _END)
        writer = self._threads[1]
        while writer.is_alive():
            self._raise_if_failed()
            writer.join(POLL_SECONDS)
            self._deliver()
        self._raise_if_failed()

    def _take(self, source: queue.Queue):
        while True:
            self._raise_if_failed()
            self._deliver()
            try:
                return source.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue

    def _hand(self, target: queue.Queue, item: Any) -> None:
        while True:
            self._raise_if_failed()
            try:
                target.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                self._deliver()

    def _deliver(self) -> None:
        while True:
            try:
                item = self._written.get_nowait()
            except queue.Empty:
                return
            self._on_written(item)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            self._deliver()              # what was written before the failure is recorded first
            raise self._error

    # --- the threads ------------------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = exc
        self._stop.set()

    def _put_unless_stopped(self, target: queue.Queue, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                target.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _reading(self) -> None:
        source = iter(self._read)
        try:
            for chunk in source:
                if not self._put_unless_stopped(self._chunks, chunk):
                    return
            self._put_unless_stopped(self._chunks, _END)
        except BaseException as exc:  # handed to the caller, who raises it
            self._fail(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:     # a generator: its connection is closed here, in its own thread
                try:
                    close()
                except Exception as exc:
                    self._fail(exc)

    def _writing(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._writes.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._write(item)
            except BaseException as exc:  # handed to the caller, who raises it
                self._fail(exc)
                return
            self._written.put(item)
