"""newest-first index for /list and /trials/recent

Revision ID: d78f216bdfa9
Revises: 104206b04467
Create Date: 2026-11-22 22:51:57.749927

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd78f216bdfa9'
down_revision = '104206b04467'
branch_labels = None
depends_on = None


def upgrade():
    # ORDER BY updated_at DESC, trial_id ASC: an ascending (updated_at, trial_id) index cannot
    # serve the mixed directions, so a page of /list sorted the whole table.
    op.drop_index('ix_trials_updated_at_trial_id', table_name='trials')
    op.create_index('ix_trials_updated_at_desc_trial_id', 'trials',
                    [sa.literal_column('updated_at DESC'), 'trial_id'], unique=False)


def downgrade():
    op.drop_index('ix_trials_updated_at_desc_trial_id', table_name='trials')
    op.create_index('ix_trials_updated_at_trial_id', 'trials', ['updated_at', 'trial_id'], unique=False)
