"""Run Detail's OQC and MRB cards over real HTTP forms: an OQC created at closeout is started,
inspected and failed from the console, the MRB card decides REWORK and links the rework run; each
action only for the permission that allows it."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import Run
from support import DEMO_PASSWORD, authorized_run, build_unit, console_login, csrf_from, ok_data


def held_run(api) -> tuple[str, str]:
    """An SMT run whose closeout created an OQC of one sampled board: (run, sampled SN)."""
    ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": "P-1001", "samplingType": "FIXED", "sampleValue": 1}))
    run_no = authorized_run(api, qty=1, units=1)
    done = build_unit(api, run_no, f"{run_no}-0001")
    assert done["runCloseout"]["code"] == "OQC_REQUIRED", done
    return run_no, done["runCloseout"]["sampledSns"][0]


def test_oqc_card_fail_then_mrb_rework_from_the_console(client, api, app):
    run_no, sampled = held_run(api)
    console_login(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="oqc-card"' in page and 'id="oqc-status">PENDING' in page and sampled in page
    token = csrf_from(page)
    oqc = int(re.search(r"/oqc/(\d+)/start", page).group(1))
    client.post(f"/oqc/{oqc}/start", data={"csrf_token": token, "run_no": run_no})
    page = client.post(f"/oqc/{oqc}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "PASS",
                                                  "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert "OQC_ITEMS_MISSING" in page
    client.post(f"/oqc/{oqc}/items", data={"csrf_token": token, "run_no": run_no, "unit_sn": sampled,
                                          "item_name": "visual", "result": "FAIL", "defect_code": "SOLDER_BRIDGE"})
    page = client.post(f"/oqc/{oqc}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "FAIL",
                                                  "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert f"run {run_no} is ON_HOLD" in page and 'id="mrb-form"' in page
    assert '<option selected>50</option>' in page  # the console suggests the AOI step
    refused = client.post(f"/mrb/runs/{run_no}", data={"csrf_token": token, "decision": "REWORK", "reason": "no",
                                                       "password": DEMO_PASSWORD},
                          follow_redirects=True).get_data(as_text=True)
    assert "REASON_TOO_SHORT" in refused
    page = client.post(f"/mrb/runs/{run_no}", data={
        "csrf_token": token, "decision": "REWORK", "reason": "bridges on U3, rework at AOI",
        "rework_type": "REUSE_PREP", "rework_from_step_no": "50", "password": DEMO_PASSWORD},
        follow_redirects=True).get_data(as_text=True)
    assert f"run {run_no} is CLOSED_REWORK" in page and f"{run_no}-RW1" in page
    with app.app_context():
        child = db.session.execute(select(Run).filter_by(run_no=f"{run_no}-RW1")).scalar_one()
        assert (child.status, child.rework_type) == ("AUTHORIZED", "REUSE_PREP")
    page = client.get(f"/runs/{run_no}-RW1").get_data(as_text=True)
    assert f"Rework run of <a href=\"/runs/{run_no}\">{run_no}</a>" in page


def test_oqc_and_mrb_actions_follow_permissions(client, api):
    run_no, _ = held_run(api)
    console_login(client, "planner")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="oqc-card"' in page and 'id="oqc-start"' not in page
    token = csrf_from(page)
    assert re.search(r'id="oqc-number">OQC-\d{5}<', page)  # numbered per type, not the shared id
    oqc = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/inspections?type=OQC"))[0]["id"]
    assert client.post(f"/oqc/{oqc}/start", data={"csrf_token": token, "run_no": run_no}).status_code in (302, 403)
    assert client.post(f"/mrb/runs/{run_no}", data={"csrf_token": token, "decision": "RELEASE",
                                                    "reason": "accept", "password": DEMO_PASSWORD}).status_code in (302, 403)
    assert ok_data(api("planner").get(f"/api/v1/inspections/{oqc}"))["status"] == "PENDING"


def test_unit_trace_page_shows_dispositions_spi_aoi_and_mrb(client, api):
    run_no, sampled = held_run(api)
    oqc = ok_data(api("quality").get(f"/api/v1/runs/{run_no}/inspections?type=OQC"))[0]["id"]
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/start"))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/items", json={
        "unitSn": sampled, "itemName": "visual", "result": "FAIL", "defectCode": "SOLDER_BRIDGE"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/complete", json={"decision": "FAIL",
                                                                            "password": DEMO_PASSWORD}))
    ok_data(api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json={
        "decision": "RELEASE", "reason": "cosmetic only, customer deviation 42", "password": DEMO_PASSWORD}))
    console_login(client, "quality")
    page = client.get(f"/trace/units/{sampled}").get_data(as_text=True)
    assert 'id="trace-mrb"' in page and "customer deviation 42" in page
    assert 'id="trace-inspection-results"' in page and "SOLDER_BRIDGE" in page
    assert 'id="trace-inspections"' in page and "OQC" in page


def fail_at_aoi(api, run_no, sn):
    build_unit(api, run_no, sn, until=40)
    ok_data(api("operator").post("/api/v1/stations/ST-AOI-01/track-in", json={"sn": sn, "runNo": run_no}))
    ok_data(api("operator").post("/api/v1/stations/ST-AOI-01/track-out", json={
        "sn": sn, "runNo": run_no, "result": "FAIL", "data": [], "defect": {"code": "SOLDER_BRIDGE", "location": "U3"}}))


def unit_status(app, sn):
    from app.models import Unit
    with app.app_context():
        return db.session.execute(select(Unit.status, Unit.current_step_no).filter_by(sn=sn)).one()


def test_defects_and_disposition_screen(client, api, app):
    run_no = authorized_run(api, qty=3, units=3)
    first, second, third = (f"{run_no}-000{i}" for i in (1, 2, 3))
    fail_at_aoi(api, run_no, first)
    fail_at_aoi(api, run_no, second)
    console_login(client, "quality")
    page = client.get("/disposition/").get_data(as_text=True)
    assert f'id="queue-{first}"' in page and f'id="queue-{second}"' in page and "SOLDER_BRIDGE" in page
    token = csrf_from(page)
    defect = int(re.search(rf'/disposition/defects/(\d+)/decide[^"]*" id="decide-{first}"', page).group(1))
    refused = client.post(f"/disposition/defects/{defect}/decide", data={
        "csrf_token": token, "sn": first, "type": "REWORK", "to_step_no": "50"}, follow_redirects=True)
    assert "REASON_REQUIRED" in refused.get_data(as_text=True) and unit_status(app, first)[0] == "OUT_FAILED"
    client.post(f"/disposition/defects/{defect}/decide", data={
        "csrf_token": token, "sn": first, "type": "REWORK", "to_step_no": "50", "reason": "touch up U3"})
    assert unit_status(app, first) == ("QUEUED", 50)
    held = int(re.search(rf'/disposition/defects/(\d+)/decide[^"]*" id="decide-{second}"', page).group(1))
    client.post(f"/disposition/defects/{held}/decide", data={
        "csrf_token": token, "sn": second, "type": "HOLD", "reason": "wait for the engineer"})
    page = client.get("/disposition/").get_data(as_text=True)
    assert f'id="queue-{first}"' not in page and f'id="release-{second}"' in page
    client.post(f"/disposition/defects/{held}/release", data={"csrf_token": token, "sn": second,
                                                              "reason": "engineer accepted"})
    assert unit_status(app, second) == ("QUEUED", 50)
    # a defect found by hand on a queued board
    page = client.post("/disposition/record", data={"csrf_token": token, "sn": third, "code": "SOLDER_BRIDGE",
                                                    "location": "C7"}, follow_redirects=True).get_data(as_text=True)
    assert f'id="decide-{third}"' in page and unit_status(app, third)[0] == "OUT_FAILED"
    client.get("/logout/")
    console_login(client, "operator")
    assert client.get("/disposition/").status_code in (302, 403)


def test_console_forms_survive_odd_input(client, api):
    run_no, _ = held_run(api)
    console_login(client, "quality")
    assert client.get("/disposition/?endpoint=x&defect_id=1&_method=GET").status_code == 200
    token = csrf_from(client.get(f"/runs/{run_no}").get_data(as_text=True))
    page = client.post(f"/mrb/runs/{run_no}", data={"csrf_token": token, "decision": "REWORK", "reason": "reflow",
                                                    "rework_type": "REUSE_PREP", "rework_from_step_no": "²"},
                       follow_redirects=True)
    assert page.status_code == 200 and "VALIDATION_ERROR" in page.get_data(as_text=True)


def test_no_new_board_joins_a_run_waiting_for_its_oqc(api):
    run_no, _ = held_run(api)  # closed out: the OQC is open
    refused = api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-LATE", "runNo": run_no})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "UNIT_NOT_FOUND"
    assert "waits for its OQC" in refused.get_json()["error"]["message"]
