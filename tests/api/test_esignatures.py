"""Electronic signatures (21 CFR Part 11; services/platform/signatures.py): signing an FAI, an OQC decision,
an MRB decision and a readiness waiver need the signer's password. The right one records the signature
(meaning, signer, time, the record it signs) in the same transaction as the change, audited and shown in
the trace and the run's audit trail; a wrong one changes nothing, answers SIGNATURE_INVALID, is audited
and counts toward the login lockout. Over the API and the console's forms."""
import re
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AuditEvent, ElectronicSignature, Inspection, MesUser, MrbDecision, ReadinessItem, Run
from support import (
    DEMO_PASSWORD, authorized_run, build_unit, console_login, count, csrf_from, fresh_consumable_statuses, ok_data,
    prep_run, ready_run,
)

WRONG = "Not-The-Password-1"


def error_of(response):
    return response.status_code, response.get_json()["error"]["code"]


def passed_fai(api, run_no) -> int:
    """An FAI of a ready run, trial board built, item recorded, decided PASS — not signed yet."""
    fai = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}))["id"]
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/start"))
    sn = f"{run_no}-FAI1"
    build_unit(api, run_no, sn, until=50)
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/items",
                                json={"unitSn": sn, "itemName": "first article", "result": "PASS"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"}))
    return fai


def failed_logins(app, username="quality") -> int:
    with app.app_context():
        return db.session.execute(select(MesUser.fail_login_count).filter_by(username=username)).scalar() or 0


def signatures(app):
    with app.app_context():
        return [(s.meaning, s.signer_username, s.entity_type, s.entity_key)
                for s in db.session.execute(select(ElectronicSignature).order_by(ElectronicSignature.id)).scalars()]


def audit_count(app, **where) -> int:
    with app.app_context():
        return count(AuditEvent, *[getattr(AuditEvent, k) == v for k, v in where.items()])


def test_fai_signature_needs_the_right_password_and_is_recorded(api, app):
    run_no = ready_run(api, qty=2)
    fai = passed_fai(api, run_no)
    failures_before = failed_logins(app)
    # no password, a wrong one: nothing is signed, the run cannot be authorized
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={})) == (422, "SIGNATURE_REQUIRED")
    refused = api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": WRONG})
    assert error_of(refused) == (403, "SIGNATURE_INVALID")
    assert "nothing was signed" in refused.get_json()["error"]["message"]
    with app.app_context():
        assert db.session.get(Inspection, fai).signed_by is None
    assert signatures(app) == []
    assert failed_logins(app) == failures_before + 1  # counts toward the login lockout
    assert audit_count(app, action="SIGNATURE_FAILED", entity_key=str(fai), error_code="SIGNATURE_INVALID") == 1
    assert audit_count(app, action="FAI_SIGN", status="SUCCESS") == 0
    assert error_of(api("planner").post(f"/api/v1/runs/{run_no}/authorize")) == (400, "FAI_NOT_SIGNED")

    # the right password: signed, with its meaning, signer and time, in the FAI_SIGN transaction
    signed = ok_data(api("quality").post(f"/api/v1/inspections/{fai}/sign",
                                         json={"password": DEMO_PASSWORD, "remark": "first article OK"}))
    assert signed["signedBy"] == "quality" and signed["number"].startswith("FAI-")
    [signature] = signed["signatures"]
    assert (signature["meaning"], signature["signedBy"], signature["remark"]) == ("FAI approved", "quality",
                                                                                  "first article OK")
    assert signature["signedAt"] and signature["signerName"]
    assert signatures(app) == [("FAI approved", "quality", "INSPECTION", str(fai))]
    with app.app_context():
        sign_event = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "FAI_SIGN", AuditEvent.status == "SUCCESS")).scalar_one()
        esign_event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "E_SIGNATURE")).scalar_one()
        assert (esign_event.entity_type, esign_event.entity_key) == ("RUN", run_no)
        assert esign_event.payload["meaning"] == "FAI approved" and esign_event.payload["signs"] == f"INSPECTION {fai}"
        assert esign_event.request_id == sign_event.request_id  # one request, one transaction
        row = db.session.execute(select(ElectronicSignature)).scalar_one()
        assert row.run_id == db.session.execute(select(Run.id).filter_by(run_no=run_no)).scalar_one()
    assert ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))["status"] == "AUTHORIZED"
    # the trace shows it
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{run_no}-FAI1"))
    assert [s["meaning"] for s in trace["inspections"][0]["signatures"]] == ["FAI approved"]


