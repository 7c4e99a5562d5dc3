"""Production console over real HTTP forms: actions shown only when state and permission allow,
the server's refusal shown plainly, exports, trace search."""
import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

import config
from app.extensions import db
from app.models import AuditEvent, IntegrationMessage, Line, Run, Station, Track, Unit, WorkOrder
from support import (authorized_run, build_unit, console_login, count, csrf_from, new_work_order, ok_data, pass_fai,
                     pass_step, prep_run, ready_run)


def test_work_order_actions_follow_state_and_permission(client, api, app):
    ok_data(api("planner").post("/api/v1/integration/work-orders", json={"woNo": "WO-C1", "productCode": "P-1001",
                                                                          "plannedQty": 4}))
    console_login(client, "planner")
    page = client.get("/work-orders/WO-C1").get_data(as_text=True)
    assert 'id="release-form"' in page and 'id="create-run-form"' not in page
    # a refusal shows the server's message: P-1001 is SMT, LINE-DIP-A is DIP
    token = csrf_from(page)
    refused = client.post("/work-orders/WO-C1/release", data={"csrf_token": token, "line_code": "LINE-DIP-A"},
                          follow_redirects=True).get_data(as_text=True)
    assert "LINE_ROUTING_PROCESS_MISMATCH" in refused and "Line LINE-DIP-A is DIP" in refused
    released = client.post("/work-orders/WO-C1/release", data={"csrf_token": token, "line_code": "LINE-SMT-A"},
                           follow_redirects=True).get_data(as_text=True)
    assert "released to LINE-SMT-A" in released and 'id="create-run-form"' in released and 'id="release-form"' not in released
    created = client.post("/runs/create", data={"csrf_token": token, "wo_no": "WO-C1", "line_code": "LINE-SMT-A",
                                                "plan_qty": "4"}, follow_redirects=True).get_data(as_text=True)
    assert "Run WO-C1-R01 created" in created and 'id="authorize-button"' in created
    with app.app_context():
        assert db.session.execute(select(WorkOrder.status).filter_by(wo_no="WO-C1")).scalar_one() == "IN_PROGRESS"
    client.get("/logout/")
    console_login(client, "engineer")  # reads work orders, may not release or create runs
    page = client.get("/work-orders/WO-C1").get_data(as_text=True)
    assert "WO-C1" in page and 'id="release-form"' not in page and 'id="create-run-form"' not in page
    assert client.post("/work-orders/WO-C1/close", data={"csrf_token": csrf_from(page)}).status_code == 403


