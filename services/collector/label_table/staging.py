"""The staging table a label_table job writes into, and its swap into the output table.

The job never touches the output table until it has labeled every row: then one atomic
step replaces it (PostgreSQL and SQLite: renames and drop in one transaction; MySQL and
MariaDB: one `RENAME TABLE a TO b, c TO d`). A cancelled or failed job only drops its
staging table, so the output stays as it was.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    inspect,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

MatchedTerms = dict[str, list[str]]   # {label: what earned it}, in the rules' order: its keys are the labels


@dataclass
class LabeledRows:
    """A chunk as the staging table gets it: every id in order, and by position the matched terms of the rows
    that earned a label. Most rows earn none: they cost a slot in `ids` and no object of their own, which
    keeps the garbage collector's work (it scans every container alive) off the labeling loop."""
    ids: list
    terms: dict[int, MatchedTerms]

    def __iter__(self) -> Iterator[tuple[object, list[str], MatchedTerms]]:
        """(id, labels, matched_terms) of each row."""
        terms = self.terms
        for position, row_id in enumerate(self.ids):
            found = terms.get(position)
            yield (row_id, list(found), found) if found else (row_id, [], {})
JSON_COLUMN = JSON().with_variant(JSONB(), "postgresql")


def staging_name(task_id: str) -> str:
    return "lt_stage_" + task_id.replace("-", "")


def old_output_name(task_id: str) -> str:
    return "lt_old_" + task_id.replace("-", "")


def staging_table(name: str, integer_ids: bool) -> Table:
    return Table(
        name, MetaData(),
        # Integer ids stay integers; any other id (text, UUID...) is kept as text.
        Column("id", BigInteger() if integer_ids else String(255), primary_key=True, autoincrement=False),
        Column("labels", JSON_COLUMN, nullable=False),
        Column("matched_terms", JSON_COLUMN, nullable=False),
        Column("labeled_at", DateTime(timezone=True), nullable=False),
    )


def production_staging_name(task_id: str) -> str:
    return "lt_prod_" + task_id.replace("-", "")


def old_production_name(task_id: str) -> str:
    return "lt_oldprod_" + task_id.replace("-", "")


def production_table(name: str, per: str, integer_ids: bool) -> Table:
    """The dump_result stage's table. `row`: one row per labeled input row, with its author;
    `author`: one row per author with a label, the union of their labels and how many rows earned each."""
    if per == "author":
        return Table(
            name, MetaData(),
            # No key: a case-insensitive collation (MySQL's default) would merge "Kim" and "kim".
            Column("author_name", String(255), nullable=False),
            Column("labels", JSON_COLUMN, nullable=False),          # in the rules' order
            Column("label_counts", JSON_COLUMN, nullable=False),    # {label: rows of the author with it}
            Column("labeled_rows", Integer, nullable=False),        # labeled rows of the author
            Column("produced_at", DateTime(timezone=True), nullable=False),
        )
    return Table(
        name, MetaData(),
        Column("id", BigInteger() if integer_ids else String(255), primary_key=True, autoincrement=False),
        Column("author_name", String(255)),
        Column("labels", JSON_COLUMN, nullable=False),
        Column("matched_terms", JSON_COLUMN, nullable=False),
        Column("produced_at", DateTime(timezone=True), nullable=False),
    )


def insert(engine: Engine, table: Table, rows: list[dict]) -> None:
    """Rows of a production table in one transaction (times naive UTC where the backend keeps no offset)."""
    if not rows:
        return
    with engine.begin() as connection:
        if connection.dialect.name != "postgresql":
            rows = [{**row, "produced_at": row["produced_at"].replace(tzinfo=None)} for row in rows]
        connection.execute(table.insert(), rows)


def exists(engine_or_connection, name: str) -> bool:
    return inspect(engine_or_connection).has_table(name)


def create(engine: Engine, table: Table) -> None:
    drop(engine, table.name)
    table.create(engine)


def drop(engine: Engine, name: str) -> None:
    quoted = engine.dialect.identifier_preparer.quote(name)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted}")


def forget_after(engine: Engine, table: Table, last_id) -> None:
    """Rows past the saved position (written before a lost worker could save it) are labeled again."""
    with engine.begin() as connection:
        statement = delete(table) if last_id is None else delete(table).where(table.c.id > last_id)
        connection.execute(statement)