def test_signatures_are_append_only(api, app):
    run_no = ready_run(api, qty=2)
    fai = passed_fai(api, run_no)
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": DEMO_PASSWORD}))
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):  # the database trigger
            db.session.execute(text("UPDATE electronic_signature SET meaning = 'FAI rejected'"))
            db.session.commit()
        db.session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("DELETE FROM electronic_signature"))
            db.session.commit()
        db.session.rollback()
        assert count(ElectronicSignature) == 1
        row = db.session.execute(select(ElectronicSignature)).scalar_one()
        row.meaning = "FAI rejected"
        with pytest.raises(RuntimeError, match="append-only"):  # the ORM guard
            db.session.flush()
        db.session.rollback()


def held_run(api):
    """A run whose closeout created an OQC of one sampled board, the board's item recorded FAIL."""
    ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": "P-1001", "samplingType": "FIXED", "sampleValue": 1}))
    run_no = authorized_run(api, qty=1, units=1)
    done = build_unit(api, run_no, f"{run_no}-0001")
    oqc, sampled = done["runCloseout"]["inspectionId"], done["runCloseout"]["sampledSns"][0]
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/start"))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/items", json={
        "unitSn": sampled, "itemName": "visual", "result": "FAIL", "defectCode": "SOLDER_BRIDGE"}))
    return run_no, oqc, sampled


def test_oqc_and_mrb_decisions_are_signed(api, app):
    run_no, oqc, sampled = held_run(api)
    refused = api("quality").post(f"/api/v1/inspections/{oqc}/complete", json={"decision": "FAIL", "password": WRONG})
    assert error_of(refused) == (403, "SIGNATURE_INVALID")
    with app.app_context():
        assert db.session.get(Inspection, oqc).status == "INSPECTING"
        assert db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one() == "IN_PROGRESS"
    assert error_of(api("quality").post(f"/api/v1/inspections/{oqc}/complete",
                                        json={"decision": "FAIL"})) == (422, "SIGNATURE_REQUIRED")
    decided = ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/complete",
                                          json={"decision": "FAIL", "password": DEMO_PASSWORD}))
    assert decided["runStatus"] == "ON_HOLD"
    assert [(s["meaning"], s["signedBy"]) for s in decided["signatures"]] == [("OQC rejected", "quality")]

    refused = api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json={
        "decision": "RELEASE", "reason": "cosmetic only, deviation 7", "password": WRONG})
    assert error_of(refused) == (403, "SIGNATURE_INVALID")
    with app.app_context():
        assert db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one() == "ON_HOLD"
        assert count(MrbDecision) == 0
    released = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json={
        "decision": "RELEASE", "reason": "cosmetic only, deviation 7", "password": DEMO_PASSWORD}))
    assert released["run"]["status"] == "COMPLETED"
    assert [s["meaning"] for s in released["decision"]["signatures"]] == ["MRB: release"]
    assert [m for m, *_ in signatures(app)] == ["FAI approved", "OQC rejected", "MRB: release"]  # FAI: authorized_run
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sampled}"))
    assert [s["meaning"] for s in trace["mrbDecisions"][0]["signatures"]] == ["MRB: release"]
    oqc_entry = next(i for i in trace["inspections"] if i["type"] == "OQC")
    assert [s["meaning"] for s in oqc_entry["signatures"]] == ["OQC rejected"]


