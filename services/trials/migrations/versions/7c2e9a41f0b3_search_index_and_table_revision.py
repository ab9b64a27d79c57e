"""search index for q (SQLite FTS5 trigram, PostgreSQL pg_trgm GIN) and the table revision

Revision ID: 7c2e9a41f0b3
Revises: d78f216bdfa9
Create Date: 2026-12-01 22:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7c2e9a41f0b3'
down_revision = 'd78f216bdfa9'
branch_labels = None
depends_on = None

# A copy, as of this revision, of what services/trials/models.py creates beside `create_all`.
SQLITE_UP = (
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
    # The trials already stored.
    "INSERT INTO trials_search(trials_search) VALUES ('rebuild')",
)
SQLITE_DOWN = ("DROP TRIGGER trials_search_update", "DROP TRIGGER trials_search_delete",
               "DROP TRIGGER trials_search_insert", "DROP TABLE trials_search")
COLUMNS = ("title", "institution", "department")


def _postgres_up(run):
    run("SELECT pg_advisory_xact_lock(7402310515)")  # two schemas migrating at once create it once
    find = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    schema = run(find).scalar()
    if schema is None:
        # pg_trgm is trusted (PostgreSQL 13+): the database's owner may create it. In `public`,
        # not the first schema of search_path, which may be dropped later and take it along.
        has_public = run("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").scalar()
        run("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if has_public else ""))
        schema = run(find).scalar()
    for column in COLUMNS:
        run(f"CREATE INDEX ix_trials_{column}_trgm ON trials USING gin ({column} {schema}.gin_trgm_ops)")


def upgrade():
    op.create_table('trials_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trials_revision'))
    )
    op.execute("INSERT INTO trials_revision (id, revision) VALUES (1, 0)")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            bind.exec_driver_sql(statement)
    elif bind.dialect.name == "postgresql":
        _postgres_up(bind.exec_driver_sql)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            bind.exec_driver_sql(statement)
    elif bind.dialect.name == "postgresql":
        for column in COLUMNS:
            bind.exec_driver_sql(f"DROP INDEX ix_trials_{column}_trgm")  # the extension stays: others may use it
    op.drop_table('trials_revision')
