"""electronic signatures (21 CFR Part 11): one row per signature, append-only like the audit trail (an
ORM guard and a database trigger); inspections numbered per type (FAI-00001, OQC-00001: FAI and OQC no
longer share one counter), existing ones numbered in id order.

Revision ID: 0010_esignatures
Revises: 0009_session_version
Create Date: 2026-12-04 14:00:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0010_esignatures'
down_revision = '0009_session_version'
branch_labels = None
depends_on = None

TRIGGERS_SQLITE = [
    """CREATE TRIGGER electronic_signature_no_update BEFORE UPDATE ON electronic_signature
       BEGIN SELECT RAISE(ABORT, 'electronic_signature is append-only'); END""",
    """CREATE TRIGGER electronic_signature_no_delete BEFORE DELETE ON electronic_signature
       BEGIN SELECT RAISE(ABORT, 'electronic_signature is append-only'); END""",
]
TRIGGERS_POSTGRES = [
    """CREATE OR REPLACE FUNCTION electronic_signature_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'electronic_signature is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER electronic_signature_no_update_delete BEFORE UPDATE OR DELETE ON electronic_signature
       FOR EACH ROW EXECUTE FUNCTION electronic_signature_append_only()""",
    """CREATE TRIGGER electronic_signature_no_truncate BEFORE TRUNCATE ON electronic_signature
       FOR EACH STATEMENT EXECUTE FUNCTION electronic_signature_append_only()""",
]


def upgrade():
    op.create_table(
        'electronic_signature',
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('signer_id', sa.Integer(), nullable=False),
        sa.Column('signer_username', sa.String(length=128), nullable=False),
        sa.Column('signer_name', sa.String(length=256), nullable=False),
        sa.Column('meaning', sa.String(length=128), nullable=False),
        sa.Column('entity_type', sa.String(length=64), nullable=False),
        sa.Column('entity_key', sa.String(length=256), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('remark', sa.Text(), nullable=True),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_electronic_signature')),
    )
    with op.batch_alter_table('electronic_signature', schema=None) as batch_op:
        batch_op.create_index('ix_electronic_signature_entity', ['entity_type', 'entity_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_electronic_signature_run_id'), ['run_id'], unique=False)
    for statement in (TRIGGERS_POSTGRES if op.get_bind().dialect.name == "postgresql" else TRIGGERS_SQLITE):
        op.execute(statement)

    # Plain ALTER TABLE and CREATE INDEX, never a batch rebuild of `inspection`: on SQLite a rebuild drops the
    # old table with foreign keys on, which would cascade-delete every inspection item (and fail on an MRB
    # decision). NOT NULL with a server default is what SQLite's ADD COLUMN allows; every row is then
    # numbered in id order per type, and the unique index keeps the numbers unique.
    op.add_column('inspection', sa.Column('seq', sa.Integer(), nullable=False, server_default='0'))
    op.execute("UPDATE inspection SET seq = (SELECT count(*) FROM inspection AS earlier "
               "WHERE earlier.type = inspection.type AND earlier.id <= inspection.id)")
    op.create_index('uq_inspection_type_seq', 'inspection', ['type', 'seq'], unique=True)


def downgrade():
    op.drop_index('uq_inspection_type_seq', table_name='inspection')
    op.drop_column('inspection', 'seq')  # plain DROP COLUMN (SQLite ≥ 3.35): no rebuild, as above
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS electronic_signature_no_truncate ON electronic_signature")
        op.execute("DROP TRIGGER IF EXISTS electronic_signature_no_update_delete ON electronic_signature")
        op.execute("DROP FUNCTION IF EXISTS electronic_signature_append_only()")
    op.drop_table('electronic_signature')
