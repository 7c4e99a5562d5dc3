"""reports: the planned output per hour of a line; when a unit ended (DONE or SCRAPPED) and the highest step it tracked out of, whether a
track was the unit's first TrackOut at its step, and the indexes the production and quality reports
read (units by end time, closed tracks by time, defects, dispositions and rework tasks by time). Existing rows are
backfilled from the tracks: a DONE unit ended at its last TrackOut, a SCRAPPED one at its last change.

Revision ID: 0007_report_indexes
Revises: 0006_audit_archive
Create Date: 2026-12-03 18:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_report_indexes'
down_revision = '0006_audit_archive'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('line', sa.Column('target_per_hour', sa.Integer(), nullable=True))
    op.add_column('unit', sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('unit', sa.Column('max_out_step_no', sa.Integer(), nullable=True))
    op.add_column('track', sa.Column('first_out', sa.Boolean(), nullable=True))
    _backfill()
    op.create_index('ix_unit_ended', 'unit', ['ended_at', 'run_id'], unique=False)
    op.create_index('ix_track_out', 'track', ['out_at', 'run_id', 'step_no', 'first_out', 'result'], unique=False)
    op.create_index('ix_defect_created', 'defect', ['created_at'], unique=False)
    op.create_index('ix_disposition_decided', 'disposition', ['decided_at'], unique=False)
    op.create_index('ix_rework_task_created', 'rework_task', ['created_at'], unique=False)


def _backfill():
    """Before the indexes exist (faster). The same definitions the services keep from now on."""
    true = "true" if op.get_bind().dialect.name == "postgresql" else "1"
    false = "false" if true == "true" else "0"
    op.execute("UPDATE unit SET max_out_step_no = (SELECT max(t.step_no) FROM track t "
               "WHERE t.unit_id = unit.id AND t.out_at IS NOT NULL)")
    op.execute("UPDATE unit SET ended_at = (SELECT max(t.out_at) FROM track t WHERE t.unit_id = unit.id) "
               "WHERE status = 'DONE'")
    op.execute("UPDATE unit SET ended_at = updated_at WHERE status = 'SCRAPPED'")
    op.execute(f"UPDATE track SET first_out = {false} WHERE out_at IS NOT NULL")
    op.execute(f"UPDATE track SET first_out = {true} WHERE id IN ("
               "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY unit_id, step_no ORDER BY out_at, id) AS n "
               "FROM track WHERE out_at IS NOT NULL) AS firsts WHERE n = 1)")


def downgrade():
    op.drop_index('ix_rework_task_created', table_name='rework_task')
    op.drop_index('ix_disposition_decided', table_name='disposition')
    op.drop_index('ix_defect_created', table_name='defect')
    op.drop_index('ix_track_out', table_name='track')
    op.drop_index('ix_unit_ended', table_name='unit')
    # plain DROP COLUMN (SQLite ≥ 3.35): batch mode would recreate line, unit and track, which other
    # tables reference, and SQLite enforces those foreign keys here
    op.drop_column('track', 'first_out')
    op.drop_column('unit', 'max_out_step_no')
    op.drop_column('unit', 'ended_at')
    op.drop_column('line', 'target_per_hour')