def test_run_detail_actions_and_scope(client, api):
    run_no = ready_run(api)
    pass_fai(api, run_no)  # the route's FAI gate (02_rules §3): quality passed and signed it
    console_login(client, "leader")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="authorize-button"' in page and 'id="units-form"' not in page  # leader: authorize, not create
    token = csrf_from(page)
    page = client.post(f"/runs/{run_no}/authorize", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert f"Run {run_no} authorized" in page and 'id="run-status">AUTHORIZED' in page
    client.get("/logout/")
    console_login(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert "AUTHORIZED" in page and 'id="run-actions"' not in page
    client.get("/logout/")
    console_login(client, "operator2")  # DIP stations only: an SMT run is out of scope
    page = client.get(f"/runs/{run_no}", follow_redirects=True).get_data(as_text=True)
    assert "RUN_NOT_FOUND" in page and "outside your scope" not in page  # as if it did not exist


def test_close_refusal_lists_the_counts(client, api):
    run_no = authorized_run(api, qty=2, units=2)
    build_unit(api, run_no, f"{run_no}-0001", until=20)
    console_login(client, "planner")
    token = csrf_from(client.get(f"/runs/{run_no}").get_data(as_text=True))
    page = client.post(f"/runs/{run_no}/close", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "RUN_UNITS_NOT_TERMINAL" in page and "Finish or disposition" in page


def test_trace_search_and_exports(client, api, app):
    run_no = authorized_run(api, qty=1, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn)
    console_login(client, "planner")
    assert client.get(f"/trace/?q={sn}").headers["Location"].endswith(f"/trace/units/{sn}")
    assert client.get(f"/trace/?q={run_no}").headers["Location"].endswith(f"/runs/{run_no}")
    assert "NOPE. Check the label (SN)" in client.get("/trace/?q=NOPE").get_data(as_text=True)
    page = client.get(f"/trace/units/{sn}").get_data(as_text=True)
    # the timeline's 5 PASS tracks (the run's FAI, PASS too, is listed under Inspections, not counted here)
    timeline = page[page.index('id="trace-tracks"'):page.index("</table>", page.index('id="trace-tracks"'))]
    assert timeline.count("<td><strong>PASS</strong></td>") == 5 and "peak_temp_c = <strong>250.0</strong>" in page
    inspections = page[page.index('id="trace-inspections"'):page.index("</table>", page.index('id="trace-inspections"'))]
    assert "<td>FAI-" in inspections and "<td><strong>PASS</strong></td>" in inspections
    export = client.get(f"/trace/units/{sn}/csv")
    rows = export.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert export.mimetype == "text/csv" and rows[0].startswith("sn,step,operation") and len(rows) == 6
    assert client.get(f"/work-orders/csv?q={run_no.rsplit('-R', 1)[0]}").get_data(as_text=True).count("\n") == 2
    assert run_no in client.get("/runs/csv").get_data(as_text=True)
    client.get("/logout/")
    console_login(client, "operator")  # reads trace, may not export
    assert client.get(f"/trace/units/{sn}").status_code == 200
    assert client.get(f"/trace/units/{sn}/csv").status_code == 403


def test_new_work_order_entered_by_hand(client, app):
    console_login(client, "planner")
    token = csrf_from(client.get("/work-orders/").get_data(as_text=True))
    page = client.post("/work-orders/new", data={"csrf_token": token, "wo_no": "WO-HAND-1", "product_code": "P-2001",
                                                 "planned_qty": "7"}, follow_redirects=True).get_data(as_text=True)
    assert "Work order WO-HAND-1 received" in page
    bad = client.post("/work-orders/new", data={"csrf_token": token, "wo_no": "WO-HAND-2", "product_code": "P-2001",
                                                "planned_qty": "0"}, follow_redirects=True).get_data(as_text=True)
    assert "VALIDATION_ERROR" in bad
    with app.app_context():
        wo = db.session.execute(select(WorkOrder).filter_by(wo_no="WO-HAND-1")).scalar_one()
        assert (wo.planned_qty, wo.source_system, wo.status) == (7, "MANUAL", "RECEIVED")
        assert db.session.execute(select(Run.id)).first() is None


# -- work orders: create-only console entry, receive keeps what the message lacks, quantity budget ----

def receive(api, **fields):
    return api("planner").post("/api/v1/integration/work-orders", json={"productCode": "P-2001", **fields})


def test_console_new_work_order_refuses_an_existing_number(client, api, app):
    console_login(client, "planner")
    token = csrf_from(client.get("/work-orders/").get_data(as_text=True))
    form = {"csrf_token": token, "wo_no": "WO-HAND-9", "product_code": "P-2001", "planned_qty": "7"}
    assert "Work order WO-HAND-9 received" in client.post("/work-orders/new", data=form,
                                                          follow_redirects=True).get_data(as_text=True)
    with app.app_context():
        before = (count(WorkOrder), count(IntegrationMessage), count(AuditEvent, AuditEvent.status == "SUCCESS"))
    for qty in ("7", "3"):  # the same entry again, and a typing mistake that would overwrite the order
        page = client.post("/work-orders/new", data={**form, "planned_qty": qty},
                           follow_redirects=True).get_data(as_text=True)
        assert "WORK_ORDER_EXISTS" in page and "already exists (RECEIVED)" in page
    with app.app_context():
        assert (count(WorkOrder), count(IntegrationMessage),
                count(AuditEvent, AuditEvent.status == "SUCCESS")) == before
        assert count(AuditEvent, AuditEvent.error_code == "WORK_ORDER_EXISTS") == 2
        assert db.session.execute(select(WorkOrder.planned_qty).filter_by(wo_no="WO-HAND-9")).scalar_one() == 7
    # the integration receive stays an upsert
    assert ok_data(receive(api, woNo="WO-HAND-9", plannedQty=3))["plannedQty"] == 3


def test_receive_keeps_the_due_date_when_the_message_has_none(api, app):
    ok_data(receive(api, woNo="WO-DUE-1", plannedQty=5, dueDate="2027-01-15"))
    assert ok_data(receive(api, woNo="WO-DUE-1", plannedQty=6))["dueDate"] == "2027-01-15"
    assert ok_data(receive(api, woNo="WO-DUE-1", plannedQty=7, dueDate=None))["dueDate"] == "2027-01-15"
    assert ok_data(receive(api, woNo="WO-DUE-1", plannedQty=7, dueDate="2027-02-01"))["dueDate"] == "2027-02-01"
    with app.app_context():
        wo = db.session.execute(select(WorkOrder).filter_by(wo_no="WO-DUE-1")).scalar_one()
        assert (wo.planned_qty, wo.due_date.isoformat()) == (7, "2027-02-01")


def test_planned_qty_cannot_drop_below_what_runs_plan(api, app):
    run_no = prep_run(api, product="P-2001", qty=6, wo_no="WO-LOW-1")  # WO of 6, one run of 6
    ok_data(receive(api, woNo="WO-LOW-1", plannedQty=10))
    with app.app_context():
        audit_ok = count(AuditEvent, AuditEvent.status == "SUCCESS")
    response = receive(api, woNo="WO-LOW-1", plannedQty=5)
    error = response.get_json()["error"]
    assert response.status_code == 400 and error["code"] == "QUANTITY_EXCEEDS_WORK_ORDER", error
    assert error["details"] == {"plannedQty": 5, "alreadyPlanned": 6, "scrapped": 0, "minimum": 6}
    with app.app_context():
        assert db.session.execute(select(WorkOrder.planned_qty).filter_by(wo_no="WO-LOW-1")).scalar_one() == 10
        assert count(AuditEvent, AuditEvent.status == "SUCCESS") == audit_ok
        assert count(IntegrationMessage, IntegrationMessage.business_key == "WO-LOW-1",
                     IntegrationMessage.status == "FAILED") == 1
    # a scrapped unit is replaced: the runs' 6 fit into a planned quantity of 5 + 1 scrapped
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 2}))
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.sn == f"{run_no}-0001").values(status="SCRAPPED"))
        db.session.commit()
    assert ok_data(receive(api, woNo="WO-LOW-1", plannedQty=5))["plannedQty"] == 5
    assert receive(api, woNo="WO-LOW-1", plannedQty=4).get_json()["error"]["code"] == "QUANTITY_EXCEEDS_WORK_ORDER"


