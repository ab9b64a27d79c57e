"""The trials service's tables."""
from __future__ import annotations

from datetime import datetime

from flask_migrate import Migrate
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_db

db = make_db()
migrate = Migrate()

# The fields that make up a trial's content, in the order they are shown and diffed.
CONTENT_FIELDS = ("title", "department", "institution", "phase", "study_type", "scope", "period", "target_subjects")


class Trial(db.Model):
    __tablename__ = "trials"

    trial_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(200))
    institution: Mapped[str | None] = mapped_column(String(200))
    phase: Mapped[str | None] = mapped_column(String(200))
    study_type: Mapped[str | None] = mapped_column(String(100))
    scope: Mapped[str | None] = mapped_column(String(100))
    period: Mapped[str | None] = mapped_column(String(100))
    target_subjects: Mapped[int | None] = mapped_column(Integer)
    # sha256 of the content fields: an unchanged re-load compares one column, not eight.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    last_snapshot_id: Mapped[str | None] = mapped_column(String(100), index=True)



# /list and /trials/recent read newest first with trial_id as the tie-break: the index holds
# exactly that order, so a page is an index range scan, not a sort of the whole table.
Index("ix_trials_updated_at_desc_trial_id", Trial.updated_at.desc(), Trial.trial_id)


class Revision(db.Model):
    """One row whose number every write to trials moves, inside that write's transaction: what a
    process has worked out about the table (the exact list totals, services/trials/reads.py)
    holds for as long as the number it read stays the same."""

    __tablename__ = "trials_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


# The index behind `q` (free text over title, institution and department), which the models
# cannot declare: on SQLite an FTS5 table with the trigram tokenizer, so that any substring of
# 3 characters or more, Korean included, is an index lookup, kept in step with trials by triggers;
# on PostgreSQL each column's lower() kept beside it (a stored generated column, `<column>_lower`)
# with a pg_trgm GIN index, which `lower(x) LIKE lower('%q%')`, ILIKE's own definition on a UTF-8
# database, uses as it is: ILIKE lowers every row's text at every test, which cost a search page
# 3.5 times its time (services/trials/trials.py `_text_clause`). The migrations (7c2e9a41f0b3,
# 5b8d3f6a2c71, then e4a7c9d2b815) create them; `create_all` (benchmarks, the shared suite) does
# the same below.
#
# An FTS5 row is found by an integer rowid, and trials (primary key the text trial_id) has no
# stable one: its implicit rowid may be renumbered by VACUUM, and is by a dump and restore or a
# table rebuilt by INSERT ... SELECT. So the index keeps its own copy of the three columns, under
# a rowid that trials_search_rowids hands each trial_id (an INTEGER PRIMARY KEY: kept as it is by
# VACUUM, dumps and copies), and the triggers find a trial's row through its trial_id.
SEARCH_COLUMNS = ("title", "institution", "department")
SQLITE_SEARCH_TABLE = "trials_search"
SQLITE_SEARCH_ROWIDS = "trials_search_rowids"
_ROWID_OF = f"(SELECT id FROM {SQLITE_SEARCH_ROWIDS} WHERE trial_id = {{row}}.trial_id)"
SQLITE_SEARCH_DDL = (
    f"CREATE TABLE {SQLITE_SEARCH_ROWIDS} (id INTEGER PRIMARY KEY, trial_id VARCHAR(64) NOT NULL UNIQUE)",
    f"CREATE VIRTUAL TABLE {SQLITE_SEARCH_TABLE} USING fts5(title, institution, department, tokenize='trigram')",
    # The two deletes first clear what an INSERT OR REPLACE into trials left behind (its implicit
    # delete fires no trigger), so that no conflict arises here whatever the outer statement's
    # OR clause, which would override any given in this body.
    "CREATE TRIGGER trials_search_insert AFTER INSERT ON trials BEGIN "
    f"DELETE FROM {SQLITE_SEARCH_TABLE} WHERE rowid = {_ROWID_OF.format(row='new')}; "
    f"DELETE FROM {SQLITE_SEARCH_ROWIDS} WHERE trial_id = new.trial_id; "
    f"INSERT INTO {SQLITE_SEARCH_ROWIDS} (trial_id) VALUES (new.trial_id); "
    f"INSERT INTO {SQLITE_SEARCH_TABLE} (rowid, title, institution, department) "
    f"SELECT id, new.title, new.institution, new.department FROM {SQLITE_SEARCH_ROWIDS} "
    "WHERE trial_id = new.trial_id; END",
    "CREATE TRIGGER trials_search_delete AFTER DELETE ON trials BEGIN "
    f"DELETE FROM {SQLITE_SEARCH_TABLE} WHERE rowid = {_ROWID_OF.format(row='old')}; "
    f"DELETE FROM {SQLITE_SEARCH_ROWIDS} WHERE trial_id = old.trial_id; END",
    "CREATE TRIGGER trials_search_update AFTER UPDATE OF trial_id, title, institution, department ON trials "
    "WHEN old.trial_id IS NOT new.trial_id OR old.title IS NOT new.title "
    "OR old.institution IS NOT new.institution OR old.department IS NOT new.department BEGIN "
    f"UPDATE {SQLITE_SEARCH_ROWIDS} SET trial_id = new.trial_id "
    "WHERE trial_id = old.trial_id AND old.trial_id IS NOT new.trial_id; "
    f"UPDATE {SQLITE_SEARCH_TABLE} SET title = new.title, institution = new.institution, "
    f"department = new.department WHERE rowid = {_ROWID_OF.format(row='new')}; END",
    # The trials already stored (none after `create_all`; all of them in the migration).
    f"INSERT INTO {SQLITE_SEARCH_ROWIDS} (trial_id) SELECT trial_id FROM trials ORDER BY trial_id",
    f"INSERT INTO {SQLITE_SEARCH_TABLE} (rowid, title, institution, department) "
    f"SELECT r.id, t.title, t.institution, t.department FROM trials AS t JOIN {SQLITE_SEARCH_ROWIDS} AS r "
    "ON r.trial_id = t.trial_id",
)
POSTGRES_LOWER_COLUMNS = tuple(f"{column}_lower" for column in SEARCH_COLUMNS)
POSTGRES_SEARCH_INDEXES = tuple(f"ix_trials_{column}_trgm" for column in POSTGRES_LOWER_COLUMNS)


