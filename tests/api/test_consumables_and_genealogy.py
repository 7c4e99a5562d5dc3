"""Line consumables and degraded-mode integrations (02_rules §11) and genealogy with lot recall
(02_rules §6, §10; 04_acceptance S5, S6, S10): stencil / paste bindings, the inbound status endpoints
(server-decided source, idempotency by event id, extras kept, validation logged), the integration
status page, and which reels went into which board before and after a reel change."""
import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditEvent, Equipment, EquipmentStatusEvent, FeederSlot, IntegrationMessage, Line, LineSolderPaste, LineStencil,
    Material, MaterialUse, SlotMaterialMapping, SolderPasteStatus, Station, StencilStatus, Unit,
)
from support import (
    DEMO_PASSWORD, SMT_REELS, authorized_run, build_unit, count, fresh_consumable_statuses, load_reels, ok_data,
    pass_fai, pass_step, prep_run,
)


# -- helpers ---------------------------------------------------------------------------------------

def now() -> datetime:
    return datetime.now(timezone.utc)


def stencil_body(status="READY", stencil="STN-1001-A", at=None, **extra):
    return {"eventId": f"STN-{uuid.uuid4().hex[:10]}", "eventTime": (at or now()).isoformat(), "stencilId": stencil,
            "status": status, **extra}


def paste_body(status="COMPLIANT", lot="SP-LOT-0001", **extra):
    return {"eventId": f"SP-{uuid.uuid4().hex[:10]}", "eventTime": now().isoformat(), "lotNo": lot, "status": status,
            "expiresAt": (now() + timedelta(days=3)).isoformat(), "thawedAt": (now() - timedelta(hours=2)).isoformat(),
            **extra}


def equipment_body(status="DOWN", code="EQ-MOUNT-01", at=None, **extra):
    return {"eventId": f"EQ-{uuid.uuid4().hex[:10]}", "eventTime": (at or now()).isoformat(), "equipmentCode": code,
            "status": status, **extra}


ENDPOINTS = {
    "stencil": ("/api/v1/integration/stencil-status", stencil_body, StencilStatus, "TPM"),
    "paste": ("/api/v1/integration/solder-paste-status", paste_body, SolderPasteStatus, "WMS"),
    "equipment": ("/api/v1/integration/equipment-status", equipment_body, EquipmentStatusEvent, "TPM"),
}


def messages(app, **where):
    with app.app_context():
        stmt = select(IntegrationMessage).order_by(IntegrationMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(IntegrationMessage, key) == value)
        return [{"status": m.status, "source": m.source, "operator": m.operator, "payload": m.payload,
                 "errorCode": m.error_code, "entityType": m.entity_type, "duplicateOf": m.duplicate_of_id, "id": m.id}
                for m in db.session.execute(stmt).scalars()]


def system_status(api, system, user="engineer") -> dict:
    return next(s for s in ok_data(api(user).get("/api/v1/integration/status")) if s["system"] == system)


def business_counts():
    return {"stencil": count(StencilStatus), "paste": count(SolderPasteStatus), "equipment": count(EquipmentStatusEvent),
            "stencil_bindings": count(LineStencil), "paste_bindings": count(LineSolderPaste),
            "equipment_rows": [tuple(r) for r in db.session.execute(
                select(Equipment.code, Equipment.status, Equipment.source).order_by(Equipment.id)).all()],
            "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN")}


def refused(app, call, status, code, *, failed_message: bool = False):
    """Call, expect the error; no business change (an inbound refusal may log one FAILED message)."""
    with app.app_context():
        before = business_counts()
        logged = count(IntegrationMessage)
    response = call()
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    with app.app_context():
        assert business_counts() == before
        assert count(IntegrationMessage) == logged + (1 if failed_message else 0)
        if failed_message:
            last = db.session.execute(select(IntegrationMessage).order_by(IntegrationMessage.id.desc())
                                      .limit(1)).scalar_one()
            assert (last.status, last.error_code) == ("FAILED", code)
    return body["error"]


def create_user(app, username, role, lines):
    from app.services.platform.actor import SYSTEM
    from app.services.platform.users import UserSpec, create_user as create
    with app.app_context():
        create(actor=SYSTEM, spec=UserSpec(username=username, password=DEMO_PASSWORD, roles=[role], lines=lines))