def test_remaining_quantity_is_the_same_in_the_console_and_at_run_creation(client, api, app):
    run_no = prep_run(api, product="P-2001", qty=6, wo_no="WO-REM-1")
    ok_data(receive(api, woNo="WO-REM-1", plannedQty=10))
    console_login(client, "planner")
    page = client.get("/work-orders/WO-REM-1").get_data(as_text=True)
    assert "(4 not yet planned in runs)" in page and 'value="4"' in page
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 1}))
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.run_id == select(Run.id).filter_by(run_no=run_no)
                                              .scalar_subquery()).values(status="SCRAPPED"))
        db.session.commit()
    page = client.get("/work-orders/WO-REM-1").get_data(as_text=True)
    assert "(5 not yet planned in runs, 1 scrapped to replace)" in page
    create = api("planner").post("/api/v1/work-orders/WO-REM-1/runs", json={"lineCode": "LINE-DIP-A", "planQty": 6})
    assert create.get_json()["error"]["code"] == "QUANTITY_EXCEEDS_WORK_ORDER"
    assert create.get_json()["error"]["details"]["available"] == 5
    second = ok_data(api("planner").post("/api/v1/work-orders/WO-REM-1/runs",
                                         json={"lineCode": "LINE-DIP-A", "planQty": 5}))["runNo"]
    assert "(0 not yet planned in runs" in client.get("/work-orders/WO-REM-1").get_data(as_text=True)
    ok_data(api("planner").post(f"/api/v1/runs/{second}/cancel", json={"reason": "not needed"}))
    assert "(5 not yet planned in runs" in client.get("/work-orders/WO-REM-1").get_data(as_text=True)


# -- release dialog, run creation hint, runs list filter -------------------------------------------

