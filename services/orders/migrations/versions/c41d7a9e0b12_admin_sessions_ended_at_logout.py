"""admin sessions, ended at logout

Revision ID: c41d7a9e0b12
Revises: b5222e676832
Create Date: 2026-11-23 10:12:00.000000

"""
from alembic import op
import sqlalchemy as sa
import shared.db  # the UTCDateTime column type


# revision identifiers, used by Alembic.
revision = 'c41d7a9e0b12'
down_revision = 'b5222e676832'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admin_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_admin_sessions'))
    )
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_sessions_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_sessions_created_at'))

    op.drop_table('admin_sessions')
