"""`flask mes seed [--demo]` is idempotent and gives every demo user a working login; the user and
API-key commands apply the password policy and show a key once."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Equipment, Line, Material, MaterialLot, MesUser, Station
from flask_appbuilder.security.sqla.models import ApiKey
from support import DEMO_PASSWORD, INTEGRATION_KEY, count


def _counts():
    return {m.__name__: count(m) for m in (MesUser, Material, MaterialLot, Line, Station, Equipment, AuditEvent, ApiKey)}


def test_seed_demo_twice_changes_nothing(app, fresh_db):
    # the test template is the demo data without its OQC rules: the first seed adds only them
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mes", "seed", "--demo"])
    assert result.exit_code == 0, result.output
    from app.models import OqcSamplingRule
    with app.app_context():
        rules = db.session.execute(select(OqcSamplingRule)).scalars().all()
        assert sorted((r.product.code, r.sampling_type, r.sample_value, r.line_id, r.routing_id) for r in rules) == [
            ("P-1001", "FIXED", 1, None, None), ("P-2001", "PERCENTAGE", 10, None, None)]
        # and the demo's opened moisture-sensitive reel (issue 18): inside the warning window, not spent
        from app.services.platform.actor import SYSTEM
        from app.services.preparation import msd
        reel = msd.lot_state(actor=SYSTEM, material_code="MAT-MCU", lot_no="LOT-M-002")
        assert reel["msl"] == "3" and reel["clock"]["status"] == "WARN" and 2.9 < reel["clock"]["remainingHours"] <= 3
        assert {m.code: m.msl for m in db.session.execute(select(Material)).scalars()
                if m.code in ("MAT-R10K", "MAT-C100N")} == {"MAT-R10K": "1", "MAT-C100N": "1"}
        before = _counts()
    result = runner.invoke(args=["mes", "seed", "--demo"])
    assert result.exit_code == 0, result.output
    assert "nothing to create" in result.output
    with app.app_context():
        assert _counts() == before and count(OqcSamplingRule) == 2


def test_demo_data_set_matches_the_acceptance_spec(app_ctx):
    lots = db.session.execute(select(MaterialLot)).scalars().all()
    assert {(l.material.code, l.lot_no, l.iqc_result) for l in lots} >= {
        ("MAT-R10K", "LOT-R-001", "ACCEPTED"), ("MAT-MCU", "LOT-M-BAD", "REJECTED")}
    smt = db.session.execute(select(Line).filter_by(code="LINE-SMT-A")).scalar_one()
    assert [s.code for s in sorted(smt.stations, key=lambda s: s.code)] == [
        "ST-AOI-01", "ST-MOUNT-01", "ST-PRINT-01", "ST-REFLOW-01", "ST-SPI-01"]
    assert all(s.equipment is not None and s.equipment.status == "NORMAL" for s in smt.stations)
    dip = db.session.execute(select(Line).filter_by(code="LINE-DIP-A")).scalar_one()
    assert dip.readiness_checks_enabled == ["ROUTE", "EQUIPMENT", "MATERIAL"]
    operator2 = db.session.execute(select(MesUser).filter_by(username="operator2")).scalar_one()
    assert {s.line.code for s in operator2.stations} == {"LINE-DIP-A"}
    from app.models import WorkOrder
    open_orders = {w.wo_no: (w.product.code, w.status) for w in db.session.execute(select(WorkOrder)).scalars()}
    assert open_orders == {"WO-DEMO-1001": ("P-1001", "RECEIVED"), "WO-DEMO-2001": ("P-2001", "RELEASED")}


@pytest.mark.parametrize("username", ["admin", "planner", "engineer", "quality", "leader", "material",
                                      "operator", "operator2", "manager"])
def test_every_demo_user_can_log_in(client, username):
    from support import password_for
    response = client.post("/api/v1/security/login", json={
        "username": username, "password": password_for(username), "provider": "db"})
    assert response.status_code == 200


def test_integration_account_works_with_its_api_key_but_not_the_console(client):
    assert client.get("/api/v1/products/", headers={"Authorization": f"Bearer {INTEGRATION_KEY}"}).status_code == 403
    assert client.get("/api/v1/audit-events", headers={"Authorization": f"Bearer {INTEGRATION_KEY}"}).status_code == 403


def test_create_user_applies_the_password_policy(app, fresh_db):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["mes", "create-user", "newop", "--role", "Operator", "--password", "short"])
    assert weak.exit_code == 1 and "PASSWORD_TOO_WEAK" in weak.output
    bad_role = runner.invoke(args=["mes", "create-user", "newop", "--role", "Pilot", "--password", DEMO_PASSWORD])
    assert bad_role.exit_code == 1 and "ROLE_NOT_FOUND" in bad_role.output
    ok = runner.invoke(args=["mes", "create-user", "newop", "--role", "Operator", "--password", DEMO_PASSWORD,
                             "--station", "ST-DIP-INS-01"])
    assert ok.exit_code == 0, ok.output
    duplicate = runner.invoke(args=["mes", "create-user", "newop", "--role", "Operator", "--password", DEMO_PASSWORD])
    assert duplicate.exit_code == 1 and "USERNAME_DUPLICATE" in duplicate.output
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="newop")).scalar_one()
        assert [s.code for s in user.stations] == ["ST-DIP-INS-01"]
        created = (AuditEvent.action == "USER_CREATE", AuditEvent.entity_key == "newop")
        assert count(AuditEvent, *created, AuditEvent.status == "SUCCESS") == 1
        # refused attempts are audited with their code; the weak password is a schema rejection (422)
        fails = db.session.execute(select(AuditEvent.error_code).where(*created, AuditEvent.status == "FAIL")
                                   .order_by(AuditEvent.id)).scalars().all()
        assert fails == ["ROLE_NOT_FOUND", "USERNAME_DUPLICATE"]


def test_create_api_key_prints_it_once_and_it_works(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mes", "create-api-key", "integration", "--name", "wms"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sst_")
    response = client.get("/api/v1/audit-events", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403  # authenticated as the integration account, which has no audit:read
    with app.app_context():
        stored = db.session.execute(select(ApiKey).filter_by(name="wms")).scalar_one()
        assert key not in (stored.key_hash, stored.lookup_hash)
    unknown = runner.invoke(args=["mes", "create-api-key", "ghost"])
    assert unknown.exit_code == 1 and "USER_NOT_FOUND" in unknown.output


def test_revoked_api_key_stops_working_at_once(app, client):
    runner = app.test_cli_runner()
    key = runner.invoke(args=["mes", "create-api-key", "integration", "--name", "tmp"]).output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/audit-events", headers=headers).status_code == 403
    with app.app_context():
        stored = db.session.execute(select(ApiKey).filter_by(name="tmp")).scalar_one()
        stored.active = False
        db.session.commit()
    assert client.get("/api/v1/audit-events", headers=headers).status_code == 401


def test_check_command(app, fresh_db):
    result = app.test_cli_runner().invoke(args=["mes", "check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "migration" in result.output


def test_sync_roles_is_idempotent(app, fresh_db):
    runner = app.test_cli_runner()
    with app.app_context():
        before = count(AuditEvent)
    result = runner.invoke(args=["mes", "sync-roles"])
    assert result.exit_code == 0 and "in sync" in result.output
    with app.app_context():
        assert count(AuditEvent) == before


def test_the_dev_demo_seed_keeps_an_integration_key_for_the_acceptance_runner(app, fresh_db, client, tmp_path,
                                                                               monkeypatch):
    """`make run` (MES_ENV=dev, no MES_INTEGRATION_API_KEY): the seed makes the integration account a key
    and keeps it in instance/integration_api_key.txt (0600) for `flask mes acceptance`; seeding again
    reuses it. Other environments get no file."""
    import os
    from datetime import datetime, timezone

    from seed.loader import seed_demo
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setitem(app.config, "MES_INTEGRATION_API_KEY", None)
    kept = tmp_path / "integration_api_key.txt"
    with app.app_context():
        seed_demo(oqc_rules=False)  # MES_ENV=test: nothing
        assert not kept.exists()
        keys = count(ApiKey)
        monkeypatch.setitem(app.config, "MES_ENV", "dev")
        seed_demo(oqc_rules=False)
        key = kept.read_text().strip()
        assert key.startswith("sst_") and os.stat(kept).st_mode & 0o777 == 0o600 and count(ApiKey) == keys + 1
        seed_demo(oqc_rules=False)  # idempotent: the kept key is reused
        assert kept.read_text().strip() == key and count(ApiKey) == keys + 1
        kept.write_text("")  # a file left empty (a failed write): a new key, the file written again
        seed_demo(oqc_rules=False)
        key = kept.read_text().strip()
        assert key.startswith("sst_") and os.stat(kept).st_mode & 0o777 == 0o600 and count(ApiKey) == keys + 2
    answer = client.post("/api/v1/integration/equipment-status", headers={"Authorization": f"Bearer {key}"}, json={
        "eventId": "DEV-KEY-1", "eventTime": datetime.now(timezone.utc).isoformat(), "equipmentCode": "EQ-AOI-01",
        "status": "NORMAL"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["data"]["source"] == "AUTO"