def write(engine: Engine, table: Table, rows: LabeledRows, labeled_at: datetime) -> None:
    """One chunk in one transaction: COPY on PostgreSQL, multi-row INSERTs elsewhere (PyMySQL's executemany
    sends a chunk as a few long INSERT ... VALUES statements; SQLite's is one prepared statement re-run)."""
    with engine.begin() as connection:
        backend = connection.dialect.name
        if backend == "postgresql":
            _copy(connection, table, rows, labeled_at)
        elif backend in ("mysql", "mariadb"):
            _insert_many(connection, table, rows, labeled_at.replace(tzinfo=None))
        else:
            at = labeled_at.replace(tzinfo=None)   # SQLite text holds no offset: UTC
            connection.execute(table.insert(), [
                {"id": row_id, "labels": labels, "matched_terms": terms, "labeled_at": at}
                for row_id, labels, terms in rows])


def _copy(connection: Connection, table: Table, rows: LabeledRows, labeled_at: datetime) -> None:
    """The chunk as COPY's text format, built here in one string: psycopg's write_row adapts each value on
    its own, which costs more than the labeling of a short text. JSON has no raw tab or newline (orjson
    escapes control characters) and no NUL: only its backslashes need COPY's doubling."""
    quoted = connection.dialect.identifier_preparer.quote(table.name)
    at = labeled_at.isoformat()
    integer_ids = isinstance(table.c.id.type, Integer)
    found, lines = rows.terms, []
    for position, row_id in enumerate(rows.ids):
        key = str(row_id) if integer_ids else _copy_text(str(row_id))
        terms = found.get(position)
        if terms:
            lines.append(f"{key}\t{_copy_json(list(terms))}\t{_copy_json(terms)}\t{at}\n")
        else:       # most rows earn no label: skip the encoder for them
            lines.append(f"{key}\t[]\t{{}}\t{at}\n")
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {quoted} (id, labels, matched_terms, labeled_at) FROM STDIN") as copy:
        copy.write("".join(lines))


def _copy_json(value) -> str:
    text = orjson.dumps(value).decode()
    return text.replace("\\", "\\\\") if "\\" in text else text


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(text: str) -> str:
    return text.translate(_COPY_ESCAPES)


def _insert_many(connection: Connection, table: Table, rows: LabeledRows, labeled_at: datetime) -> None:
    """Through the driver's executemany with the JSON already encoded (as SQLAlchemy's JSON type would:
    json.dumps, ASCII only, so the text fits any character set), skipping the per-value bind processing."""
    quote = connection.dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} (id, labels, matched_terms, labeled_at) "
                 "VALUES (%s, %s, %s, %s)")
    dumps = json.dumps
    connection.exec_driver_sql(statement, [
        (row_id, dumps(labels), dumps(terms), labeled_at) if labels else (row_id, "[]", "{}", labeled_at)
        for row_id, labels, terms in rows])


def swap_into(engine: Engine, staging: str, output: str, old: str) -> bool:
    """Make `staging` the `output` table in one atomic step; True if an existing output was replaced."""
    return swap_all(engine, [(staging, output, old)])[0]


def swap_all(engine: Engine, swaps: list[tuple[str, str, str]]) -> list[bool]:
    """Make each (staging, target, old) `staging` the `target` table, all in one atomic step (the output and
    the production table change together or not at all); for each, True if an existing target was replaced."""
    q = engine.dialect.identifier_preparer.quote
    replacing = [exists(engine, target) for _staging, target, _old in swaps]
    backend = engine.dialect.name
    if backend in ("mysql", "mariadb"):
        pairs = []
        for (staging, target, old), replaced in zip(swaps, replacing, strict=True):
            pairs += ([f"{q(target)} TO {q(old)}"] if replaced else []) + [f"{q(staging)} TO {q(target)}"]
        with engine.begin() as connection:
            connection.exec_driver_sql("RENAME TABLE " + ", ".join(pairs))
        for (_staging, _target, old), replaced in zip(swaps, replacing, strict=True):
            if replaced:
                drop(engine, old)
        return replacing
    statements = []
    for (staging, target, old), replaced in zip(swaps, replacing, strict=True):
        statements += ([f"ALTER TABLE {q(target)} RENAME TO {q(old)}"] if replaced else []) \
            + [f"ALTER TABLE {q(staging)} RENAME TO {q(target)}"] + ([f"DROP TABLE {q(old)}"] if replaced else [])
    if backend == "sqlite":
        _sqlite_transaction(engine, statements)
    else:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    return replacing


def _sqlite_transaction(engine: Engine, statements: list[str]) -> None:
    # pysqlite runs DDL outside transactions unless told: BEGIN/COMMIT by hand, in autocommit mode.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                connection.exec_driver_sql(statement)
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")
