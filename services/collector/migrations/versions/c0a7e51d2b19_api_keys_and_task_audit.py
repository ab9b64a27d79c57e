"""api keys, and who started and cancelled each task

Revision ID: c0a7e51d2b19
Revises: 74a2127137c0
Create Date: 2026-12-01 21:45:00.000000

"""
from alembic import op
import sqlalchemy as sa
import shared.db


# revision identifiers, used by Alembic.
revision = 'c0a7e51d2b19'
down_revision = '74a2127137c0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_index('uq_api_keys_active_name', 'api_keys', ['name'], unique=True,
                    sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_by', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('cancelled_by')
        batch_op.drop_column('started_by')
    op.drop_index('uq_api_keys_active_name', table_name='api_keys',
                  sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_table('api_keys')
