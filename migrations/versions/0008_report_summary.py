"""report summary: first TrackOuts of closed hours per 15-minute UTC slot, run and step
(services/reporting/summary.py), and the hours already summarised. Filled by the reports themselves
on first need: nothing to backfill. The index of units by end time also holds their status (scrap
and output counted from the index alone).

Revision ID: 0008_report_summary
Revises: 0007_report_indexes
Create Date: 2026-12-03 21:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_report_summary'
down_revision = '0007_report_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_unit_ended', table_name='unit')
    op.create_index('ix_unit_ended', 'unit', ['ended_at', 'run_id', 'status'], unique=False)
    op.create_table(
        'report_fpy_slot',
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('step_no', sa.Integer(), nullable=False),
        sa.Column('first_outs', sa.Integer(), nullable=False),
        sa.Column('first_pass', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_report_fpy_slot_run_id_run')),
        sa.PrimaryKeyConstraint('slot', 'run_id', 'step_no', name=op.f('pk_report_fpy_slot')),
    )
    op.create_table(
        'report_summary_hour',
        sa.Column('hour', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('filled_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('hour', name=op.f('pk_report_summary_hour')),
    )


def downgrade():
    op.drop_index('ix_unit_ended', table_name='unit')
    op.create_index('ix_unit_ended', 'unit', ['ended_at', 'run_id'], unique=False)
    op.drop_table('report_summary_hour')
    op.drop_table('report_fpy_slot')