# -- bindings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,path,field,old,new", [
    ("stencil", "stencil", "stencilId", "STN-1001-A", "STN-1001-B"),
    ("paste", "solder-paste", "lotNo", "SP-LOT-0001", "SP-LOT-0002")])
def test_binding_closes_the_previous_one(api, app, kind, path, field, old, new):
    model = LineStencil if kind == "stencil" else LineSolderPaste
    attr = "stencil_id" if kind == "stencil" else "lot_no"
    bound = ok_data(api("material").post(f"/api/v1/lines/LINE-SMT-A/{path}", json={field: new}))
    assert (bound[field], bound["current"], bound["boundBy"], bound["lineCode"]) == (new, True, "material", "LINE-SMT-A")
    with app.app_context():
        rows = db.session.execute(select(model).order_by(model.id)).scalars().all()
        assert [(getattr(r, attr), r.is_current) for r in rows] == [(old, False), (new, True)]
        assert rows[0].unbound_by == "material" and rows[0].unbound_at is not None
        audits = count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.entity_key == "LINE-SMT-A")
    # binding the current one again changes nothing
    again = ok_data(api("leader").post(f"/api/v1/lines/LINE-SMT-A/{path}", json={field: new}))
    assert again["boundBy"] == "material"
    with app.app_context():
        assert count(model) == 2
        assert count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.entity_key == "LINE-SMT-A") == audits
    ok_data(api("engineer").post(f"/api/v1/lines/LINE-SMT-A/{path}", json={field: old}))
    with app.app_context():
        assert count(model) == 3 and count(model, model.current_line_id.is_not(None)) == 1


def test_binding_refusals(api, app):
    refused(app, lambda: api("material").post("/api/v1/lines/LINE-NOPE/stencil", json={"stencilId": "S"}),
            404, "LINE_NOT_FOUND")
    refused(app, lambda: api("material").post("/api/v1/lines/LINE-SMT-A/stencil", json={}), 422, "VALIDATION_ERROR")
    refused(app, lambda: api("material").post("/api/v1/lines/LINE-SMT-A/stencil", json={"stencilId": " "}),
            422, "VALIDATION_ERROR")
    refused(app, lambda: api("material").post("/api/v1/lines/LINE-SMT-A/solder-paste",
                                              json={"lotNo": "SP-2", "qty": 1}), 422, "VALIDATION_ERROR")
    for user in ("operator", "quality", "planner", "manager", "integration"):
        refused(app, lambda u=user: api(u).post("/api/v1/lines/LINE-SMT-A/stencil", json={"stencilId": "STN-X"}),
                403, "FORBIDDEN")
    create_user(app, "material_dip_c", "Material", ["LINE-DIP-A"])
    refused(app, lambda: api("material_dip_c").post("/api/v1/lines/LINE-SMT-A/stencil", json={"stencilId": "STN-X"}),
            403, "FORBIDDEN")
    refused(app, lambda: api("material_dip_c").post("/api/v1/lines/LINE-SMT-A/solder-paste", json={"lotNo": "SP-X"}),
            403, "FORBIDDEN")
    ok_data(api("material_dip_c").post("/api/v1/lines/LINE-DIP-A/stencil", json={"stencilId": "STN-DIP-1"}))


# -- inbound statuses: source, idempotency, extras, validation ---------------------------------------

@pytest.mark.parametrize("kind", ["stencil", "paste", "equipment"])
def test_the_server_decides_source_and_operator(api, app, kind):
    path, body, model, system = ENDPOINTS[kind]
    auto = ok_data(api("integration").post(path, json=body("READY" if kind == "stencil" else
                                                           "COMPLIANT" if kind == "paste" else "NORMAL")))
    assert (auto["source"], auto["operator"], auto["duplicate"]) == ("AUTO", None, False)
    manual_body = body(operator="quality", source="AUTO")
    manual = ok_data(api("leader").post(path, json=manual_body))
    assert (manual["source"], manual["operator"], manual["duplicate"]) == ("MANUAL", "leader", False)
    with app.app_context():
        rows = db.session.execute(select(model).order_by(model.id.desc()).limit(2)).scalars().all()
        assert [(r.source, r.operator) for r in rows] == [("MANUAL", "leader"), ("AUTO", None)]
    logged = messages(app, system=system, status="SUCCESS")[-2:]
    assert [(m["source"], m["operator"]) for m in logged] == [("AUTO", None), ("MANUAL", "leader")]
    assert logged[-1]["payload"]["operator"] == "quality"  # the body is logged as sent, and ignored


