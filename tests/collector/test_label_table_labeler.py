"""label_table's labeling process (label_table/labeler.py), without a job: a spawned child labels chunks as
the job's own thread does, in order (the first in the thread while the child starts); a killed child is
replaced once, and a second death fails the job saying so; a worker process that used the child still exits
(as Dramatiq's do), and a killed worker's child does not stay behind.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from services.collector.errors import SourceError
from services.collector.label_table import labeler
from services.collector.labeling import compile_rules
from tests.collector.label_table_support import fresh_labeling_process  # noqa: F401 (an autouse fixture)
from tests.support.waiting import wait_for

RULES = {"model": "keyword", "labels": {"price": ["가격", "비싸"], "swelling": ["붓기"]}}
TEXTS = ["가격이 비싸요", "붓기 질문", "오늘 날씨", None, "PRICE 가격", "붓기와 가격", "", "후기"]


class DiesInTheChild:
    """A text whose str() kills the process labeling it: every time, or only the first when given a `mark` file."""

    def __init__(self, text: str, mark: str | None):
        self.text, self.mark, self.test_process = text, mark, os.getpid()

    def __str__(self) -> str:
        if os.getpid() == self.test_process:
            raise AssertionError("labeled in the test's own process, not in the child")
        if self.mark is None or not Path(self.mark).exists():
            if self.mark is not None:
                Path(self.mark).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return self.text


def chunks_of(rows: list, size: int) -> list[list]:
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def in_a_ready_child(depth: int = 2) -> labeler.InChildProcess:
    """An InChildProcess whose child has started: every chunk goes to it (a DiesInTheChild labeled in this
    thread would kill the test run)."""
    in_child = labeler.InChildProcess(compile_rules(RULES), RULES, depth=depth)
    labeler.PROCESS.start().result()
    return in_child


def test_the_child_labels_as_the_thread_does_in_order_the_first_chunk_here_while_it_starts():
    rows = [(n, TEXTS[n % len(TEXTS)]) for n in range(1, 101)]
    rules = compile_rules(RULES)
    in_child = labeler.InChildProcess(rules, RULES, depth=2)

    def chunks():
        first, *rest = chunks_of(rows, 7)
        yield first                # asked for as the child is being spawned: labeled here
        labeler.PROCESS.start().result()
        yield from rest            # the child ready: all of these go to it

    from_child = list(in_child.labeled(chunks()))
    from_thread = list(labeler.InThisThread(rules).labeled(chunks_of(rows, 7)))

    assert from_child == from_thread
    assert [chunk for chunk, _found, _per_label in from_child] == chunks_of(rows, 7)
    assert from_child[0][1] == {0: {"swelling": ["붓기"]}, 3: {"price": ["가격"]}, 4: {"price": ["가격"],
                                                                                    "swelling": ["붓기"]}}
    assert labeler.PROCESS.pid() not in (None, os.getpid())
    assert in_child.here == 1 and in_child.restarts == 0
    assert in_child.child_cpu >= 0 and in_child.child_peak_rss > 0


def test_a_child_killed_mid_chunk_is_replaced_once_and_its_chunks_labeled_again(tmp_path):
    rows = [(n, "가격" if n % 3 else "후기") for n in range(1, 31)]
    rows[12] = (13, DiesInTheChild("붓기", str(tmp_path / "died")))
    in_child = in_a_ready_child()

    results = list(in_child.labeled(chunks_of(rows, 5)))

    assert (tmp_path / "died").exists() and in_child.restarts == 1
    assert [len(chunk) for chunk, _found, _per_label in results] == [5] * 6
    labeled = {chunk[position][0]: terms for chunk, found, _ in results for position, terms in found.items()}
    assert labeled[13] == {"swelling": ["붓기"]}
    assert sorted(labeled) == sorted({13} | {n for n in range(1, 31) if n % 3})
    assert "restarted 1 time(s)" in in_child.close()


def test_a_child_that_dies_twice_fails_the_job_saying_so():
    in_child = in_a_ready_child()
    chunks = [[(1, "가격")], [(2, DiesInTheChild("가격", None))], [(3, "가격")]]

    with pytest.raises(SourceError, match=r"The labeling process stopped unexpectedly .* 2 times"):
        list(in_child.labeled(chunks))

    assert in_child.restarts == 1


def _use_the_child_then_return(results) -> None:
    found = list(in_a_ready_child().labeled([[(1, "가격")]]))
    results.put((labeler.PROCESS.pid(), found[0][1]))


def _use_the_child_then_wait(results, never) -> None:
    list(in_a_ready_child().labeled([[(1, "가격")]]))
    results.put(labeler.PROCESS.pid())
    never.wait()


def test_a_worker_process_that_used_the_child_exits_and_takes_it_along():
    """A Dramatiq worker process is a multiprocessing child: its exit joins its own children without the
    interpreter's shutdown; the labeling process must have been told to stop first, or that join never ends."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    worker = context.Process(target=_use_the_child_then_return, args=(results,))
    worker.start()
    child, found = results.get(timeout=60)
    worker.join(timeout=60)
    alive = worker.is_alive()
    if alive:
        worker.kill()
        os.kill(child, signal.SIGKILL)

    assert not alive and worker.exitcode == 0
    assert found == {0: {"price": ["가격"]}}
    assert not _running(child)


def test_the_child_of_a_killed_worker_process_exits():
    context = multiprocessing.get_context("spawn")
    results, never = context.Queue(), context.Event()
    worker = context.Process(target=_use_the_child_then_wait, args=(results, never))
    worker.start()
    child = results.get(timeout=60)
    assert _running(child)

    os.kill(worker.pid, signal.SIGKILL)
    worker.join()

    wait_for(lambda: not _running(child), timeout=30, what="the orphaned labeling process to exit")


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its parent to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")
