"""shared.csvfile: the CSV text both export endpoints stream."""
import csv
import io

from shared.csvfile import csv_chunks, csv_text


def test_the_header_is_the_first_chunk_before_any_row_is_read():
    def rows():
        raise AssertionError("a row was read before the header went out")
        yield  # pragma: no cover

    chunks = csv_chunks(("a", "b"), rows())
    assert next(chunks) == "a,b\r\n"


def test_rows_come_in_chunks_of_about_the_size_asked_and_join_to_the_whole_document():
    rows = [(n, "x" * 50) for n in range(100)]
    chunks = list(csv_chunks(("n", "text"), rows, chunk_chars=1000))
    assert chunks[0] == "n,text\r\n"
    assert all(1000 <= len(chunk) < 1100 for chunk in chunks[1:-1])
    assert "".join(chunks) == csv_text(("n", "text"), rows)
    assert list(csv.reader(io.StringIO("".join(chunks))))[1:] == [[str(n), "x" * 50] for n in range(100)]


def test_none_is_an_empty_field_and_awkward_text_is_quoted():
    text = csv_text(("id", "note", "count"), [("C1", 'says "hi",\nthen leaves', None), ("C2", "위암", 3)])
    assert text == 'id,note,count\r\nC1,"says ""hi"",\nthen leaves",\r\nC2,위암,3\r\n'
    assert list(csv.reader(io.StringIO(text))) == [["id", "note", "count"], ["C1", 'says "hi",\nthen leaves', ""],
                                                   ["C2", "위암", "3"]]


def test_no_rows_is_the_header_alone():
    assert list(csv_chunks(("a",), [])) == ["a\r\n"]