@pytest.mark.parametrize("kind", ["stencil", "paste", "equipment"])
def test_a_repeated_event_id_is_applied_once(api, app, kind):
    path, body, model, system = ENDPOINTS[kind]
    payload = body(plantNote="line A, night shift", vendor={"fw": "2.1"})
    first = ok_data(api("integration").post(path, json=payload))
    assert first["duplicate"] is False and "plantNote" not in first and "vendor" not in first
    with app.app_context():
        before = business_counts()
    again = api("integration").post(path, json=payload)
    assert again.status_code == 200
    assert again.get_json()["data"] == {**first, "duplicate": True}
    changed = ok_data(api("leader").post(path, json={**payload, "status": "MAINTENANCE" if kind != "paste"
                                                     else "EXPIRED"}))
    assert changed == {**first, "duplicate": True}  # the stored result, not the new content
    with app.app_context():
        assert business_counts() == before  # no second row, no side effect, no audit event
        assert count(model, model.event_id == payload["eventId"]) == 1
    logged = [m for m in messages(app, system=system) if m["payload"].get("eventId") == payload["eventId"]]
    assert [m["status"] for m in logged] == ["SUCCESS", "DUPLICATE", "DUPLICATE"]
    assert logged[1]["duplicateOf"] == logged[0]["id"] and logged[2]["duplicateOf"] == logged[0]["id"]
    # the unknown keys are kept in the logged message
    assert logged[0]["payload"]["plantNote"] == "line A, night shift" and logged[0]["payload"]["vendor"] == {"fw": "2.1"}


def test_a_repeated_equipment_event_never_repeats_its_effect(api, app):
    down = equipment_body("DOWN", at=now() - timedelta(minutes=5))
    assert ok_data(api("integration").post("/api/v1/integration/equipment-status", json=down))["currentStatus"] == "DOWN"
    up = ok_data(api("integration").post("/api/v1/integration/equipment-status", json=equipment_body("NORMAL")))
    assert (up["applied"], up["currentStatus"]) == (True, "NORMAL")
    repeat = ok_data(api("integration").post("/api/v1/integration/equipment-status", json=down))
    assert repeat["duplicate"] is True
    late = ok_data(api("integration").post("/api/v1/integration/equipment-status",
                                           json=equipment_body("MAINTENANCE", at=now() - timedelta(hours=1))))
    assert (late["applied"], late["currentStatus"]) == (False, "NORMAL")  # an old event is kept, not applied
    with app.app_context():
        equipment = db.session.execute(select(Equipment).filter_by(code="EQ-MOUNT-01")).scalar_one()
        assert (equipment.status, equipment.source) == ("NORMAL", "AUTO")
        assert count(EquipmentStatusEvent) == 3


@pytest.mark.parametrize("kind", ["stencil", "paste", "equipment"])
def test_invalid_inbound_payloads_are_logged_as_failed(api, app, kind):
    path, body, _, system = ENDPOINTS[kind]
    good = body()
    required = [k for k in good if k not in ("expiresAt", "thawedAt")]
    for key in required:
        error = refused(app, lambda key=key: api("integration").post(path, json={k: v for k, v in good.items() if k != key}),
                        422, "VALIDATION_ERROR", failed_message=True)
        assert key in error["details"]["fields"]
    refused(app, lambda: api("integration").post(path, json={**good, "status": "BROKEN"}), 422, "VALIDATION_ERROR",
            failed_message=True)
    refused(app, lambda: api("integration").post(path, json={**good, "eventTime": "2026-01-01T08:00:00"}),
            422, "VALIDATION_ERROR", failed_message=True)  # no offset
    refused(app, lambda: api("integration").post(path, json=[good]), 422, "VALIDATION_ERROR", failed_message=True)
    refused(app, lambda: api("integration").post(path, data="{nope", content_type="application/json"),
            422, "VALIDATION_ERROR")
    logged = messages(app, system=system, status="FAILED")
    assert logged and all(m["errorCode"] == "VALIDATION_ERROR" for m in logged)
    assert any(m["payload"].get("eventId") == good["eventId"] for m in logged)  # the body is kept
    # a corrected retry with the same event id is a new message, applied
    assert ok_data(api("integration").post(path, json=good))["duplicate"] is False


