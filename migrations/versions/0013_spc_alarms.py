"""spc_alarms: a stable place of each charted value in its chart's series (data_value.spc_seq), so that a
TrackOut finds the last points of a chart from an index and a value's X̄ subgroup never changes when later
values arrive (subgroup = (spc_seq - 1) // n). Plain ALTER TABLE ADD COLUMN, never a batch rebuild.
Nothing to backfill: values stored before their chart was armed keep NULL (the chart groups them as
before, consecutively).

Revision ID: 0013_spc_alarms
Revises: 0012_msd
Create Date: 2026-12-04 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_spc_alarms'
down_revision = '0012_msd'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('data_value', sa.Column('spc_seq', sa.Integer(), nullable=True))
    op.create_index('ix_data_value_spc_seq', 'data_value', ['spec_id', 'spc_seq'], unique=False)


def downgrade():
    op.drop_index('ix_data_value_spc_seq', table_name='data_value')
    op.drop_column('data_value', 'spc_seq')  # plain DROP COLUMN (SQLite >= 3.35): no rebuild
