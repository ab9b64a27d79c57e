"""CSV exports: a header row and then the rows, as text streamed in chunks.

Used by the trials and collector export endpoints. Fields are written by the standard
`csv` writer (RFC 4180 quoting, `\\r\\n` line ends, None as an empty field); the text is
str, encoded (UTF-8, no BOM) by the response it is streamed into.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

CHUNK_CHARS = 64_000


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence], chunk_chars: int = CHUNK_CHARS) -> Iterator[str]:
    """The header row as the first chunk, then the rows in chunks of about `chunk_chars` characters.

    The header goes out on its own, before the first row is read, so a client sees the
    export begin even while the rows' query is still running.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    yield flush()
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= chunk_chars:
            yield flush()
    if buffer.tell():
        yield flush()


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """The whole CSV document as one string (e.g. a documented example)."""
    return "".join(csv_chunks(header, rows))
