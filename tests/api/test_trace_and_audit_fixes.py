"""Issue 17, "Trace and audit": a wrong reel is audited as the refusal it is (and still recorded), an
alternate reel is flagged in Run Detail's loading table, a board reworked in an MRB rework run shows the
readiness check of the run it was built in, and the audit file's diff column is JSON."""
import csv
import io
import json

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, LoadingRecord
from support import (
    DEMO_PASSWORD,
    authorized_run, build_unit, console_login, count, finish_trial_board, ok_data, prep_run,
)


def scan(api, run_no, slot, barcode, path="verify", **extra):
    return api("material").post(f"/api/v1/loading/{path}", json={"runNo": run_no, "slotCode": slot,
                                                                  "barcode": barcode, **extra})


def events(app, action, run_no):
    with app.app_context():
        return [(e.status, e.error_code, (e.payload or {}).get("verifyResult")) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.entity_key == run_no)
            .order_by(AuditEvent.id)).scalars()]


def test_a_wrong_reel_is_recorded_and_audited_as_a_refusal_with_its_code(api, app):
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    wrong = ok_data(scan(api, run_no, "1-01", "MAT-C100N|LOT-C-001"))
    assert (wrong["verifyResult"], wrong["failReason"], wrong["failedAttempts"]) == ("FAIL", "MATERIAL_MISMATCH", 1)
    with app.app_context():  # still recorded: the slot counts it, the trace shows it
        assert count(LoadingRecord, LoadingRecord.id == wrong["id"], LoadingRecord.verify_result == "FAIL") == 1
    assert events(app, "LOADING_VERIFY", run_no) == [("FAIL", "MATERIAL_MISMATCH", "FAIL")]
    ok_data(scan(api, run_no, "1-01", "MAT-R10K|LOT-R-001"))
    assert events(app, "LOADING_VERIFY", run_no)[-1] == ("SUCCESS", None, "PASS")
    # a wrong reel as the replacement of a loaded one: the same
    replaced = ok_data(scan(api, run_no, "1-01", "MAT-MCU|LOT-M-001", path="replace", reason="reel empty"))
    assert replaced["verifyResult"] == "FAIL"
    assert events(app, "LOADING_REPLACE", run_no) == [("FAIL", "MATERIAL_MISMATCH", "FAIL")]
    # the Audit Log's FAIL filter finds it
    found = ok_data(api("manager").get(f"/api/v1/audit-events?entityKey={run_no}&status=FAIL&action=LOADING_VERIFY"))
    assert [e["errorCode"] for e in found] == ["MATERIAL_MISMATCH"]


def test_an_alternate_reel_is_flagged_in_run_detail(api, app):
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    assert ok_data(scan(api, run_no, "1-01", "MAT-R10K-ALT|LOT-RA-001"))["verifyResult"] == "WARNING"
    assert ok_data(scan(api, run_no, "1-02", "MAT-C100N|LOT-C-001"))["verifyResult"] == "PASS"
    state = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/loading"))
    assert {e["slotCode"]: e["alternate"] for e in state["expectations"]} == {"1-01": True, "1-02": False,
                                                                             "2-01": False}
    client = app.test_client()
    console_login(client, "planner")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    grid = page[page.index('id="loading-grid"'):]
    grid = grid[:grid.index("</table>")]
    rows = {r.split("</td>")[0].split("<td>")[-1].split(" ")[0]: r for r in grid.split("<tr")[2:]}
    assert "mes-alternate" in rows["1-01"] and "MAT-R10K-ALT" in rows["1-01"] and 'class="warning"' in rows["1-01"]
    assert "mes-alternate" not in rows["1-02"] and "mes-alternate" not in rows["2-01"]


def test_a_board_reworked_in_a_rework_run_shows_the_readiness_check_of_its_first_run(api, app):
    ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": "P-1001", "samplingType": "FIXED", "sampleValue": 1}))
    run_no = authorized_run(api, qty=2, units=2)
    finish_trial_board(api, run_no)
    sns = [f"{run_no}-0001", f"{run_no}-0002"]
    last = None
    for sn in sns:
        last = build_unit(api, run_no, sn)
    oqc, sampled = last["runCloseout"]["inspectionId"], last["runCloseout"]["sampledSns"]
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/start"))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/items", json={
        "unitSn": sampled[0], "itemName": "visual", "result": "FAIL", "defectCode": "SOLDER_BRIDGE"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/complete", json={"decision": "FAIL", "password": DEMO_PASSWORD}))
    rework = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json={
        "decision": "REWORK", "reason": "bridges on U3, rework at AOI", "reworkType": "REUSE_PREP",
        "reworkFromStepNo": 50, "password": DEMO_PASSWORD}))["reworkRunNo"]
    own = ok_data(api("quality").get(f"/api/v1/trace/runs/{run_no}"))
    assert own["readinessRunNo"] == run_no and own["readinessChecks"]
    formal = [c for c in own["readinessChecks"] if c["kind"] == "FORMAL"][-1]

    unit = ok_data(api("quality").get(f"/api/v1/trace/units/{sns[0]}"))
    assert unit["run"]["runNo"] == rework
    assert (unit["readiness"]["checkId"], unit["readiness"]["kind"], unit["readiness"]["runNo"],
            unit["readiness"]["inherited"]) == (formal["id"], "FORMAL", run_no, True)
    child = ok_data(api("quality").get(f"/api/v1/trace/runs/{rework}"))
    assert child["readinessRunNo"] == run_no
    assert [c["id"] for c in child["readinessChecks"]] == [c["id"] for c in own["readinessChecks"]]
    client = app.test_client()
    console_login(client, "quality")
    page = client.get(f"/trace/units/{sns[0]}").get_data(as_text=True)
    assert "No readiness check was recorded" not in page and 'id="trace-readiness-run"' in page
    assert f">{run_no}</a>, where this unit was first built" in page


def test_the_audit_files_diff_column_is_json(api, app):
    ok_data(api("leader").post("/api/v1/lines/LINE-SMT-A/feeder-slots/1-01/unlock", json={"reason": "checked"}))
    with app.app_context():
        diff = db.session.execute(select(AuditEvent.diff).where(AuditEvent.action == "SLOT_UNLOCK")).scalar_one()
    assert diff["after"] == {"locked": False, "failedAttempts": 0} and diff["before"]["lockedReason"] is None
    client = app.test_client()
    console_login(client, "manager")
    for fetch in (lambda: client.get("/audit/csv?action=SLOT_UNLOCK"),
                  lambda: api("manager").get("/api/v1/audit-events?action=SLOT_UNLOCK&format=csv")):
        export = fetch()
        assert export.status_code == 200
        rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
        assert len(rows) == 1
        assert json.loads(rows[0]["diff"]) == diff
        assert '"lockedReason": null' in rows[0]["diff"] and "None" not in rows[0]["diff"]
