"""SQLite search index keyed by trial_id, not by the implicit rowid of trials

The FTS5 table of 7c2e9a41f0b3 took its content from trials by trials' implicit rowid, which
VACUUM may renumber and a dump and restore or an INSERT ... SELECT copy does renumber: the index
then pointed at other rows and searches missed trials. Its replacement keeps its own copy of
title, institution and department under a rowid from trials_search_rowids (an INTEGER PRIMARY
KEY per trial_id), and its triggers find a trial's row through its trial_id. Built from the
trials table as it stands. PostgreSQL (pg_trgm GIN indexes) is left as it is.

Revision ID: 5b8d3f6a2c71
Revises: 7c2e9a41f0b3
Create Date: 2026-12-01 23:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5b8d3f6a2c71'
down_revision = '7c2e9a41f0b3'
branch_labels = None
depends_on = None

TRIGGERS = ("trials_search_insert", "trials_search_delete", "trials_search_update")
ROWID_OF = "(SELECT id FROM trials_search_rowids WHERE trial_id = {row}.trial_id)"
# A copy, as of this revision, of what services/trials/models.py creates beside `create_all`.
SQLITE_UP = (
    "CREATE TABLE trials_search_rowids (id INTEGER PRIMARY KEY, trial_id VARCHAR(64) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE trials_search USING fts5(title, institution, department, tokenize='trigram')",
    "CREATE TRIGGER trials_search_insert AFTER INSERT ON trials BEGIN "
    f"DELETE FROM trials_search WHERE rowid = {ROWID_OF.format(row='new')}; "
    "DELETE FROM trials_search_rowids WHERE trial_id = new.trial_id; "
    "INSERT INTO trials_search_rowids (trial_id) VALUES (new.trial_id); "
    "INSERT INTO trials_search (rowid, title, institution, department) "
    "SELECT id, new.title, new.institution, new.department FROM trials_search_rowids "
    "WHERE trial_id = new.trial_id; END",
    "CREATE TRIGGER trials_search_delete AFTER DELETE ON trials BEGIN "
    f"DELETE FROM trials_search WHERE rowid = {ROWID_OF.format(row='old')}; "
    "DELETE FROM trials_search_rowids WHERE trial_id = old.trial_id; END",
    "CREATE TRIGGER trials_search_update AFTER UPDATE OF trial_id, title, institution, department ON trials "
    "WHEN old.trial_id IS NOT new.trial_id OR old.title IS NOT new.title "
    "OR old.institution IS NOT new.institution OR old.department IS NOT new.department BEGIN "
    "UPDATE trials_search_rowids SET trial_id = new.trial_id "
    "WHERE trial_id = old.trial_id AND old.trial_id IS NOT new.trial_id; "
    "UPDATE trials_search SET title = new.title, institution = new.institution, "
    f"department = new.department WHERE rowid = {ROWID_OF.format(row='new')}; END",
    # The trials already stored.
    "INSERT INTO trials_search_rowids (trial_id) SELECT trial_id FROM trials ORDER BY trial_id",
    "INSERT INTO trials_search (rowid, title, institution, department) "
    "SELECT r.id, t.title, t.institution, t.department FROM trials AS t JOIN trials_search_rowids AS r "
    "ON r.trial_id = t.trial_id",
)
# 7c2e9a41f0b3's index, for the downgrade.
SQLITE_PREVIOUS = (
    "CREATE VIRTUAL TABLE trials_search USING fts5(title, institution, department, "
    "content='trials', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER trials_search_insert AFTER INSERT ON trials BEGIN "
    "INSERT INTO trials_search(rowid, title, institution, department) "
    "VALUES (new.rowid, new.title, new.institution, new.department); END",
    "CREATE TRIGGER trials_search_delete AFTER DELETE ON trials BEGIN "
    "INSERT INTO trials_search(trials_search, rowid, title, institution, department) "
    "VALUES ('delete', old.rowid, old.title, old.institution, old.department); END",
    "CREATE TRIGGER trials_search_update AFTER UPDATE OF title, institution, department ON trials "
    "WHEN old.title IS NOT new.title OR old.institution IS NOT new.institution "
    "OR old.department IS NOT new.department BEGIN "
    "INSERT INTO trials_search(trials_search, rowid, title, institution, department) "
    "VALUES ('delete', old.rowid, old.title, old.institution, old.department); "
    "INSERT INTO trials_search(rowid, title, institution, department) "
    "VALUES (new.rowid, new.title, new.institution, new.department); END",
    "INSERT INTO trials_search(trials_search) VALUES ('rebuild')",
)


def _run(statements):
    bind = op.get_bind()
    for statement in statements:
        bind.exec_driver_sql(statement)


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    _run([f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS] + ["DROP TABLE IF EXISTS trials_search"])
    _run(SQLITE_UP)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    _run([f"DROP TRIGGER {name}" for name in TRIGGERS]
         + ["DROP TABLE trials_search", "DROP TABLE trials_search_rowids"])
    _run(SQLITE_PREVIOUS)