def test_unknown_equipment(api, app):
    refused(app, lambda: api("integration").post("/api/v1/integration/equipment-status",
                                                 json=equipment_body(code="EQ-NOPE")),
            400, "EQUIPMENT_NOT_FOUND", failed_message=True)


@pytest.mark.parametrize("user,allowed", [("integration", True), ("leader", True), ("quality", True),
                                          ("engineer", True), ("material", False), ("operator", False),
                                          ("planner", False), ("manager", False)])
def test_who_may_send_or_enter_statuses(api, app, user, allowed):
    for path, body, _, _ in ENDPOINTS.values():
        if allowed:
            assert ok_data(api(user).post(path, json=body()))["source"] == ("AUTO" if user == "integration" else "MANUAL")
        else:
            refused(app, lambda p=path, b=body: api(user).post(p, json=b()), 403, "FORBIDDEN")


def test_a_person_enters_data_only_for_their_lines(api, app):
    create_user(app, "leader_dip_c", "Leader", ["LINE-DIP-A"])
    leader = api("leader_dip_c")
    refused(app, lambda: leader.post("/api/v1/integration/stencil-status", json=stencil_body("MAINTENANCE")),
            403, "FORBIDDEN", failed_message=True)
    refused(app, lambda: leader.post("/api/v1/integration/solder-paste-status", json=paste_body("EXPIRED")),
            403, "FORBIDDEN", failed_message=True)
    refused(app, lambda: leader.post("/api/v1/integration/equipment-status", json=equipment_body("DOWN")),
            403, "FORBIDDEN", failed_message=True)
    entered = ok_data(leader.post("/api/v1/integration/equipment-status",
                                  json=equipment_body("MAINTENANCE", code="EQ-DIP-WAVE-01")))
    assert (entered["source"], entered["operator"], entered["currentStatus"]) == ("MANUAL", "leader_dip_c", "MAINTENANCE")


def test_manual_records_are_kept_and_the_latest_by_event_time_counts(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    load_reels(api, run_no)
    manual = ok_data(api("leader").post("/api/v1/integration/stencil-status", json=stencil_body("MAINTENANCE")))
    older = stencil_body("READY", at=now() - timedelta(hours=1))
    assert ok_data(api("integration").post("/api/v1/integration/stencil-status", json=older))["source"] == "AUTO"
    check = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/readiness/check", json={}))
    stencil = next(i for i in check["items"] if i["itemType"] == "STENCIL")
    assert (stencil["status"], stencil["evidence"]["eventId"], stencil["evidence"]["source"]) == (
        "FAILED", manual["eventId"], "MANUAL")
    later = ok_data(api("integration").post("/api/v1/integration/stencil-status", json=stencil_body("READY")))
    check = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/readiness/check", json={}))
    stencil = next(i for i in check["items"] if i["itemType"] == "STENCIL")
    assert (stencil["status"], stencil["evidence"]["eventId"]) == ("PASSED", later["eventId"])
    with app.app_context():  # the MANUAL record is still there, unchanged
        kept = db.session.execute(select(StencilStatus).filter_by(event_id=manual["eventId"])).scalar_one()
        assert (kept.status, kept.source, kept.operator) == ("MAINTENANCE", "MANUAL", "leader")


# -- integration status page and message log --------------------------------------------------------

def test_integration_status_counts_and_degraded_flag(api, app):
    wms = system_status(api, "WMS")
    assert wms["degraded"] is False and wms["lastSource"] == "AUTO"  # the seed's statuses
    body = paste_body("NON_COMPLIANT")
    ok_data(api("leader").post("/api/v1/integration/solder-paste-status", json=body))
    ok_data(api("leader").post("/api/v1/integration/solder-paste-status", json=body))  # duplicate
    api("leader").post("/api/v1/integration/solder-paste-status", json={"lotNo": "SP-LOT-0001"})  # invalid
    wms = system_status(api, "WMS", user="quality")
    assert wms["degraded"] is True and wms["manualSinceLastAuto"] == 1
    assert wms["last24h"]["DUPLICATE"] == 1 and wms["last24h"]["FAILED"] == 1
    assert wms["lastStatus"] == "FAILED" and wms["lastMessageAt"]
    assert system_status(api, "TPM")["degraded"] is False  # per system
    ok_data(api("integration").post("/api/v1/integration/solder-paste-status", json=paste_body("COMPLIANT")))
    wms = system_status(api, "WMS", user="leader")
    assert wms["degraded"] is False and wms["lastSource"] == "AUTO"
    for user in ("material", "operator", "planner", "manager", "integration"):
        assert api(user).get("/api/v1/integration/status").status_code == 403
        assert api(user).get("/api/v1/integration/messages").status_code == 403


def test_the_message_log_lists_payloads(api, app):
    body = stencil_body("NOT_READY", tpmStation="TPM-7")
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json=body))
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json=body))
    response = api("engineer").get("/api/v1/integration/messages?system=TPM&status=DUPLICATE")
    listed = response.get_json()
    assert response.status_code == 200 and listed["meta"]["total"] == 1
    message = listed["data"][0]
    assert (message["system"], message["entityType"], message["businessKey"], message["status"]) == (
        "TPM", "STENCIL_STATUS", "STN-1001-A", "DUPLICATE")
    assert message["payload"]["tpmStation"] == "TPM-7" and message["result"]["status"] == "NOT_READY"
    everything = api("engineer").get("/api/v1/integration/messages?system=tpm").get_json()
    assert everything["meta"]["total"] == count_in(app, IntegrationMessage.system == "TPM")


