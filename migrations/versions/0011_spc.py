"""spc: a chart per numeric data-collection spec with its frozen baseline limits (spc_chart), the alarms
of its run rules (spc_alarm), and the index the charts read data values by (spec, time). Nothing to
backfill: no spec is charted until an engineer configures it.

Revision ID: 0011_spc
Revises: 0010_esignatures
Create Date: 2026-12-04 14:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0011_spc'
down_revision = '0010_esignatures'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spc_chart',
    sa.Column('spec_id', sa.Integer(), nullable=False),
    sa.Column('chart_type', sa.String(length=8), nullable=False),
    sa.Column('subgroup_size', sa.Integer(), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('same_side_run', sa.Integer(), nullable=False),
    sa.Column('on_alarm', sa.String(length=8), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('center', sa.Float(), nullable=True),
    sa.Column('lcl', sa.Float(), nullable=True),
    sa.Column('ucl', sa.Float(), nullable=True),
    sa.Column('sigma', sa.Float(), nullable=True),
    sa.Column('dispersion_center', sa.Float(), nullable=True),
    sa.Column('dispersion_lcl', sa.Float(), nullable=True),
    sa.Column('dispersion_ucl', sa.Float(), nullable=True),
    sa.Column('sigma_within', sa.Float(), nullable=True),
    sa.Column('baseline_points', sa.Integer(), nullable=True),
    sa.Column('baseline_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('baseline_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('baseline_by', sa.String(length=128), nullable=True),
    sa.Column('baseline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['spec_id'], ['data_collection_spec.id'], name=op.f('fk_spc_chart_spec_id_data_collection_spec')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spc_chart')),
    sa.UniqueConstraint('spec_id', name=op.f('uq_spc_chart_spec_id'))
    )
    op.create_table('spc_alarm',
    sa.Column('chart_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('track_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chart_id'], ['spc_chart.id'], name=op.f('fk_spc_alarm_chart_id_spc_chart')),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], name=op.f('fk_spc_alarm_track_id_track')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_spc_alarm_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spc_alarm'))
    )
    with op.batch_alter_table('spc_alarm', schema=None) as batch_op:
        batch_op.create_index('ix_spc_alarm_chart', ['chart_id', 'id'], unique=False)
        batch_op.create_index('ix_spc_alarm_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_spc_alarm_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('data_value', schema=None) as batch_op:
        batch_op.create_index('ix_data_value_spec', ['spec_id', 'collected_at'], unique=False)



def downgrade():
    with op.batch_alter_table('data_value', schema=None) as batch_op:
        batch_op.drop_index('ix_data_value_spec')

    with op.batch_alter_table('spc_alarm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spc_alarm_unit_id'))
        batch_op.drop_index('ix_spc_alarm_status')
        batch_op.drop_index('ix_spc_alarm_chart')

    op.drop_table('spc_alarm')
    op.drop_table('spc_chart')
