"""Work orders (02_rules §2) and runs (§3) through the API: receive (idempotent, logged), release with the
resolved routing stored, WO closeout; run creation with its guards in their order, the frozen version,
unit generation, authorize / revoke, cancel, closeout and the automatic closeout; the WorkOrder and Run
state machines (01_domain_model §7); the permission matrix and the data scope. Every refusal leaves the
business data unchanged; a refused business attempt is audited once (status FAIL, its error code),
permission and schema rejections (403/422) are not audited."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    AuditEvent, IntegrationMessage, Line, MesUser, ReadinessCheck, Run, Station, Track, Unit, WorkOrder,
)
from support import (
    DIP_LINE, SMT_LINE, authorized_run, build_unit, count, finish_trial_board, fresh_consumable_statuses,
    new_work_order, ok_data, pass_step, prep_run, ready_run,
)

RECEIVE = "/api/v1/integration/work-orders"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def business_state():
    """Every work order, run and unit with the fields the rules change, plus counts of the rows a
    refused call must not write (inside an app context)."""
    wos = db.session.execute(select(
        WorkOrder.wo_no, WorkOrder.status, WorkOrder.planned_qty, WorkOrder.product_id, WorkOrder.routing_id,
        WorkOrder.line_id, WorkOrder.due_date, WorkOrder.released_at, WorkOrder.closed_at).order_by(WorkOrder.id)).all()
    runs = db.session.execute(select(
        Run.run_no, Run.status, Run.plan_qty, Run.route_version_id, Run.authorized_by, Run.authorized_at,
        Run.started_at, Run.ended_at).order_by(Run.id)).all()
    units = db.session.execute(select(Unit.sn, Unit.run_id, Unit.status, Unit.current_step_no).order_by(Unit.id)).all()
    return {
        "wos": [tuple(r) for r in wos], "runs": [tuple(r) for r in runs], "units": [tuple(u) for u in units],
        "tracks": count(Track), "messages": count(IntegrationMessage), "checks": count(ReadinessCheck),
        # logins of the test users (a token is fetched on first use) are not business changes
        "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN"),
    }


def fail_events(code):
    return count(AuditEvent, AuditEvent.status == "FAIL", AuditEvent.error_code == code)


def refused(app, call, status, code, *, ignore=(), audited=None):
    """Call, expect the error envelope, and check that nothing changed: the business rows are the
    same and the only new audit event is the FAIL event of a refused business attempt (none for
    403/422, none for reads: `audited=False`). `ignore`: state keys a refusal may legitimately change
    (e.g. a FAILED integration message), asserted by the caller."""
    with app.app_context():
        before, fails = business_state(), fail_events(code)
    response = call()
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    with app.app_context():
        after = business_state()
        for key in ignore:
            before.pop(key), after.pop(key)
        assert after == before
        if audited is None:
            audited = status not in (401, 403, 422)
        assert fail_events(code) == fails + (1 if audited else 0)
    return body["error"]


def receive(api, user="planner", **body):
    payload = {"woNo": "WO-X1", "productCode": "P-1001", "plannedQty": 5, **body}
    return api(user).post(RECEIVE, json={k: v for k, v in payload.items() if v is not None})


def release(api, wo_no, line=SMT_LINE, user="planner"):
    return api(user).post(f"/api/v1/work-orders/{wo_no}/release", json={"lineCode": line})


def create_run(api, wo_no, qty, line=SMT_LINE, user="planner", **extra):
    return api(user).post(f"/api/v1/work-orders/{wo_no}/runs", json={"lineCode": line, "planQty": qty, **extra})


def run_action(api, run_no, action, user="planner", **body):
    return api(user).post(f"/api/v1/runs/{run_no}/{action}", json=body)


def wo_row(app, wo_no):
    with app.app_context():
        return db.session.execute(select(WorkOrder).filter_by(wo_no=wo_no)).scalar_one()


def run_row(app, run_no):
    with app.app_context():
        return db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one()


def set_rows(app, model, where, **values):
    """Arrange a state that later capabilities (FAI trial, disposition, OQC) or rare events produce."""
    with app.app_context():
        db.session.execute(update(model).where(where).values(**values))
        db.session.commit()


def messages(app, wo_no):
    with app.app_context():
        rows = db.session.execute(select(IntegrationMessage).where(IntegrationMessage.business_key == wo_no)
                                  .order_by(IntegrationMessage.id)).scalars().all()
        return [(m.system, m.status, m.source, m.operator, m.error_code) for m in rows]


def audit_actions(app, key, status="SUCCESS"):
    with app.app_context():
        return db.session.execute(select(AuditEvent.action).where(
            AuditEvent.entity_key == key, AuditEvent.status == status).order_by(AuditEvent.id)).scalars().all()


# ---------------------------------------------------------------------------------------------
# §2 Receive
# ---------------------------------------------------------------------------------------------

def test_receive_creates_a_received_work_order_and_logs_the_message(api, app):
    data = ok_data(receive(api, dueDate="2031-05-01"))
    assert data["duplicate"] is False
    assert (data["woNo"], data["status"], data["plannedQty"], data["product"]["code"], data["dueDate"],
            data["sourceSystem"], data["line"], data["routingCode"]) == (
        "WO-X1", "RECEIVED", 5, "P-1001", "2031-05-01", "MANUAL", None, None)
    assert messages(app, "WO-X1") == [("MES", "SUCCESS", "MANUAL", "planner", None)]
    assert audit_actions(app, "WO-X1") == ["WORK_ORDER_RECEIVE"]
    shown = ok_data(api("manager").get("/api/v1/work-orders/WO-X1"))
    assert shown["status"] == "RECEIVED" and shown["runs"] == []


def test_receive_is_idempotent_by_number_and_content(api, app):
    first = ok_data(receive(api))
    with app.app_context():
        before = business_state()
    again = ok_data(receive(api))
    assert again["duplicate"] is True and {**again, "duplicate": False} == first
    with app.app_context():
        after = business_state()
        assert after["messages"] == before["messages"] + 1
        assert {**after, "messages": 0} == {**before, "messages": 0}  # no second WO, no new audit event
    assert [m[1] for m in messages(app, "WO-X1")] == ["SUCCESS", "DUPLICATE"]
    changed = ok_data(receive(api, plannedQty=7))
    assert changed["duplicate"] is False and changed["plannedQty"] == 7
    # the first content again is a change back, not a duplicate of a stale message
    back = ok_data(receive(api))
    assert back["duplicate"] is False and back["plannedQty"] == 5
    assert [m[1] for m in messages(app, "WO-X1")] == ["SUCCESS", "DUPLICATE", "SUCCESS", "SUCCESS"]
    assert audit_actions(app, "WO-X1") == ["WORK_ORDER_RECEIVE", "WORK_ORDER_UPDATE", "WORK_ORDER_UPDATE"]
    with app.app_context():
        assert count(WorkOrder, WorkOrder.wo_no == "WO-X1") == 1


def test_erp_receive_is_auto_and_keeps_extra_keys_in_the_message(api, app):
    data = ok_data(receive(api, user="integration", erpPlant="1000", sourceSystem="ERP"))
    assert data["sourceSystem"] == "ERP" and data["status"] == "RECEIVED"
    assert messages(app, "WO-X1") == [("ERP", "SUCCESS", "AUTO", None, None)]
    with app.app_context():
        message = db.session.execute(select(IntegrationMessage).filter_by(business_key="WO-X1")).scalar_one()
        assert message.payload["erpPlant"] == "1000"


def test_receive_refreshes_an_existing_work_order_and_never_downgrades_its_status(api, app):
    wo_no = new_work_order(api, qty=3)
    assert wo_row(app, wo_no).status == "RELEASED"
    data = ok_data(receive(api, woNo=wo_no, plannedQty=8, dueDate="2031-01-31"))
    assert (data["status"], data["plannedQty"], data["dueDate"], data["line"]["code"], data["routingCode"]) == (
        "RELEASED", 8, "2031-01-31", SMT_LINE, "RT-P1001-SMT")
    ok_data(create_run(api, wo_no, 2))
    assert ok_data(receive(api, woNo=wo_no, plannedQty=9))["status"] == "IN_PROGRESS"
    # after the release the product is fixed
    error = refused(app, lambda: receive(api, woNo=wo_no, productCode="P-2001", plannedQty=9), 422, "VALIDATION_ERROR",
                    ignore=("messages",))
    assert "productCode" in error["details"]["fields"]
    assert messages(app, wo_no)[-1] == ("MES", "FAILED", "MANUAL", "planner", "VALIDATION_ERROR")


@pytest.mark.parametrize("body,status,code", [
    ({"productCode": "P-NOPE"}, 400, "PRODUCT_NOT_FOUND"),
    ({"routingCode": "RT-NOPE"}, 400, "ROUTE_NOT_FOUND"),
    ({"plannedQty": 0}, 422, "VALIDATION_ERROR"),
    ({"plannedQty": -3}, 422, "VALIDATION_ERROR"),
    ({"plannedQty": "five"}, 422, "VALIDATION_ERROR"),
    ({"productCode": None}, 422, "VALIDATION_ERROR"),
])
def test_receive_refusals_write_only_the_failed_message(api, app, body, status, code):
    with app.app_context():
        messages_before = count(IntegrationMessage)
    refused(app, lambda: receive(api, **body), status, code, ignore=("messages",))
    with app.app_context():
        assert count(IntegrationMessage) == messages_before + 1
    assert messages(app, "WO-X1") == [("MES", "FAILED", "MANUAL", "planner", code)]


def test_a_completed_work_order_is_not_changed_by_a_receive(api, app):
    run_no = authorized_run(api, qty=1, units=1)
    build_unit(api, run_no, f"{run_no}-0001")
    wo_no = run_no.rsplit("-R", 1)[0]
    ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))
    refused(app, lambda: receive(api, woNo=wo_no, plannedQty=4), 400, "WORK_ORDER_COMPLETED", ignore=("messages",))
    assert messages(app, wo_no)[-1][1:] == ("FAILED", "MANUAL", "planner", "WORK_ORDER_COMPLETED")
    assert wo_row(app, wo_no).planned_qty == 2  # as received: the board and the FAI trial board, not 4


# ---------------------------------------------------------------------------------------------
# §2 Release and routing resolution
# ---------------------------------------------------------------------------------------------

def test_release_stores_the_line_and_the_resolved_routing(api, app):
    ok_data(receive(api))
    data = ok_data(release(api, "WO-X1"))
    assert (data["status"], data["line"]["code"], data["routingCode"]) == ("RELEASED", SMT_LINE, "RT-P1001-SMT")
    assert data["releasedAt"] is not None
    wo = wo_row(app, "WO-X1")
    assert wo.line_id is not None and wo.routing_id is not None and wo.released_at is not None
    assert audit_actions(app, "WO-X1")[-1] == "WORK_ORDER_RELEASE"


def _engineer_routing(api, code, product, effective_from=None, compile_it=True):
    body = {"code": code, "name": f"{code} routing", "productCode": product, "processType": "SMT",
            "steps": [{"stepNo": 10, "operationCode": "PRINTING", "stationGroupCode": "SMT-A-PRINT",
                       "stationType": "MANUAL"},
                      {"stepNo": 20, "operationCode": "AOI", "stationGroupCode": "SMT-A-AOI", "stationType": "MANUAL"}]}
    if effective_from is not None:
        body["effectiveFrom"] = effective_from.isoformat()
    assert api("engineer").post("/api/v1/routings", json=body).status_code == 201
    if compile_it:
        assert ok_data(api("engineer").post(f"/api/v1/routings/{code}/compile"))["status"] == "READY"


def test_routing_resolution_mes_first_latest_effective_and_later_changes_do_not_affect_a_released_wo(api, app):
    ok_data(receive(api, woNo="WO-A"))
    assert ok_data(release(api, "WO-A"))["routingCode"] == "RT-P1001-SMT"
    now = datetime.now(timezone.utc)
    _engineer_routing(api, "RT-P1001-NEW", "P-1001", effective_from=now - timedelta(days=1))
    # an ERP routing effective even later loses against the MES one
    erp = {"code": "RT-P1001-ERP", "name": "ERP", "productCode": "P-1001", "processType": "SMT",
           "effectiveFrom": (now - timedelta(hours=1)).isoformat(),
           "steps": [{"stepNo": 10, "operationCode": "PRINTING", "stationGroupCode": "SMT-A-PRINT",
                      "stationType": "MANUAL"}]}
    ok_data(api("integration").post("/api/v1/integration/routings", json=erp))
    ok_data(api("engineer").post("/api/v1/routings/RT-P1001-ERP/compile"))
    # a routing that becomes effective only tomorrow is not a candidate yet
    _engineer_routing(api, "RT-P1001-FUTURE", "P-1001", effective_from=now + timedelta(days=1))
    ok_data(receive(api, woNo="WO-B"))
    assert ok_data(release(api, "WO-B"))["routingCode"] == "RT-P1001-NEW"
    # WO-A keeps the routing resolved at its release: its run freezes a version of RT-P1001-SMT
    run = ok_data(create_run(api, "WO-A", 2))
    assert run["routeVersion"] == {"routingCode": "RT-P1001-SMT", "versionNo": 1}
    # an explicit routing on the work order wins over the resolution
    ok_data(receive(api, woNo="WO-C", routingCode="RT-P1001-SMT"))
    assert ok_data(release(api, "WO-C"))["routingCode"] == "RT-P1001-SMT"


def test_release_checks_in_order(api, app):
    assert api("engineer").post("/api/v1/products/", json={"code": "P-3001", "name": "New board",
                                                            "process_type": "SMT"}).status_code == 201
    ok_data(receive(api, woNo="WO-N", productCode="P-3001"))
    refused(app, lambda: release(api, "WO-NOPE"), 404, "WORK_ORDER_NOT_FOUND")
    # no routing for the product (checked before the line)
    refused(app, lambda: release(api, "WO-N", line="LINE-NOPE"), 400, "ROUTE_NOT_FOUND")
    _engineer_routing(api, "RT-P3001", "P-3001", compile_it=False)
    refused(app, lambda: release(api, "WO-N", line="LINE-NOPE"), 400, "ROUTE_NOT_READY")
    assert ok_data(api("engineer").post("/api/v1/routings/RT-P3001/compile"))["status"] == "READY"
    error = refused(app, lambda: release(api, "WO-N", line="LINE-NOPE"), 400, "LINE_NOT_FOUND")
    assert error["details"] == {"lineCode": "LINE-NOPE"}
    error = refused(app, lambda: release(api, "WO-N", line=DIP_LINE), 400, "LINE_ROUTING_PROCESS_MISMATCH")
    assert error["details"] == {"lineProcess": "DIP", "routingProcess": "SMT"}
    ok_data(release(api, "WO-N"))
    # released: the status is checked before anything else
    refused(app, lambda: release(api, "WO-N", line="LINE-NOPE"), 400, "WORK_ORDER_NOT_RECEIVED")
    refused(app, lambda: api("planner").post("/api/v1/work-orders/WO-N/release", json={}), 422, "VALIDATION_ERROR")
    with app.app_context():
        fails = db.session.execute(select(AuditEvent.action, AuditEvent.entity_key, AuditEvent.error_code).where(
            AuditEvent.status == "FAIL", AuditEvent.action == "WORK_ORDER_RELEASE").order_by(AuditEvent.id)).all()
    assert [tuple(f) for f in fails] == [
        ("WORK_ORDER_RELEASE", "WO-NOPE", "WORK_ORDER_NOT_FOUND"), ("WORK_ORDER_RELEASE", "WO-N", "ROUTE_NOT_FOUND"),
        ("WORK_ORDER_RELEASE", "WO-N", "ROUTE_NOT_READY"), ("WORK_ORDER_RELEASE", "WO-N", "LINE_NOT_FOUND"),
        ("WORK_ORDER_RELEASE", "WO-N", "LINE_ROUTING_PROCESS_MISMATCH"),
        ("WORK_ORDER_RELEASE", "WO-N", "WORK_ORDER_NOT_RECEIVED")]


def test_an_unknown_work_order_in_the_path_is_404_everywhere(api, app):
    refused(app, lambda: api("planner").get("/api/v1/work-orders/WO-NOPE"), 404, "WORK_ORDER_NOT_FOUND", audited=False)
    refused(app, lambda: create_run(api, "WO-NOPE", 1), 404, "WORK_ORDER_NOT_FOUND")
    refused(app, lambda: api("planner").post("/api/v1/work-orders/WO-NOPE/close"), 404, "WORK_ORDER_NOT_FOUND")


# ---------------------------------------------------------------------------------------------
# §2 WO closeout
# ---------------------------------------------------------------------------------------------

def close_wo(api, wo_no, user="planner", **body):
    return api(user).post(f"/api/v1/work-orders/{wo_no}/close", json=body or None)


def test_a_work_order_without_runs_cannot_be_closed(api, app):
    ok_data(receive(api, woNo="WO-CL"))
    refused(app, lambda: close_wo(api, "WO-CL"), 400, "WORK_ORDER_HAS_NO_RUNS")
    ok_data(release(api, "WO-CL"))
    refused(app, lambda: close_wo(api, "WO-CL"), 400, "WORK_ORDER_HAS_NO_RUNS")


def test_work_order_closeout_when_every_run_is_terminal(api, app):
    first = authorized_run(api, qty=1, units=1)  # plans 2: its board and the FAI trial board (DONE on SMT)
    wo_no = first.rsplit("-R", 1)[0]
    ok_data(receive(api, woNo=wo_no, plannedQty=4))
    second = ok_data(create_run(api, wo_no, 2))["runNo"]
    error = refused(app, lambda: close_wo(api, wo_no), 409, "WORK_ORDER_RUNS_NOT_TERMINAL")
    assert first in error["message"] and second in error["message"]
    assert error["details"]["runs"] == [{"runNo": first, "status": "AUTHORIZED"}, {"runNo": second, "status": "PREP"}]
    ok_data(run_action(api, second, "cancel", reason="not needed"))
    build_unit(api, first, f"{first}-0001", until=40)
    refused(app, lambda: close_wo(api, wo_no), 409, "WORK_ORDER_RUNS_NOT_TERMINAL")  # IN_PROGRESS
    pass_step(api, first, f"{first}-0001", 50)
    assert run_row(app, first).status == "COMPLETED"
    # completing the last run does not complete the work order: the planner closes it
    assert wo_row(app, wo_no).status == "IN_PROGRESS"
    # 2 good of 4 planned: a short close needs an explicit confirmation with a reason (issue 17)
    error = refused(app, lambda: close_wo(api, wo_no), 409, "WORK_ORDER_SHORT")
    assert "2 good of 4 planned (0 scrapped)" in error["message"]
    assert error["details"] == {"plannedQty": 4, "good": 2, "scrap": 0, "inWork": 0, "units": 2}
    refused(app, lambda: close_wo(api, wo_no, confirmShort=True), 400, "REASON_REQUIRED")
    data = ok_data(close_wo(api, wo_no, confirmShort=True, reason="customer cut the order to 2"))
    assert data["status"] == "COMPLETED" and data["closedAt"] is not None
    assert [r["status"] for r in data["runs"]] == ["COMPLETED", "CANCELLED"]
    assert data["counts"] == {"good": 2, "scrap": 0, "inWork": 0, "units": 2}
    with app.app_context():
        event = db.session.execute(select(AuditEvent).filter_by(action="WORK_ORDER_CLOSE", entity_key=wo_no,
                                                                status="SUCCESS")).scalar_one()
        assert event.diff == {"before": {"status": "IN_PROGRESS"}, "after": {"status": "COMPLETED"}}
        assert event.reason == "customer cut the order to 2"
        assert event.payload == {"plannedQty": 4, "good": 2, "scrap": 0, "short": True}
    # idempotent: closing again succeeds and changes nothing (no second event)
    with app.app_context():
        before = business_state()
    assert ok_data(close_wo(api, wo_no))["status"] == "COMPLETED"
    with app.app_context():
        assert business_state() == before


# ---------------------------------------------------------------------------------------------
# §3 Create run
# ---------------------------------------------------------------------------------------------

def test_create_run_freezes_the_version_starts_the_wo_and_records_a_precheck(api, app):
    wo_no = new_work_order(api, qty=4)
    run = api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                              json={"lineCode": SMT_LINE, "planQty": 3, "shiftCode": "A"})
    assert run.status_code == 201
    data = run.get_json()["data"]
    assert (data["runNo"], data["status"], data["planQty"], data["shiftCode"], data["line"]["code"]) == (
        f"{wo_no}-R01", "PREP", 3, "A", SMT_LINE)
    assert data["routeVersion"] == {"routingCode": "RT-P1001-SMT", "versionNo": 1}
    assert data["workOrder"]["status"] == "IN_PROGRESS" and data["unitCounts"] == {}
    assert [s["stepNo"] for s in data["steps"]] == [10, 20, 30, 40, 50]
    assert audit_actions(app, wo_no) == ["WORK_ORDER_RECEIVE", "WORK_ORDER_RELEASE", "WORK_ORDER_START"]
    assert audit_actions(app, data["runNo"])[0] == "RUN_CREATE"
    with app.app_context():
        run_id = db.session.execute(select(Run.id).filter_by(run_no=data["runNo"])).scalar_one()
        assert [c.kind for c in db.session.execute(select(ReadinessCheck).filter_by(run_id=run_id)).scalars()] == [
            "PRECHECK"]
    # a new version of the routing affects only new runs
    ok_data(api("engineer").put("/api/v1/routings/RT-P1001-SMT", json={"name": "Controller board A — SMT rev B"}))
    assert ok_data(api("engineer").post("/api/v1/routings/RT-P1001-SMT/compile"))["versionNo"] == 2
    assert ok_data(api("planner").get(f"/api/v1/runs/{data['runNo']}"))["routeVersion"]["versionNo"] == 1
    second = ok_data(create_run(api, wo_no, 1))
    assert second["runNo"] == f"{wo_no}-R02" and second["routeVersion"]["versionNo"] == 2
    assert second["workOrder"]["status"] == "IN_PROGRESS"


def test_create_run_checks_in_order(api, app):
    ok_data(receive(api, woNo="WO-R", plannedQty=2))
    refused(app, lambda: create_run(api, "WO-NOPE", 1), 404, "WORK_ORDER_NOT_FOUND")
    error = refused(app, lambda: create_run(api, "WO-R", 5, line=DIP_LINE), 400, "WORK_ORDER_NOT_RELEASED")
    assert error["details"] == {"status": "RECEIVED"}
    ok_data(release(api, "WO-R"))
    error = refused(app, lambda: create_run(api, "WO-R", 5, line=DIP_LINE), 400, "WORK_ORDER_DISPATCH_LINE_MISMATCH")
    assert error["details"] == {"dispatchedLine": SMT_LINE}
    refused(app, lambda: create_run(api, "WO-R", 5, line="LINE-NOPE"), 400, "WORK_ORDER_DISPATCH_LINE_MISMATCH")
    # line compatibility: the only AOI station of the line is inactive → step 50 has no valid station
    set_rows(app, Station, Station.code == "ST-AOI-01", is_active=False)
    error = refused(app, lambda: create_run(api, "WO-R", 5), 400, "RUN_LINE_INCOMPATIBLE_WITH_ROUTE")
    assert error["details"] == {"steps": [50]} and "50" in error["message"]
    set_rows(app, Station, Station.code == "ST-AOI-01", is_active=True)
    error = refused(app, lambda: create_run(api, "WO-R", 3), 400, "QUANTITY_EXCEEDS_WORK_ORDER")
    assert error["details"] == {"plannedQty": 2, "alreadyPlanned": 0, "scrapped": 0, "available": 2}
    refused(app, lambda: create_run(api, "WO-R", 0), 422, "VALIDATION_ERROR")
    refused(app, lambda: create_run(api, "WO-R", "2"), 422, "VALIDATION_ERROR")
    refused(app, lambda: create_run(api, "WO-R", 1, color="red"), 422, "VALIDATION_ERROR")
    with app.app_context():
        assert count(Run) == 0 and count(ReadinessCheck) == 0
    ok_data(create_run(api, "WO-R", 2))


def test_a_station_of_another_group_or_type_does_not_make_the_line_compatible(api, app):
    wo_no = new_work_order(api, qty=2)
    with app.app_context():
        print_group = db.session.execute(select(Station.group_id).filter_by(code="ST-PRINT-01")).scalar_one()
    set_rows(app, Station, Station.code == "ST-SPI-01", group_id=print_group)
    error = refused(app, lambda: create_run(api, wo_no, 1), 400, "RUN_LINE_INCOMPATIBLE_WITH_ROUTE")
    assert error["details"] == {"steps": [20]}
    with app.app_context():
        spi_group = db.session.execute(select(Station.group_id).filter_by(code="ST-AOI-01")).scalar_one()
    set_rows(app, Station, Station.code == "ST-SPI-01", group_id=spi_group)
    set_rows(app, Station, Station.code == "ST-REFLOW-01", station_type="AUTO")
    error = refused(app, lambda: create_run(api, wo_no, 1), 400, "RUN_LINE_INCOMPATIBLE_WITH_ROUTE")
    assert error["details"] == {"steps": [20, 40]}


def test_create_run_without_a_ready_version_of_the_stored_routing(api, app):
    wo_no = new_work_order(api, qty=2)
    _engineer_routing(api, "RT-P1001-DRAFT", "P-1001", compile_it=False)
    # the stored routing can only lack a READY version if it was changed behind the service's back
    with app.app_context():
        from app.models import Routing
        draft = db.session.execute(select(Routing.id).filter_by(code="RT-P1001-DRAFT")).scalar_one()
    set_rows(app, WorkOrder, WorkOrder.wo_no == wo_no, routing_id=draft)
    refused(app, lambda: create_run(api, wo_no, 1), 400, "ROUTE_NOT_READY")


def test_the_quantity_rule_counts_neither_cancelled_nor_rework_runs_and_adds_scrapped_units(api, app):
    wo_no = new_work_order(api, qty=3)
    first = ok_data(create_run(api, wo_no, 2))["runNo"]
    error = refused(app, lambda: create_run(api, wo_no, 2), 400, "QUANTITY_EXCEEDS_WORK_ORDER")
    assert error["details"]["alreadyPlanned"] == 2 and error["details"]["available"] == 1
    # cancelled runs free their quantity
    ok_data(run_action(api, first, "cancel", reason="wrong shift"))
    second = ok_data(create_run(api, wo_no, 3))["runNo"]
    assert second == f"{wo_no}-R02"
    refused(app, lambda: create_run(api, wo_no, 1), 400, "QUANTITY_EXCEEDS_WORK_ORDER")
    # a scrapped unit may be replaced by one more planned unit
    ok_data(api("planner").post(f"/api/v1/runs/{second}/units", json={"quantity": 2}))
    set_rows(app, Unit, Unit.sn == f"{second}-0001", status="SCRAPPED")
    error = refused(app, lambda: create_run(api, wo_no, 2), 400, "QUANTITY_EXCEEDS_WORK_ORDER")
    assert error["details"] == {"plannedQty": 3, "alreadyPlanned": 3, "scrapped": 1, "available": 1}
    third = ok_data(create_run(api, wo_no, 1))["runNo"]
    # a rework run (MRB) is not counted in the work-order quantity
    with app.app_context():
        parent = db.session.execute(select(Run).filter_by(run_no=second)).scalar_one()
        db.session.add(Run(run_no=f"{second}-RW1", work_order_id=parent.work_order_id, line_id=parent.line_id,
                           route_version_id=parent.route_version_id, plan_qty=2, status="PREP",
                           parent_run_id=parent.id, rework_type="FULL_PREP", authorization_type="NORMAL"))
        db.session.commit()
    set_rows(app, Unit, Unit.sn == f"{second}-0002", status="SCRAPPED")
    assert ok_data(create_run(api, wo_no, 1))["runNo"] == f"{wo_no}-R04"
    assert third == f"{wo_no}-R03"


# ---------------------------------------------------------------------------------------------
# §3 Units
# ---------------------------------------------------------------------------------------------

def units(api, run_no, **body):
    return api("planner").post(f"/api/v1/runs/{run_no}/units", json=body)


def test_generate_units(api, app):
    run_no = prep_run(api, qty=6)
    created = units(api, run_no, quantity=2)
    assert created.status_code == 201
    assert created.get_json()["data"] == [{"sn": f"{run_no}-0001", "status": "QUEUED", "currentStepNo": 10},
                                          {"sn": f"{run_no}-0002", "status": "QUEUED", "currentStepNo": 10}]
    assert [u["sn"] for u in ok_data(units(api, run_no, quantity=1, snPrefix="PCBA-"))] == ["PCBA-0003"]
    assert [u["sn"] for u in ok_data(units(api, run_no, sns=["EXT-1", "EXT-2"]))] == ["EXT-1", "EXT-2"]
    listed = ok_data(api("manager").get(f"/api/v1/runs/{run_no}/units"))
    assert [(u["sn"], u["status"], u["currentStepNo"]) for u in listed] == [
        (sn, "QUEUED", 10) for sn in (f"{run_no}-0001", f"{run_no}-0002", "PCBA-0003", "EXT-1", "EXT-2")]
    with app.app_context():
        run_id = db.session.execute(select(Run.id).filter_by(run_no=run_no)).scalar_one()
        wo_id = db.session.execute(select(Run.work_order_id).filter_by(run_no=run_no)).scalar_one()
        assert count(Unit, Unit.run_id == run_id, Unit.work_order_id == wo_id, Unit.rework_count == 0) == 5
        assert count(AuditEvent, AuditEvent.action == "RUN_UNITS_GENERATE", AuditEvent.entity_key == run_no) == 3
    # existing + new ≤ plan_qty
    error = refused(app, lambda: units(api, run_no, quantity=2), 400, "QUANTITY_EXCEEDS_PLAN")
    assert error["details"] == {"planQty": 6, "existing": 5, "requested": 2}
    refused(app, lambda: units(api, run_no, sns=["EXT-3", "EXT-4"]), 400, "QUANTITY_EXCEEDS_PLAN")
    # SNs are unique (also across runs)
    error = refused(app, lambda: units(api, run_no, sns=["EXT-1"]), 409, "UNIT_SN_DUPLICATE")
    assert error["details"] == {"sns": ["EXT-1"]}
    other = prep_run(api, product="P-2001", qty=2)
    refused(app, lambda: units(api, other, sns=["X-9", f"{run_no}-0002"]), 409, "UNIT_SN_DUPLICATE")
    # the body names either a quantity or SNs, and no SN twice
    refused(app, lambda: units(api, run_no, quantity=1, sns=["EXT-5"]), 422, "VALIDATION_ERROR")
    refused(app, lambda: units(api, run_no), 422, "VALIDATION_ERROR")
    refused(app, lambda: units(api, run_no, sns=["EXT-5", "EXT-5"]), 422, "VALIDATION_ERROR")
    refused(app, lambda: units(api, run_no, quantity=0), 422, "VALIDATION_ERROR")
    refused(app, lambda: units(api, "NOPE-R01", quantity=1), 404, "RUN_NOT_FOUND")
    # a DIP run's units start at its own first step
    assert ok_data(units(api, other, quantity=1))[0]["currentStepNo"] == 10


def test_units_only_while_prep_or_authorized(api, app):
    run_no = authorized_run(api, product="P-2001", qty=3, units=1)
    # AUTHORIZED: allowed (numbered after the run's 2 units: -0001 and the FAI trial board)
    assert ok_data(units(api, run_no, quantity=1))[0]["sn"] == f"{run_no}-0003"
    pass_step(api, run_no, f"{run_no}-0001", 10, product="P-2001")
    assert run_row(app, run_no).status == "IN_PROGRESS"
    error = refused(app, lambda: units(api, run_no, quantity=1), 400, "INVALID_RUN_STATUS")
    assert error["details"] == {"status": "IN_PROGRESS"}
    cancelled = prep_run(api, product="P-2001", qty=1)
    ok_data(run_action(api, cancelled, "cancel", reason="test"))
    refused(app, lambda: units(api, cancelled, quantity=1), 400, "INVALID_RUN_STATUS")


# ---------------------------------------------------------------------------------------------
# §3 Authorize and revoke
# ---------------------------------------------------------------------------------------------

def test_authorize_and_again_is_a_no_op(api, app):
    run_no = authorized_run(api)  # the shared helper passes the gates and authorizes as the planner
    shown = ok_data(api("planner").get(f"/api/v1/runs/{run_no}"))
    assert (shown["status"], shown["authorizedBy"], shown["nextAction"]["action"]) == ("AUTHORIZED", "planner", "BUILD")
    # from PREP (after a revoke) through the endpoint
    ok_data(run_action(api, run_no, "revoke", reason="stencil swap"))
    data = ok_data(run_action(api, run_no, "authorize"))
    assert data["status"] == "AUTHORIZED" and data["authorizedBy"] == "planner" and data["authorizedAt"]
    with app.app_context():
        before = business_state()
    again = ok_data(run_action(api, run_no, "authorize"))
    assert again["status"] == "AUTHORIZED" and again["authorizedAt"] == data["authorizedAt"]
    with app.app_context():
        assert business_state() == before
    assert audit_actions(app, run_no).count("RUN_AUTHORIZE") == 2


def test_authorize_refused_by_the_readiness_gate_keeps_the_check(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)  # the reels are not loaded
    error = refused(app, lambda: run_action(api, run_no, "authorize"), 400, "READINESS_CHECK_FAILED",
                    ignore=("checks", "audit_ok"))
    assert [(i["itemType"], i["failCode"]) for i in error["details"]["items"]] == [("LOADING", "SLOT_TABLE_NOT_LOADED")]
    # the FORMAL check is an observation: it was stored although the authorization was refused
    check = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))
    assert check["status"] == "FAILED" and check["id"] == error["details"]["checkId"]
    assert run_row(app, run_no).status == "PREP"
    assert audit_actions(app, run_no) == ["RUN_CREATE", "READINESS_PRECHECK", "READINESS_FORMAL"]
    # the unchanged check is reused, not repeated
    with app.app_context():
        checks = count(ReadinessCheck)
    refused(app, lambda: run_action(api, run_no, "authorize"), 400, "READINESS_CHECK_FAILED")
    with app.app_context():
        assert count(ReadinessCheck) == checks


def test_authorize_runs_a_new_check_when_the_consumables_went_stale(api, app):
    run_no = ready_run(api)
    formal = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "FORMAL"}))
    assert formal["status"] == "PASSED"
    now = datetime.now(timezone.utc)
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": "T-STALE-STN", "eventTime": (now + timedelta(seconds=1)).isoformat(), "stencilId": "STN-1001-A",
        "status": "NOT_READY"}))
    ok_data(api("integration").post("/api/v1/integration/solder-paste-status", json={
        "eventId": "T-STALE-SP", "eventTime": (now + timedelta(seconds=1)).isoformat(), "lotNo": "SP-LOT-0001",
        "status": "COMPLIANT", "expiresAt": (now - timedelta(minutes=5)).isoformat()}))
    error = refused(app, lambda: run_action(api, run_no, "authorize"), 400, "READINESS_CHECK_FAILED",
                    ignore=("checks", "audit_ok"))
    assert error["details"]["checkId"] != formal["id"]
    assert sorted((i["itemType"], i["failCode"]) for i in error["details"]["items"]) == [
        ("SOLDER_PASTE", "SOLDER_PASTE_EXPIRED"), ("STENCIL", "STENCIL_NOT_READY")]
    assert run_row(app, run_no).status == "PREP"


def test_authorize_refusals_by_status(api, app):
    refused(app, lambda: run_action(api, "NOPE-R01", "authorize"), 404, "RUN_NOT_FOUND")
    run_no = authorized_run(api, product="P-2001", qty=2, units=1)
    pass_step(api, run_no, f"{run_no}-0001", 10, product="P-2001")
    error = refused(app, lambda: run_action(api, run_no, "authorize"), 400, "RUN_NOT_READY")
    assert error["details"] == {"status": "IN_PROGRESS"}
    cancelled = prep_run(api, product="P-2001", qty=1)
    ok_data(run_action(api, cancelled, "cancel", reason="test"))
    refused(app, lambda: run_action(api, cancelled, "authorize"), 400, "RUN_NOT_READY")


def test_revoke(api, app):
    run_no = authorized_run(api, product="P-2001", qty=2)
    refused(app, lambda: run_action(api, run_no, "revoke"), 400, "REASON_REQUIRED")
    refused(app, lambda: api("planner").post(f"/api/v1/runs/{run_no}/revoke"), 400, "REASON_REQUIRED")  # no body
    refused(app, lambda: run_action(api, run_no, "revoke", reason="   "), 400, "REASON_REQUIRED")
    data = ok_data(run_action(api, run_no, "revoke", reason="wrong stencil on the line"))
    assert (data["status"], data["authorizedBy"], data["authorizedAt"]) == ("PREP", None, None)
    with app.app_context():
        event = db.session.execute(select(AuditEvent).filter_by(action="RUN_REVOKE", entity_key=run_no,
                                                                status="SUCCESS")).scalar_one()
        assert event.reason == "wrong stencil on the line" and event.diff["after"] == {"status": "PREP"}
    error = refused(app, lambda: run_action(api, run_no, "revoke", reason="again"), 400, "INVALID_RUN_STATUS")
    assert error["details"] == {"status": "PREP"}
    ok_data(run_action(api, run_no, "authorize"))
    ok_data(units(api, run_no, quantity=1))
    pass_step(api, run_no, f"{run_no}-0001", 10, product="P-2001")
    refused(app, lambda: run_action(api, run_no, "revoke", reason="too late"), 400, "RUN_ALREADY_STARTED")
    refused(app, lambda: run_action(api, "NOPE-R01", "revoke", reason="x"), 404, "RUN_NOT_FOUND")


# ---------------------------------------------------------------------------------------------
# §3 Cancel
# ---------------------------------------------------------------------------------------------

def test_cancel_a_prep_run_deletes_its_units(api, app):
    run_no = prep_run(api, product="P-2001", qty=3)
    ok_data(units(api, run_no, quantity=3))
    refused(app, lambda: run_action(api, run_no, "cancel"), 400, "REASON_REQUIRED")
    data = ok_data(run_action(api, run_no, "cancel", reason="order split"))
    assert data["status"] == "CANCELLED" and data["endedAt"] and data["unitCounts"] == {}
    with app.app_context():
        assert count(Unit) == 0
        event = db.session.execute(select(AuditEvent).filter_by(action="RUN_CANCEL", entity_key=run_no,
                                                                status="SUCCESS")).scalar_one()
        assert event.reason == "order split" and event.payload == {"unitsDeleted": 3}
    # the work order stays in progress; the quantity and the SNs are free again
    wo_no = run_no.rsplit("-R", 1)[0]
    assert wo_row(app, wo_no).status == "IN_PROGRESS"
    again = ok_data(create_run(api, wo_no, 3, line=DIP_LINE))["runNo"]
    assert [u["sn"] for u in ok_data(units(api, again, sns=[f"{run_no}-0001"]))] == [f"{run_no}-0001"]
    refused(app, lambda: run_action(api, run_no, "cancel", reason="again"), 400, "RUN_NOT_CANCELLABLE")
    refused(app, lambda: run_action(api, "NOPE-R01", "cancel", reason="x"), 404, "RUN_NOT_FOUND")


def test_only_prep_runs_without_tracks_can_be_cancelled(api, app):
    run_no = authorized_run(api, product="P-2001", qty=2, units=1)
    error = refused(app, lambda: run_action(api, run_no, "cancel", reason="x"), 400, "RUN_NOT_CANCELLABLE")
    assert error["details"] == {"status": "AUTHORIZED"}
    # a PREP run that already has tracks (its FAI trial) cannot be cancelled either
    ok_data(run_action(api, run_no, "revoke", reason="back to PREP"))
    error = refused(app, lambda: run_action(api, run_no, "cancel", reason="x"), 400, "RUN_NOT_CANCELLABLE")
    assert "has tracks" in error["message"] and error["details"] == {"status": "PREP"}
    ok_data(run_action(api, run_no, "authorize"))
    pass_step(api, run_no, f"{run_no}-0001", 10, product="P-2001")
    refused(app, lambda: run_action(api, run_no, "cancel", reason="x"), 400, "RUN_NOT_CANCELLABLE")


# ---------------------------------------------------------------------------------------------
# §3 Closeout and automatic closeout
# ---------------------------------------------------------------------------------------------

def _authorized_run_without_units(api):
    """An AUTHORIZED run without any unit. A run of a demo route always has its FAI trial board, so
    this one follows a DIP routing without an FAI step (no FAI, no trial board)."""
    assert api("engineer").post("/api/v1/routings", json={
        "code": "RT-P2001-NOFAI", "name": "Insertion only", "productCode": "P-2001", "processType": "DIP",
        "steps": [{"stepNo": 10, "operationCode": "DIP_INSERT", "stationGroupCode": "DIP-A-INS",
                   "stationType": "MANUAL"}]}).status_code == 201
    ok_data(api("engineer").post("/api/v1/routings/RT-P2001-NOFAI/compile"))
    ok_data(receive(api, woNo="WO-NOFAI", productCode="P-2001", plannedQty=1, routingCode="RT-P2001-NOFAI"))
    ok_data(release(api, "WO-NOFAI", line=DIP_LINE))
    run_no = ok_data(create_run(api, "WO-NOFAI", 1, line=DIP_LINE))["runNo"]
    assert ok_data(run_action(api, run_no, "authorize"))["unitCounts"] == {}
    return run_no


def test_close_refusals(api, app):
    refused(app, lambda: run_action(api, "NOPE-R01", "close"), 404, "RUN_NOT_FOUND")
    run_no = authorized_run(api, product="P-2001", qty=2, units=2)
    ok_data(run_action(api, run_no, "revoke", reason="back to PREP"))
    error = refused(app, lambda: run_action(api, run_no, "close"), 400, "RUN_NOT_CLOSABLE")
    assert error["details"] == {"status": "PREP"}
    ok_data(run_action(api, run_no, "authorize"))
    refused(app, lambda: run_action(api, run_no, "close"), 400, "RUN_NOT_CLOSABLE")  # units still to build
    build_unit(api, run_no, f"{run_no}-0001", product="P-2001", until=20)
    error = refused(app, lambda: run_action(api, run_no, "close"), 400, "RUN_UNITS_NOT_TERMINAL")
    assert error["details"] == {"counts": {"QUEUED": 3}}  # -0001 at 30, -0002 at 10, the FAI trial board at 20
    # an authorized run without any unit cannot be closed; an IN_PROGRESS one without units has none
    empty = _authorized_run_without_units(api)
    refused(app, lambda: run_action(api, empty, "close"), 400, "RUN_NOT_CLOSABLE")
    set_rows(app, Run, Run.run_no == empty, status="IN_PROGRESS")
    refused(app, lambda: run_action(api, empty, "close"), 400, "RUN_HAS_NO_UNITS")


def test_a_short_run_is_closed_by_hand_and_closing_again_is_a_no_op(api, app):
    run_no = authorized_run(api, product="P-2001", qty=3, units=1)  # plans 4 with the FAI trial board
    build_unit(api, run_no, f"{run_no}-0001", product="P-2001")
    finish_trial_board(api, run_no, product="P-2001")  # the DIP trial board waited at step 20
    assert run_row(app, run_no).status == "IN_PROGRESS"  # 2 of 4 units: no automatic closeout
    data = ok_data(run_action(api, run_no, "close"))
    assert data["status"] == "COMPLETED" and data["endedAt"] and data["unitCounts"] == {"DONE": 2}
    assert audit_actions(app, run_no)[-2:] == ["RUN_CLOSE", "RUN_COMPLETE"]
    with app.app_context():
        before = business_state()
    assert ok_data(run_action(api, run_no, "close"))["status"] == "COMPLETED"
    with app.app_context():
        assert business_state() == before


def test_an_authorized_run_whose_units_all_finished_in_the_trial_closes(api, app):
    # an SMT run of one board: its only unit is the FAI trial board, DONE in the trial (the FAI step,
    # AOI, is the last step); trial tracks do not start the run, so it is still AUTHORIZED
    run_no = authorized_run(api, qty=0)
    shown = ok_data(api("planner").get(f"/api/v1/runs/{run_no}"))
    assert (shown["status"], shown["planQty"], shown["startedAt"], shown["unitCounts"]) == (
        "AUTHORIZED", 1, None, {"DONE": 1})
    with app.app_context():
        assert {m for (m,) in db.session.execute(select(Track.mode).join(Run, Run.id == Track.run_id)
                                                  .where(Run.run_no == run_no)).all()} == {"FAI_TRIAL"}
    data = ok_data(run_action(api, run_no, "close"))
    assert data["status"] == "COMPLETED" and data["startedAt"] and data["endedAt"]
    assert data["unitCounts"] == {"DONE": 1}
    # the close moved the run AUTHORIZED → IN_PROGRESS → COMPLETED (its own event first, then these)
    assert audit_actions(app, run_no)[-3:] == ["RUN_CLOSE", "RUN_START", "RUN_COMPLETE"]


def test_automatic_closeout_only_when_the_last_of_plan_qty_units_is_terminal(api, app):
    run_no = authorized_run(api, product="P-2001", qty=3, units=2)  # plans 4: 3 + the FAI trial board
    def sn(i):
        return f"{run_no}-{i:04d}"
    # a failed unit is not terminal
    pass_step(api, run_no, sn(1), 10, product="P-2001")
    ok_data(api("operator").post("/api/v1/stations/ST-DIP-WAVE-01/track-in", json={"sn": sn(1), "runNo": run_no}))
    ok_data(api("operator").post("/api/v1/stations/ST-DIP-WAVE-01/track-out", json={
        "sn": sn(1), "runNo": run_no, "result": "FAIL", "defect": {"code": "WS_BRIDGE"}}))
    last = build_unit(api, run_no, sn(2), product="P-2001")
    assert "runCloseout" not in last and run_row(app, run_no).status == "IN_PROGRESS"
    set_rows(app, Unit, Unit.sn == sn(1), status="SCRAPPED")  # disposition SCRAP
    # the DIP trial board (at step 20 since the FAI) is finished: every unit is terminal, but only
    # 3 of 4 planned units exist: no automatic closeout
    last = finish_trial_board(api, run_no, product="P-2001")
    assert last["unit"]["status"] == "DONE" and "runCloseout" not in last
    assert run_row(app, run_no).status == "IN_PROGRESS"
    # a fourth unit, registered at its first TrackIn, is built: its last TrackOut closes the run
    build = build_unit(api, run_no, "SCAN-3", product="P-2001", until=30)
    assert run_row(app, run_no).status == "IN_PROGRESS" and "runCloseout" not in build
    last = pass_step(api, run_no, "SCAN-3", 40, product="P-2001")
    assert last["unit"]["status"] == "DONE" and last["runCloseout"] == {"completed": True, "code": None}
    run = run_row(app, run_no)
    assert run.status == "COMPLETED" and run.ended_at is not None
    assert audit_actions(app, run_no).count("RUN_COMPLETE") == 1
    assert wo_row(app, run_no.rsplit("-R", 1)[0]).status == "IN_PROGRESS"


def test_a_unit_registered_by_track_in_counts_towards_plan_qty(api, app):
    run_no = authorized_run(api, product="P-2001", qty=2)  # plans 3: the FAI trial board is the first unit
    finish_trial_board(api, run_no, product="P-2001")
    build_unit(api, run_no, "SCAN-1", product="P-2001")
    assert run_row(app, run_no).status == "IN_PROGRESS"
    last = build_unit(api, run_no, "SCAN-2", product="P-2001")
    assert last["runCloseout"] == {"completed": True, "code": None}
    assert run_row(app, run_no).status == "COMPLETED"


# ---------------------------------------------------------------------------------------------
# State machines: no illegal transition is possible through the API
# ---------------------------------------------------------------------------------------------

def test_work_order_state_machine(api, app):
    ok_data(receive(api, woNo="WO-SM", plannedQty=1))
    refused(app, lambda: create_run(api, "WO-SM", 1), 400, "WORK_ORDER_NOT_RELEASED")       # RECEIVED ↛ IN_PROGRESS
    refused(app, lambda: api("planner").post("/api/v1/work-orders/WO-SM/close"), 400, "WORK_ORDER_HAS_NO_RUNS")
    ok_data(release(api, "WO-SM"))
    refused(app, lambda: release(api, "WO-SM"), 400, "WORK_ORDER_NOT_RECEIVED")              # RELEASED ↛ RELEASED
    fresh_consumable_statuses(api)
    run_no = ok_data(create_run(api, "WO-SM", 1))["runNo"]
    assert wo_row(app, "WO-SM").status == "IN_PROGRESS"
    refused(app, lambda: release(api, "WO-SM"), 400, "WORK_ORDER_NOT_RECEIVED")              # IN_PROGRESS ↛ RELEASED
    ok_data(run_action(api, run_no, "cancel", reason="replanned"))
    refused(app, lambda: api("planner").post("/api/v1/work-orders/WO-SM/close"), 409, "WORK_ORDER_SHORT")  # 0 of 1
    ok_data(api("planner").post("/api/v1/work-orders/WO-SM/close",                         # every run terminal
                                json={"confirmShort": True, "reason": "replanned"}))
    assert wo_row(app, "WO-SM").status == "COMPLETED"
    refused(app, lambda: release(api, "WO-SM"), 400, "WORK_ORDER_NOT_RECEIVED")              # COMPLETED is final
    error = refused(app, lambda: create_run(api, "WO-SM", 1), 400, "WORK_ORDER_NOT_RELEASED")
    assert error["details"] == {"status": "COMPLETED"}
    refused(app, lambda: receive(api, woNo="WO-SM", plannedQty=2), 400, "WORK_ORDER_COMPLETED", ignore=("messages",))


RUN_ACTIONS = {  # action -> (path, body)
    "authorize": ("authorize", {}), "revoke": ("revoke", {"reason": "r"}), "cancel": ("cancel", {"reason": "r"}),
    "close": ("close", {}), "units": ("units", {"quantity": 1}),
}
# status -> {action: expected error code}; a missing action is allowed from that status
REFUSED_FROM = {
    "PREP": {"revoke": "INVALID_RUN_STATUS", "close": "RUN_NOT_CLOSABLE"},
    "AUTHORIZED": {"cancel": "RUN_NOT_CANCELLABLE", "close": "RUN_NOT_CLOSABLE"},
    "IN_PROGRESS": {"authorize": "RUN_NOT_READY", "revoke": "RUN_ALREADY_STARTED", "cancel": "RUN_NOT_CANCELLABLE",
                    "units": "INVALID_RUN_STATUS"},
    "ON_HOLD": {"authorize": "RUN_NOT_READY", "revoke": "INVALID_RUN_STATUS", "cancel": "RUN_NOT_CANCELLABLE",
                "close": "RUN_NOT_CLOSABLE", "units": "INVALID_RUN_STATUS"},
    "COMPLETED": {"authorize": "RUN_NOT_READY", "revoke": "INVALID_RUN_STATUS", "cancel": "RUN_NOT_CANCELLABLE",
                  "units": "INVALID_RUN_STATUS"},
    "CANCELLED": {"authorize": "RUN_NOT_READY", "revoke": "INVALID_RUN_STATUS", "cancel": "RUN_NOT_CANCELLABLE",
                  "units": "INVALID_RUN_STATUS"},
}


def _run_in(api, app, status):
    if status == "CANCELLED":  # only a PREP run without tracks is cancelled: no FAI trial, so never authorized
        run_no = ready_run(api, product="P-2001", qty=4, units=1)
        ok_data(run_action(api, run_no, "cancel", reason="not needed"))
        assert run_row(app, run_no).status == status
        return run_no
    run_no = authorized_run(api, product="P-2001", qty=3, units=1)
    if status == "PREP":
        ok_data(run_action(api, run_no, "revoke", reason="back to prep"))
    elif status in ("IN_PROGRESS", "ON_HOLD", "COMPLETED"):
        pass_step(api, run_no, f"{run_no}-0001", 10, product="P-2001")
        if status == "ON_HOLD":
            set_rows(app, Run, Run.run_no == run_no, status="ON_HOLD")  # an OQC FAIL
        if status == "COMPLETED":
            for step in (20, 30, 40):
                pass_step(api, run_no, f"{run_no}-0001", step, product="P-2001")
            finish_trial_board(api, run_no, product="P-2001")
            ok_data(run_action(api, run_no, "close"))  # a short run: 2 of 4
    assert run_row(app, run_no).status == status
    return run_no


@pytest.mark.parametrize("status", list(REFUSED_FROM))
def test_run_state_machine_refuses_every_illegal_move(api, app, status):
    run_no = _run_in(api, app, status)
    for action, code in REFUSED_FROM[status].items():
        path, body = RUN_ACTIONS[action]
        refused(app, lambda path=path, body=body: run_action(api, run_no, path, **body), 400, code)
    if status in ("COMPLETED", "CANCELLED"):  # terminal: closing again is an idempotent success
        with app.app_context():
            before = business_state()
        assert ok_data(run_action(api, run_no, "close"))["status"] == status
        with app.app_context():
            assert business_state() == before


# ---------------------------------------------------------------------------------------------
# Permission matrix and data scope
# ---------------------------------------------------------------------------------------------

ALLOWED = {  # endpoint -> roles that hold its permission (00_overview; Admin has everything)
    "receive": {"admin", "planner", "integration"},
    "release": {"admin", "planner"}, "create_run": {"admin", "planner"}, "close_wo": {"admin", "planner"},
    "units": {"admin", "planner"}, "cancel": {"admin", "planner"}, "close_run": {"admin", "planner"},
    "authorize": {"admin", "planner", "leader"}, "revoke": {"admin", "planner", "leader"},
    "read": {"admin", "planner", "engineer", "quality", "leader", "material", "operator", "operator2", "manager"},
}
USERS = ["admin", "planner", "engineer", "quality", "leader", "material", "operator", "operator2", "manager",
         "integration"]


def _calls(api, user, wo_received, wo_released, run_prep, run_authorized, run_closable):
    caller = api(user)
    return {
        "receive": lambda: caller.post(RECEIVE, json={"woNo": wo_received, "productCode": "P-1001", "plannedQty": 9}),
        "release": lambda: caller.post(f"/api/v1/work-orders/{wo_received}/release", json={"lineCode": SMT_LINE}),
        "create_run": lambda: caller.post(f"/api/v1/work-orders/{wo_released}/runs",
                                          json={"lineCode": DIP_LINE, "planQty": 1}),
        "close_wo": lambda: caller.post(f"/api/v1/work-orders/{run_closable.rsplit('-R', 1)[0]}/close"),
        "units": lambda: caller.post(f"/api/v1/runs/{run_prep}/units", json={"quantity": 1}),
        "cancel": lambda: caller.post(f"/api/v1/runs/{run_prep}/cancel", json={"reason": "x"}),
        "close_run": lambda: caller.post(f"/api/v1/runs/{run_closable}/close"),
        "authorize": lambda: caller.post(f"/api/v1/runs/{run_prep}/authorize"),
        "revoke": lambda: caller.post(f"/api/v1/runs/{run_authorized}/revoke", json={"reason": "x"}),
    }


@pytest.mark.parametrize("user", USERS)
def test_permission_matrix(api, app, user):
    ok_data(receive(api, woNo="WO-PM-R"))
    wo_released = new_work_order(api, product="P-2001", qty=1)
    run_prep = prep_run(api, product="P-2001", qty=1)
    run_authorized = authorized_run(api, product="P-2001", qty=1)
    run_closable = authorized_run(api, product="P-2001", qty=2, units=1)
    build_unit(api, run_closable, f"{run_closable}-0001", product="P-2001")
    calls = _calls(api, user, "WO-PM-R", wo_released, run_prep, run_authorized, run_closable)
    for endpoint, call in calls.items():
        if user in ALLOWED[endpoint]:
            continue
        error = refused(app, call, 403, "FORBIDDEN")
        assert "permission" in error["message"], (user, endpoint)
    # reading: every person (within their lines: all these are on the DIP line); not the machine account
    for path in ("/api/v1/work-orders", f"/api/v1/work-orders/{wo_released}", "/api/v1/runs", f"/api/v1/runs/{run_prep}",
                 f"/api/v1/runs/{run_prep}/units"):
        response = api(user).get(path)
        expected = 200 if user in ALLOWED["read"] else 403
        assert response.status_code == expected, (user, path, response.get_json())


@pytest.mark.parametrize("user", ["admin", "planner", "leader", "integration"])
def test_permitted_roles_get_past_the_permission_check(api, app, user):
    """Allowed callers reach the service: an unknown work order or run answers 404, not 403."""
    caller = api(user)
    calls = {
        "receive": lambda: caller.post(RECEIVE, json={"woNo": "WO-PM-NEW", "productCode": "P-NOPE", "plannedQty": 1}),
        "release": lambda: caller.post("/api/v1/work-orders/WO-NOPE/release", json={"lineCode": SMT_LINE}),
        "create_run": lambda: caller.post("/api/v1/work-orders/WO-NOPE/runs", json={"lineCode": SMT_LINE, "planQty": 1}),
        "close_wo": lambda: caller.post("/api/v1/work-orders/WO-NOPE/close"),
        "units": lambda: caller.post("/api/v1/runs/NOPE-R01/units", json={"quantity": 1}),
        "cancel": lambda: caller.post("/api/v1/runs/NOPE-R01/cancel", json={"reason": "x"}),
        "close_run": lambda: caller.post("/api/v1/runs/NOPE-R01/close"),
        "authorize": lambda: caller.post("/api/v1/runs/NOPE-R01/authorize"),
        "revoke": lambda: caller.post("/api/v1/runs/NOPE-R01/revoke", json={"reason": "x"}),
    }
    for endpoint, call in calls.items():
        response = call()
        code = response.get_json()["error"]["code"]
        if user in ALLOWED[endpoint]:
            assert code != "FORBIDDEN" and response.status_code in (400, 404), (user, endpoint, response.get_json())
        else:
            assert response.status_code == 403, (user, endpoint)


def test_a_leader_authorizes_and_revokes_on_own_lines_only(api, app):
    smt = authorized_run(api)
    dip = authorized_run(api, product="P-2001", qty=1)
    assert ok_data(run_action(api, smt, "revoke", user="leader", reason="stencil swap"))["status"] == "PREP"
    data = ok_data(run_action(api, smt, "authorize", user="leader"))
    assert data["status"] == "AUTHORIZED" and data["authorizedBy"] == "leader"
    assert ok_data(run_action(api, smt, "revoke", user="leader", reason="again"))["status"] == "PREP"
    # the leader is moved off the SMT line
    with app.app_context():
        leader = db.session.execute(select(MesUser).filter_by(username="leader")).scalar_one()
        leader.lines = [db.session.execute(select(Line).filter_by(code=DIP_LINE)).scalar_one()]
        db.session.commit()
    error = refused(app, lambda: run_action(api, smt, "authorize", user="leader"), 403, "FORBIDDEN")
    assert SMT_LINE in error["message"] or "outside" in error["message"]
    ok_data(run_action(api, smt, "authorize"))
    refused(app, lambda: run_action(api, smt, "revoke", user="leader", reason="x"), 403, "FORBIDDEN")
    assert api("leader").get(f"/api/v1/runs/{smt}").status_code == 404  # reads: as if unknown
    assert [r["runNo"] for r in ok_data(api("leader").get("/api/v1/runs"))] == [dip]
    listed = [w["woNo"] for w in ok_data(api("leader").get("/api/v1/work-orders"))]
    assert dip.rsplit("-R", 1)[0] in listed and smt.rsplit("-R", 1)[0] not in listed
    assert ok_data(run_action(api, dip, "revoke", user="leader", reason="own line"))["status"] == "PREP"
    assert ok_data(run_action(api, dip, "authorize", user="leader"))["status"] == "AUTHORIZED"


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def test_work_order_and_run_lists_filter_and_page(api, app):
    smt = prep_run(api, qty=2)
    dip = prep_run(api, product="P-2001", qty=1)
    body = api("manager").get(f"/api/v1/runs?lineCode={DIP_LINE}").get_json()
    assert [r["runNo"] for r in body["data"]] == [dip] and body["meta"]["total"] == 1
    assert [r["runNo"] for r in ok_data(api("manager").get(f"/api/v1/runs?woNo={smt.rsplit('-R', 1)[0]}"))] == [smt]
    assert ok_data(api("manager").get("/api/v1/runs?status=AUTHORIZED")) == []
    body = api("manager").get("/api/v1/work-orders?status=IN_PROGRESS&pageSize=1").get_json()
    assert body["meta"] == {"page": 1, "pageSize": 1, "total": 2} and len(body["data"]) == 1
    assert [w["woNo"] for w in ok_data(api("manager").get("/api/v1/work-orders?productCode=P-2001&status=RELEASED"))] == [
        "WO-DEMO-2001"]
    shown = ok_data(api("operator").get(f"/api/v1/work-orders/{smt.rsplit('-R', 1)[0]}"))
    assert shown["runs"] == [{"runNo": smt, "status": "PREP", "planQty": 2, "line": SMT_LINE, "parentRunNo": None,
                              "good": 0, "scrap": 0, "inWork": 0, "units": 0}]
    refused(app, lambda: api("manager").get("/api/v1/runs/NOPE-R01"), 404, "RUN_NOT_FOUND", audited=False)
