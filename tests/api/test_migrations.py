"""Alembic owns the whole schema: the migrated database matches the models (no drift), the
migrations run on an empty database, and downgrade → upgrade round-trips."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db
from app.models import metadata


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                           "include_object": _include})
    return compare_metadata(context, metadata)


def _include(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "alembic_version")


def test_models_and_migrations_do_not_drift(app_ctx):
    with db.engine.connect() as connection:
        diff = _diff(connection)
    assert diff == [], "models and migrations differ; generate a migration (flask db migrate) and review it"


def test_every_table_of_the_models_exists(app_ctx):
    existing = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= existing


def test_downgrade_and_upgrade_round_trip(app_ctx):
    from flask_migrate import downgrade, upgrade
    downgrade(revision="base")
    assert "audit_event" not in inspect(db.engine).get_table_names()
    upgrade()
    assert "audit_event" in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        assert _diff(connection) == []


def test_upgrading_over_inspections_keeps_their_items_and_mrb_decisions(app, api):
    """0010 numbers existing inspections without rebuilding their table: on SQLite a rebuild would drop
    `inspection` with foreign keys on — every item cascade-deleted, an MRB decision refusing it."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from support import DEMO_PASSWORD, authorized_run, build_unit, finish_trial_board, ok_data
    ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": "P-2001", "samplingType": "FIXED", "sampleValue": 1}))
    run_no = authorized_run(api, product="P-2001", qty=1, units=1)   # an FAI with its items
    finish_trial_board(api, run_no, product="P-2001")
    closeout = build_unit(api, run_no, f"{run_no}-0001", product="P-2001")["runCloseout"]
    oqc = closeout["inspectionId"]
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/start"))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/items", json={
        "unitSn": closeout["sampledSns"][0], "itemName": "visual", "result": "FAIL", "defectCode": "WS_BRIDGE"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/complete", json={"decision": "FAIL",
                                                                             "password": DEMO_PASSWORD}))
    ok_data(api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json={
        "decision": "RELEASE", "reason": "cosmetic only", "password": DEMO_PASSWORD}))

    def counts():
        with db.engine.connect() as conn:
            return [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("inspection", "inspection_item", "mrb_decision")]

    with app.app_context():
        before = counts()
        assert before[1] >= 2 and before[2] == 1, before
        downgrade(revision="0009_session_version")
        assert counts() == before
        upgrade()
        assert counts() == before
        with db.engine.connect() as conn:
            numbers = conn.execute(text("SELECT type, seq FROM inspection ORDER BY id")).all()
        assert sorted(numbers) == [("FAI", 1), ("OQC", 1)]
        with db.engine.connect() as connection:
            assert _diff(connection) == []
