"""msd: moisture-sensitive reels (J-STD-033) — their clock events (msd_event: OPENED, DRY_IN, DRY_OUT,
BAKED) and the floor life printed on the label of an MSL 6 lot (material_lot.msd_label_hours). Plain
ALTER TABLE for material_lot, never a batch rebuild (other tables reference it; on SQLite a rebuild with
foreign keys on would cascade). Nothing to backfill: a lot without events is still sealed.

Revision ID: 0012_msd
Revises: 0011_spc
Create Date: 2026-12-04 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_msd'
down_revision = '0011_spc'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'msd_event',
        sa.Column('lot_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('recorded_by', sa.String(length=128), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['lot_id'], ['material_lot.id'], name=op.f('fk_msd_event_lot_id_material_lot')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_msd_event')),
    )
    op.create_index('ix_msd_event_lot', 'msd_event', ['lot_id', 'at'], unique=False)
    op.add_column('material_lot', sa.Column('msd_label_hours', sa.Float(), nullable=True))


def downgrade():
    op.drop_column('material_lot', 'msd_label_hours')  # plain DROP COLUMN (SQLite ≥ 3.35): no rebuild
    op.drop_index('ix_msd_event_lot', table_name='msd_event')
    op.drop_table('msd_event')