def count_in(app, *where) -> int:
    with app.app_context():
        return count(IntegrationMessage, *where)


# -- genealogy and lot recall ---------------------------------------------------------------------

def uses(app, sn):
    with app.app_context():
        unit_id = db.session.execute(select(Unit.id).filter_by(sn=sn)).scalar_one()
        from app.models import MaterialLot
        rows = db.session.execute(
            select(Material.code, MaterialLot.lot_no, MaterialUse.slot_code, MaterialUse.step_no)
            .join(MaterialLot, MaterialLot.id == MaterialUse.lot_id).join(Material, Material.id == MaterialLot.material_id)
            .where(MaterialUse.unit_id == unit_id).order_by(MaterialUse.slot_code)).all()
        return [tuple(r) for r in rows]


def recall(api, material, lot, user="manager"):
    return ok_data(api(user).get(f"/api/v1/trace/material-lots/{material}/{lot}"))


def recall_csv(api, material, lot, user="manager"):
    response = api(user).get(f"/api/v1/trace/material-lots/{material}/{lot}?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    return rows[0], rows[1:]


def recall_xlsx(api, material, lot, user="manager"):
    from openpyxl import load_workbook
    response = api(user).get(f"/api/v1/trace/material-lots/{material}/{lot}?format=xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    workbook = load_workbook(io.BytesIO(response.get_data()))
    units = list(workbook["Units"].iter_rows(values_only=True))
    return workbook, units[0], units[1:]


def test_genealogy_follows_a_reel_change_and_each_recall_is_exact_s6(api, app):
    run_no = authorized_run(api, qty=3, units=3)
    sn1, sn2, sn3 = (f"{run_no}-{i:04d}" for i in (1, 2, 3))
    build_unit(api, run_no, sn1, until=20)
    assert uses(app, sn1) == []  # nothing at steps that consume no material
    pass_step(api, run_no, sn1, 30)
    before = [("MAT-R10K", "LOT-R-001", "1-01", 30), ("MAT-C100N", "LOT-C-001", "1-02", 30),
              ("MAT-MCU", "LOT-M-001", "2-01", 30)]
    assert uses(app, sn1) == before
    # reel change during production: the alternate (WARNING)
    change = ok_data(api("material").post("/api/v1/loading/replace", json={
        "runNo": run_no, "slotCode": "1-01", "barcode": "MAT-R10K-ALT|LOT-RA-001", "reason": "reel empty"}))
    assert change["verifyResult"] == "WARNING"
    build_unit(api, run_no, sn2, until=30)
    for step in (40, 50):
        pass_step(api, run_no, sn1, step)
    build_unit(api, run_no, sn3)
    after = [("MAT-R10K-ALT", "LOT-RA-001", "1-01", 30)] + before[1:]
    assert uses(app, sn2) == after and uses(app, sn3) == after
    assert uses(app, sn1) == before  # later steps of unit 1 add nothing
    trial = f"{run_no}-FAI1"  # the FAI trial board was placed with the first reels too
    assert uses(app, trial) == before
    with app.app_context():
        assert count(MaterialUse) == 12
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn1}"))
    assert [(m["materialCode"], m["lotNo"], m["slotCode"], m["stepNo"]) for m in trace["materials"]] == before
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn2}"))
    assert [(m["materialCode"], m["lotNo"], m["slotCode"], m["stepNo"]) for m in trace["materials"]] == after

    expected = {("MAT-R10K", "LOT-R-001"): [sn1, trial], ("MAT-R10K-ALT", "LOT-RA-001"): [sn2, sn3],
                ("MAT-C100N", "LOT-C-001"): [sn1, sn2, sn3, trial], ("MAT-MCU", "LOT-M-001"): [sn1, sn2, sn3, trial],
                ("MAT-R10K", "LOT-R-002"): []}
    for (material, lot), sns in expected.items():
        data = recall(api, material, lot)
        assert data["lot"]["materialCode"] == material and data["lot"]["lotNo"] == lot
        assert [u["sn"] for u in data["units"]] == sns
        assert all((u["runNo"], u["productCode"], u["stepNo"]) == (run_no, "P-1001", 30) for u in data["units"])
        assert data["counts"]["units"] == len(sns) and data["counts"]["runs"] == (1 if sns else 0)
        assert data["runs"] == ([{"runNo": run_no, "units": len(sns)}] if sns else [])
        assert [w["units"] for w in data["workOrders"]] == ([len(sns)] if sns else [])
        header, rows = recall_csv(api, material, lot)
        assert header[:3] == ["material", "lot", "sn"]
        assert [(r[0], r[1], r[2]) for r in rows] == [(material, lot, sn) for sn in sns]
        workbook, header, rows = recall_xlsx(api, material, lot)
        assert list(header[:3]) == ["material", "lot", "sn"]
        assert [tuple(r[:3]) for r in rows] == [(material, lot, sn) for sn in sns]
        runs = list(workbook["Runs"].iter_rows(values_only=True))[1:]
        assert [tuple(r) for r in runs] == ([(run_no, len(sns))] if sns else [])


