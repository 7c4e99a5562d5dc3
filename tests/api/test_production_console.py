"""Production console over real HTTP forms: actions shown only when state and permission allow,
the server's refusal shown plainly, exports, trace search."""
from sqlalchemy import select

from app.extensions import db
from app.models import Run, WorkOrder
from support import authorized_run, build_unit, console_login, csrf_from, ok_data, ready_run


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
    assert "outside your scope" in page


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
    assert "No unit or run NOPE" in client.get("/trace/?q=NOPE").get_data(as_text=True)
    page = client.get(f"/trace/units/{sn}").get_data(as_text=True)
    assert page.count("<td><strong>PASS</strong></td>") == 5 and "peak_temp_c = <strong>250.0</strong>" in page
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