def test_release_dialog_lists_every_active_line_matching_ones_first(client, api, app):
    ok_data(receive(api, woNo="WO-LINES-1", productCode="P-1001", plannedQty=2))
    with app.app_context():
        db.session.add(Line(code="LINE-SMT-B", name="SMT line B", process_type="SMT", is_active=True))
        db.session.add(Line(code="LINE-SMT-Z", name="retired", process_type="SMT", is_active=False))
        db.session.commit()
    console_login(client, "planner")
    page = client.get("/work-orders/WO-LINES-1").get_data(as_text=True)
    select_html = page[page.index('id="release-line"'):page.index("</select>", page.index('id="release-line"'))]
    options = re.findall(r'<option value="([^"]+)" data-compatible="(\d)"', select_html)
    assert options == [("LINE-SMT-A", "1"), ("LINE-SMT-B", "1"), ("LINE-DIP-A", "0")]
    assert "Lines of the routing&#39;s process (SMT)" in select_html or "Lines of the routing's process (SMT)" in select_html
    assert "LINE-DIP-A — DIP line A (DIP, does not match)" in select_html


def test_run_line_incompatible_refusal_says_what_to_do(client, api, app):
    wo_no = new_work_order(api, product="P-2001", qty=2, wo_no="WO-INC-1")
    with app.app_context():
        db.session.execute(update(Station).where(Station.code == "ST-DIP-WAVE-01").values(is_active=False))
        db.session.commit()
    console_login(client, "planner")
    token = csrf_from(client.get(f"/work-orders/{wo_no}").get_data(as_text=True))
    page = client.post("/runs/create", data={"csrf_token": token, "wo_no": wo_no, "line_code": "LINE-DIP-A",
                                             "plan_qty": "2"}, follow_redirects=True).get_data(as_text=True)
    assert "RUN_LINE_INCOMPATIBLE_WITH_ROUTE" in page and "step(s) 20" in page
    assert "add or activate, on this line, a station of the listed steps" in page
    with app.app_context():
        assert count(Run, Run.work_order_id == select(WorkOrder.id).filter_by(wo_no=wo_no).scalar_subquery()) == 0


def test_runs_list_work_order_filter_matches_part_of_the_number(client, api):
    run_no = prep_run(api, product="P-2001", qty=1, wo_no="WO-FLT-ABC-7")
    other = prep_run(api, product="P-2001", qty=1, wo_no="WO-OTHER-7")
    console_login(client, "planner")
    page = client.get("/runs/?woNo=flt-abc").get_data(as_text=True)
    assert run_no in page and other not in page and "1 run(s)" in page
    assert run_no in client.get("/runs/csv?woNo=FLT").get_data(as_text=True)
    assert "0 run(s)" in client.get("/runs/?woNo=_").get_data(as_text=True)  # `_` is no wildcard
    assert "0 run(s)" in client.get("/runs/?woNo=WO%25OTHER").get_data(as_text=True)  # nor is `%`
    # the API's woNo stays an exact match
    assert ok_data(api("planner").get("/api/v1/runs?woNo=FLT-ABC")) == []
    assert [r["runNo"] for r in ok_data(api("planner").get("/api/v1/runs?woNo=WO-FLT-ABC-7"))] == [run_no]


# -- run detail: close offered only when it can succeed, truncated units table ------------------

def test_close_is_offered_only_when_every_unit_is_terminal(client, api):
    # one unit generated of a plan of 3: 2 of the test's own + the FAI trial board, QUEUED at step 20
    run_no = authorized_run(api, product="P-2001", qty=2, units=1)
    sn, trial = f"{run_no}-0001", f"{run_no}-FAI1"
    console_login(client, "planner")
    assert 'id="close-button"' not in client.get(f"/runs/{run_no}").get_data(as_text=True)  # AUTHORIZED, open unit
    build_unit(api, run_no, sn, product="P-2001", until=20)
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="run-status">IN_PROGRESS' in page and 'id="close-button"' not in page
    for step in (30, 40):
        pass_step(api, run_no, sn, step, product="P-2001")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)  # 0001 DONE, the trial board still open
    assert 'id="run-status">IN_PROGRESS' in page and 'id="close-button"' not in page
    for step in (20, 30, 40):
        pass_step(api, run_no, trial, step, product="P-2001")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)  # a short run: 2 of 3 built, all DONE
    assert 'id="run-status">IN_PROGRESS' in page and 'id="close-button"' in page
    client.get("/logout/")
    console_login(client, "leader")  # may not close runs
    assert 'id="close-button"' not in client.get(f"/runs/{run_no}").get_data(as_text=True)


