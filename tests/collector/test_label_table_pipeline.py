"""label_table's pipeline: a reader thread and a writer thread around the labeling loop (in order, bounded,
the first error of any stage stopping all three, only written chunks reported), and the bulk writes it
feeds (COPY's text format on PostgreSQL, executemany elsewhere) with ids and terms that need escaping."""
# ruff: noqa: F811 (the user_db fixture is imported from label_table_support and requested by name)
from __future__ import annotations

import itertools
import threading
from datetime import datetime

import pytest

from services.collector.label_table.pipeline import Pipeline
from tests.collector.label_table_support import (
    read_labels,
    sqlite_dir,  # noqa: F401 (an autouse fixture)
    user_db,  # noqa: F401 (a fixture)
)
from tests.support.collector import start, wait_status
from tests.support.waiting import wait_for


class Boom(Exception):
    pass


def run(pipeline: Pipeline, label=lambda chunk: chunk) -> None:
    with pipeline:
        for chunk in pipeline.chunks():
            pipeline.send(label(chunk))
        pipeline.finish()


def test_every_chunk_is_written_in_order_and_reported_in_the_callers_thread():
    written, reported = [], []
    caller = threading.current_thread()

    def on_written(item):
        assert threading.current_thread() is caller
        assert item in written          # reported only once it is written
        reported.append(item)

    run(Pipeline(iter(range(50)), written.append, on_written, depth=2), label=lambda n: n * 10)

    assert written == reported == [n * 10 for n in range(50)]


def test_a_failed_write_reports_the_chunks_written_before_it_then_raises():
    reported = []

    def write(item):
        if item == 3:
            raise Boom("chunk 3")

    with pytest.raises(Boom, match="chunk 3"):
        run(Pipeline(iter(range(10)), write, reported.append, depth=2))

    assert reported == [0, 1, 2]


def test_a_failed_read_raises_in_the_caller_and_stops_the_writer():
    written = []

    def rows():
        yield from range(3)
        raise Boom("read")

    pipeline = Pipeline(rows(), written.append, lambda item: None)
    with pytest.raises(Boom, match="read"):
        run(pipeline)

    assert written == [0, 1, 2][:len(written)]
    assert not any(thread.is_alive() for thread in pipeline._threads)


def test_the_caller_failing_stops_an_endless_reader_and_closes_it():
    closed = threading.Event()

    def endless():
        try:
            yield from itertools.count()
        finally:
            closed.set()

    pipeline = Pipeline(endless(), lambda item: None, lambda item: None)
    with pytest.raises(Boom), pipeline:
        for chunk in pipeline.chunks():
            if chunk == 5:
                raise Boom("cancelled")
            pipeline.send(chunk)

    assert closed.is_set()
    assert not any(thread.is_alive() for thread in pipeline._threads)


def test_the_reader_stays_at_most_depth_chunks_ahead_of_a_slow_caller():
    depth, read = 3, []

    def rows():
        for n in itertools.count():
            read.append(n)
            yield n

    pipeline = Pipeline(rows(), lambda item: None, lambda item: None, depth=depth)
    with pytest.raises(Boom), pipeline:
        chunks = pipeline.chunks()
        taken = [next(chunks), next(chunks)]
        # The queue holds `depth` chunks and the reader waits, holding one more: it reads no further.
        wait_for(lambda: len(read) >= len(taken) + depth + 1, what="the reader to fill the queue")
        assert len(read) == len(taken) + depth + 1
        raise Boom("done")


T = datetime
AWKWARD_IDS = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rhere", "따옴표 '\"", "\\N", "끝"]


def test_text_ids_and_terms_that_copy_must_escape_come_back_as_they_were(app, client, worker, user_db):
    """Text ids (kept as text) with tabs, newlines, backslashes and COPY's NULL marker; a keyword with a
    backslash (doubled in JSON, then again for COPY); chunks of 3 so the rows cross several hand-overs."""
    from sqlalchemy import Column, DateTime, MetaData, String, Table, Text

    posts = Table(user_db.posts, MetaData(), Column("post_id", String(40), primary_key=True),
                  Column("body", Text), Column("posted_at", DateTime))
    posts.create(user_db.engine)
    bodies = {key: (r"see C:\temp 가격" if n % 2 else f"row {n}") for n, key in enumerate(AWKWARD_IDS)}
    with user_db.engine.begin() as connection:
        connection.execute(posts.insert(), [{"post_id": key, "body": text, "posted_at": T(2026, 1, 3)}
                                            for key, text in bodies.items()])
    app.config.update(COLLECTOR_LABEL_TABLE_CHUNK_ROWS=3)
    worker(threads=1)
    task = wait_status(client, start(
        client, "label_table", start="2026-01-01T00:00:00Z", end="2026-02-01T00:00:00Z",
        input={"database_url": user_db.url, "table": user_db.posts, "text_column": "body", "id_column": "post_id",
               "time_column": "posted_at"},
        rules={"model": "keyword", "labels": {"path": [r"c:\temp"], "price": ["가격"]}},
        output={"table": user_db.output}), {"completed", "failed"})

    assert task["status"] == "completed", task["error"]
    assert task["result_summary"]["rows_written"] == len(AWKWARD_IDS)
    expected = {key: ((["path", "price"], {"path": [r"c:\temp"], "price": ["가격"]}) if n % 2 else ([], {}))
                for n, key in enumerate(AWKWARD_IDS)}
    assert read_labels(user_db.engine, user_db.output) == expected
