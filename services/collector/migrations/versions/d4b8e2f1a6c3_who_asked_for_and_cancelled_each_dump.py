"""who asked for and who cancelled each dump

Revision ID: d4b8e2f1a6c3
Revises: c0a7e51d2b19
Create Date: 2026-12-01 22:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4b8e2f1a6c3'
down_revision = 'c0a7e51d2b19'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('item_dumps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_by', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('item_dumps', schema=None) as batch_op:
        batch_op.drop_column('cancelled_by')
        batch_op.drop_column('requested_by')