def test_run_detail_says_when_the_units_table_is_truncated(client, api):
    run_no = prep_run(api, product="P-2001", qty=503)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 503}))
    console_login(client, "planner")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert "Showing the first 500 of 503 units" in page
    assert page.count(f">{run_no}-0") == 500
    page = client.get(f"/runs/{run_no}?unitStatus=DONE").get_data(as_text=True)
    assert 'id="run-units-truncated"' not in page
    small = prep_run(api, product="P-2001", qty=2)
    ok_data(api("planner").post(f"/api/v1/runs/{small}/units", json={"quantity": 2}))
    assert 'id="run-units-truncated"' not in client.get(f"/runs/{small}").get_data(as_text=True)


# -- display time zone ---------------------------------------------------------------------------

def test_times_are_shown_in_the_configured_time_zone(client, api, app, monkeypatch):
    run_no = authorized_run(api, product="P-2001", qty=1, units=1)
    sn = f"{run_no}-0001"
    pass_step(api, run_no, sn, 10, product="P-2001")
    monkeypatch.setitem(app.config, "MES_TIMEZONE", "Asia/Tokyo")  # UTC+9, no daylight saving
    console_login(client, "admin")
    with app.app_context():
        track_in = db.session.execute(select(Track.in_at).join(Unit, Unit.id == Track.unit_id)
                                      .where(Unit.sn == sn)).scalar_one()
    expected = (track_in + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S") + " UTC+09:00"
    trace_page = client.get(f"/trace/units/{sn}").get_data(as_text=True)
    assert expected in trace_page
    audit_page = client.get(f"/audit/?entityKey={sn}&action=TRACK_IN").get_data(as_text=True)
    assert expected[:-14] in audit_page and " UTC+09:00" in audit_page  # the same minute, in the plant's zone
    routing = client.get("/routings/RT-P2001-DIP").get_data(as_text=True)
    assert " UTC+09:00</td>" in routing and " UTC</td>" not in routing
    assert " UTC+09:00 by " in client.get("/routings/RT-P2001-DIP/versions/1").get_data(as_text=True)
    assert "JST" not in trace_page + audit_page + routing  # a zone abbreviation is ambiguous (CST)


def test_display_time_formatting_and_zone_validation(app):
    from app.views.base import format_datetime
    with app.test_request_context():
        app.config["MES_TIMEZONE"], previous = "Europe/Berlin", app.config["MES_TIMEZONE"]
        try:
            assert format_datetime("2026-07-01T10:00:00+00:00") == "2026-07-01 12:00:00 UTC+02:00"  # summer time
            assert format_datetime(datetime(2026, 1, 1, 10, 0)) == "2026-01-01 11:00:00 UTC+01:00"  # naive = UTC
            assert format_datetime("2026-01-01T10:00:00Z", False) == "2026-01-01 11:00 UTC+01:00"
            assert format_datetime(None) == "" and format_datetime("") == "" and format_datetime("n/a") == "n/a"
        finally:
            app.config["MES_TIMEZONE"] = previous
    with pytest.raises(RuntimeError, match="MES_TIMEZONE"):
        config.validate_config({"SECRET_KEY": "x", "MES_LOG_FORMAT": "json", "MES_TIMEZONE": "Mars/Olympus"})


# -- Station Terminal page ------------------------------------------------------------------------

def test_terminal_page_gives_the_script_what_it_needs(client):
    console_login(client, "operator")
    page = client.get("/terminal/ST-PRINT-01").get_data(as_text=True)
    cfg = json.loads(re.search(r'<script type="application/json" id="terminal-config">(.*?)</script>', page,
                               re.S).group(1))
    assert cfg["station"] == "ST-PRINT-01" and cfg["lineCode"] == "LINE-SMT-A"
    assert {"code": "SOLDER_BRIDGE", "name": "Solder bridge", "category": "SMT solder"} in cfg["defectCodes"]
    assert cfg["loginUrl"].startswith("/login/") and "terminal" in cfg["loginUrl"]
    defect_list = page[page.index('id="defect-code"'):page.index("</select>", page.index('id="defect-code"'))]
    assert "<option" not in defect_list  # nothing preselected: the script fills it, the operator picks
    assert 'id="defect-filter"' in page and 'id="unit-no-data"' in page
