"""solder_paste: solder-paste timers (issue 18) — a paste material's windows (minimum thaw time out of the
refrigerator, maximum open time, maximum time on the stencil, in hours) and the times a line's paste
binding records (thaw start, opened, on the stencil). Plain ALTER TABLE ADD COLUMN, never a batch
rebuild (material is referenced by other tables). Nothing to backfill: a material without windows and a
binding without times keep the old behaviour.

Revision ID: 0014_solder_paste
Revises: 0013_spc_alarms
Create Date: 2026-12-04 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_solder_paste'
down_revision = '0013_spc_alarms'
branch_labels = None
depends_on = None

MATERIAL = ('paste_min_thaw_hours', 'paste_max_open_hours', 'paste_max_stencil_hours')
BINDING = ('thaw_started_at', 'opened_at', 'on_stencil_at')


def upgrade():
    for name in MATERIAL:
        op.add_column('material', sa.Column(name, sa.Float(), nullable=True))
    for name in BINDING:
        op.add_column('line_solder_paste', sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade():
    for name in reversed(BINDING):  # plain DROP COLUMN (SQLite ≥ 3.35): no rebuild
        op.drop_column('line_solder_paste', name)
    for name in reversed(MATERIAL):
        op.drop_column('material', name)
