"""security: a per-user session version; a console session is valid only while it carries the user's
current one (sign-out, a password change and a deactivation increase it).

Revision ID: 0009_session_version
Revises: 0008_report_summary
Create Date: 2026-12-03 21:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_session_version'
down_revision = '0008_report_summary'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    # plain DROP COLUMN (SQLite ≥ 3.35): batch mode would recreate ab_user, which other tables reference
    op.drop_column('ab_user', 'session_version')