def test_a_waiver_is_signed(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    result = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/readiness/check", json={}))
    loading = next(i for i in result["items"] if i["itemType"] == "LOADING")
    assert loading["status"] == "FAILED"
    url = f"/api/v1/readiness-items/{loading['id']}/waive"
    assert error_of(api("quality").post(url, json={"reason": "reels checked by hand", "password": WRONG})) == \
        (403, "SIGNATURE_INVALID")
    with app.app_context():
        assert db.session.get(ReadinessItem, loading["id"]).status == "FAILED"
    waived = ok_data(api("quality").post(url, json={"reason": "reels checked by hand", "password": DEMO_PASSWORD}))
    [signature] = waived["item"]["signatures"]
    assert signature["meaning"].startswith("Waiver of LOADING") and signature["remark"] == "reels checked by hand"
    trace = ok_data(api("quality").get(f"/api/v1/trace/runs/{run_no}"))
    waived_items = [i for c in trace["readinessChecks"] for i in c["items"] if i["status"] == "WAIVED"]
    assert [s["meaning"] for s in waived_items[0]["signatures"]] == [signature["meaning"]]


def test_repeated_wrong_passwords_lock_the_account(api, app, client):
    run_no = ready_run(api, qty=2)
    fai = passed_fai(api, run_no)
    limit = app.config.get("MES_LOGIN_LOCKOUT_FAILURES", 5)
    for _ in range(limit):
        assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": WRONG}))[1] == \
            "SIGNATURE_INVALID"
    # locked now: even the right password signs nothing, and the console's sign-in is refused too
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": DEMO_PASSWORD})) == \
        (403, "SIGNATURE_LOCKED")
    assert signatures(app) == []
    page = console_login(client, "quality")
    assert page.status_code != 302 or "/login" in page.headers.get("Location", "")


def test_console_forms_sign_with_the_password(app, api):
    client = app.test_client()
    run_no = ready_run(api, qty=2)
    fai = passed_fai(api, run_no)
    console_login(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="fai-sign-password"' in page and 'type="password"' in page
    assert 'data-confirm="Sign FAI-' in page and "APPROVED" in page  # the confirmation names the consequence
    token = csrf_from(page)
    page = client.post(f"/fai/{fai}/sign", data={"csrf_token": token, "run_no": run_no, "password": WRONG},
                       follow_redirects=True).get_data(as_text=True)
    assert "SIGNATURE_INVALID" in page and 'id="fai-signed"' not in page
    with app.app_context():
        assert db.session.get(Inspection, fai).signed_by is None
    page = client.post(f"/fai/{fai}/sign", data={"csrf_token": token, "run_no": run_no, "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert 'id="fai-signed">signed by quality' in page
    card = page[page.index('id="fai-signatures"'):]
    assert "FAI approved" in card[:600] and "quality" in card[:600]
    # the run's audit trail: the FAI's items, decision and signature, not only its creation
    trail = page[page.index('id="run-audit"'):]
    for action in ("FAI_CREATE", "FAI_START", "FAI_ITEM", "FAI_COMPLETE", "FAI_SIGN", "E_SIGNATURE"):
        assert f">{action}" in trail, action
    assert "SIGNATURE_FAILED" in trail
    # the unit trace page: the FAI with its signature
    trace_page = client.get(f"/trace/units/{run_no}-FAI1").get_data(as_text=True)
    inspections_table = trace_page[trace_page.index('id="trace-inspections"'):]
    assert "FAI-" in inspections_table and "FAI approved" in inspections_table


def test_console_oqc_and_mrb_forms(app, api):
    client = app.test_client()
    run_no, oqc, _ = held_run(api)
    console_login(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="oqc-password"' in page and '<option value="">choose…</option>' in page
    token = csrf_from(page)
    page = client.post(f"/oqc/{oqc}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "FAIL",
                                                     "password": WRONG}, follow_redirects=True).get_data(as_text=True)
    assert "SIGNATURE_INVALID" in page
    page = client.post(f"/oqc/{oqc}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "FAIL",
                                                     "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert f"run {run_no} is ON_HOLD" in page and "OQC rejected" in page
    # the MRB decision starts on "choose…", not on RELEASE, and asks before it is recorded
    form = page[page.index('id="mrb-form"'):]
    assert re.search(r'id="mrb-decision" required><option value="">choose…</option>', form)
    assert "data-confirm=" in page[page.index('id="mrb-card"'):] and 'id="mrb-password"' in form
    page = client.post(f"/mrb/runs/{run_no}", data={"csrf_token": token, "decision": "", "reason": "cosmetic only",
                                                    "password": DEMO_PASSWORD}, follow_redirects=True)
    assert "VALIDATION_ERROR" in page.get_data(as_text=True)
    page = client.post(f"/mrb/runs/{run_no}", data={"csrf_token": token, "decision": "RELEASE",
                                                    "reason": "cosmetic only", "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert f"run {run_no} is COMPLETED" in page and "MRB: release" in page


def test_fai_and_oqc_are_numbered_each_on_their_own(api, app):
    run_no, oqc, _ = held_run(api)
    with app.app_context():
        fais = count(Inspection, Inspection.type == "FAI")
        oqcs = count(Inspection, Inspection.type == "OQC")
        inspections = {i.type: i.number for i in db.session.execute(
            select(Inspection).join(Run, Run.id == Inspection.run_id).where(Run.run_no == run_no)).scalars()}
    assert inspections == {"FAI": f"FAI-{fais:05d}", "OQC": f"OQC-{oqcs:05d}"}
    assert ok_data(api("quality").get(f"/api/v1/inspections/{oqc}"))["number"] == f"OQC-{oqcs:05d}"


def test_an_api_key_cannot_sign(app, api):
    """A signature is a person's: the API key of a quality user does not sign, even with the password."""
    from app.services.platform.actor import SYSTEM
    from app.services.platform.users import create_api_key
    run_no = ready_run(api, qty=2)
    fai = passed_fai(api, run_no)
    with app.app_context():
        key = create_api_key(actor=SYSTEM, username="quality", name="esign-test")["key"]
    answers = []

    def call():  # in a thread of its own: none of the `api` fixture's preserved request context (and `g`)
        answers.append(app.test_client().post(f"/api/v1/inspections/{fai}/sign", json={"password": DEMO_PASSWORD},
                                              headers={"Authorization": f"Bearer {key}"}))
    worker = threading.Thread(target=call)
    worker.start()
    worker.join(60)
    [answer] = answers
    assert answer.status_code == 403, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert error_of(answer) == (403, "SIGNATURE_INVALID")
    assert signatures(app) == []
    with app.app_context():  # the attempt is in the audit trail, and the person's lockout count untouched
        failed = db.session.execute(text("SELECT actor_type, error_code FROM audit_event WHERE action = "
                                         "'SIGNATURE_FAILED'")).all()
        count = db.session.execute(text("SELECT fail_login_count FROM ab_user WHERE username = 'quality'")).scalar()
    assert [tuple(r) for r in failed] == [("INTEGRATION", "SIGNATURE_INVALID")] and not count


def test_a_good_signature_ends_a_run_of_wrong_passwords(api, app):
    """Like a sign-in: wrong passwords count toward the lockout until the right one is given."""
    run_no = ready_run(api, qty=2)
    fai = passed_fai(api, run_no)
    wrong = api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": "not-it-1A!"})
    assert error_of(wrong) == (403, "SIGNATURE_INVALID")

    def failures():
        with app.app_context():
            return db.session.execute(select(MesUser.fail_login_count).filter_by(username="quality")).scalar()
    assert failures() == 1
    assert api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": DEMO_PASSWORD}).status_code == 200
    assert failures() == 0