def create_postgres_search_indexes(connection) -> None:
    """pg_trgm (trusted since PostgreSQL 13: a database owner may create it), and per searched
    column its lower() as a stored generated column with a GIN index."""
    run = connection.exec_driver_sql
    run("SELECT pg_advisory_xact_lock(7402310515)")  # two schemas migrating at once create it once
    schema = run("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
    if schema is None:
        # In `public` where there is one, not in whatever schema search_path names first: a
        # schema dropped later (a test's, a tenant's) would take the extension with it.
        has_public = run("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").scalar()
        run("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if has_public else ""))
        schema = run("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
    run("ALTER TABLE trials " + ", ".join(
        f"ADD COLUMN IF NOT EXISTS {lower} text GENERATED ALWAYS AS (lower({column})) STORED"
        for column, lower in zip(SEARCH_COLUMNS, POSTGRES_LOWER_COLUMNS, strict=True)))
    for lower, name in zip(POSTGRES_LOWER_COLUMNS, POSTGRES_SEARCH_INDEXES, strict=True):
        run(f"CREATE INDEX IF NOT EXISTS {name} ON trials USING gin ({lower} {schema}.gin_trgm_ops)")


def _create_search_index(_table, connection, **_kw) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH_DDL:
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        create_postgres_search_indexes(connection)


event.listen(Trial.__table__, "after_create", _create_search_index)
# Alembic's autogenerate and the migrations-match-models test leave these alone (shared/migrations_env.py).
db.metadata.info["unmodelled"] = {
    SQLITE_SEARCH_TABLE, SQLITE_SEARCH_ROWIDS,
    *(f"{SQLITE_SEARCH_TABLE}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")),
    *POSTGRES_LOWER_COLUMNS, *POSTGRES_SEARCH_INDEXES,
}


class Snapshot(db.Model):
    """A full pull of the upstream: trials it did not contain are withdrawn when it completes."""

    __tablename__ = "snapshots"

    snapshot_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    received: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)


class TrialChange(db.Model):
    """One event in a trial's history: created, updated (with field diffs), withdrawn or restored."""

    __tablename__ = "trial_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.trial_id", ondelete="CASCADE"))
    changed_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    snapshot_id: Mapped[str | None] = mapped_column(String(100))
    changes: Mapped[list] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_trial_changes_trial_id_id", "trial_id", "id"),)
