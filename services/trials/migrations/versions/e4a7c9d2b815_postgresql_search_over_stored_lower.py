"""PostgreSQL search over each searched column's stored lower()

ILIKE on a UTF-8 database lowers both sides at every row it tests: a search page that tests a
hundred rows spent most of its time there. Each of title, institution and department gets its
lower() as a stored generated column (`<column>_lower`, kept by PostgreSQL at every write) with
the pg_trgm GIN index, in place of the GIN index on the column itself; the search tests
`<column>_lower LIKE lower(pattern)`, which is ILIKE's own definition there. SQLite (FTS5 and
LIKE) is left as it is. Adding the columns rewrites the table once.

Revision ID: e4a7c9d2b815
Revises: 5b8d3f6a2c71
Create Date: 2026-12-04 19:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4a7c9d2b815'
down_revision = '5b8d3f6a2c71'
branch_labels = None
depends_on = None

COLUMNS = ("title", "institution", "department")


def _trgm_schema(run) -> str:
    # 7c2e9a41f0b3 created the extension (or found it); the operator class is named in its schema.
    return run("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    schema = _trgm_schema(run)
    run("ALTER TABLE trials " + ", ".join(
        f"ADD COLUMN {column}_lower text GENERATED ALWAYS AS (lower({column})) STORED" for column in COLUMNS))
    for column in COLUMNS:
        run(f"DROP INDEX ix_trials_{column}_trgm")
        run(f"CREATE INDEX ix_trials_{column}_lower_trgm ON trials USING gin ({column}_lower {schema}.gin_trgm_ops)")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    schema = _trgm_schema(run)
    for column in COLUMNS:
        run(f"DROP INDEX ix_trials_{column}_lower_trgm")
        run(f"CREATE INDEX ix_trials_{column}_trgm ON trials USING gin ({column} {schema}.gin_trgm_ops)")
    run("ALTER TABLE trials " + ", ".join(f"DROP COLUMN {column}_lower" for column in COLUMNS))