def test_lot_recall_refusals_and_scope(api, app):
    run_no = authorized_run(api, units=1)
    build_unit(api, run_no, f"{run_no}-0001", until=30)
    missing = api("manager").get("/api/v1/trace/material-lots/MAT-R10K/LOT-NOPE")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "MATERIAL_LOT_NOT_FOUND"
    # the material user may read the recall but not export it
    assert [u["sn"] for u in recall(api, "MAT-R10K", "LOT-R-001", user="material")["units"]] == [
        f"{run_no}-0001", f"{run_no}-FAI1"]  # with the FAI trial board
    for fmt in ("csv", "xlsx"):
        response = api("material").get(f"/api/v1/trace/material-lots/MAT-R10K/LOT-R-001?format={fmt}")
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "FORBIDDEN"
    assert api("integration").get("/api/v1/trace/material-lots/MAT-R10K/LOT-R-001").status_code == 403
    # a user bound to another line sees none of this line's units
    create_user(app, "leader_dip_g", "Leader", ["LINE-DIP-A"])
    scoped = recall(api, "MAT-R10K", "LOT-R-001", user="leader_dip_g")
    assert scoped["units"] == [] and scoped["counts"]["units"] == 0


def test_genealogy_only_records_the_slots_of_the_station(api, app):
    with app.app_context():
        line = db.session.execute(select(Line).filter_by(code="LINE-SMT-A")).scalar_one()
        printer = db.session.execute(select(Station).filter_by(code="ST-PRINT-01")).scalar_one()
        mcu = db.session.execute(select(Material).filter_by(code="MAT-MCU")).scalar_one()
        cap = db.session.execute(select(Material).filter_by(code="MAT-C100N")).scalar_one()
        elsewhere = FeederSlot(line=line, station=printer, slot_code="9-01", position=8)
        elsewhere.mappings.append(SlotMaterialMapping(material=mcu, priority=1))
        loose = FeederSlot(line=line, station=None, slot_code="9-02", position=9)
        loose.mappings.append(SlotMaterialMapping(material=cap, priority=1))
        db.session.add_all([elsewhere, loose])
        db.session.commit()
    fresh_consumable_statuses(api)
    run_no = prep_run(api, qty=2)  # one board and the FAI trial board
    load_reels(api, run_no, {**SMT_REELS, "9-01": "MAT-MCU|LOT-M-001", "9-02": "MAT-C100N|LOT-C-001"})
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 1}))
    pass_fai(api, run_no)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    build_unit(api, run_no, f"{run_no}-0001")
    assert [u[2] for u in uses(app, f"{run_no}-0001")] == ["1-01", "1-02", "2-01", "9-02"]
