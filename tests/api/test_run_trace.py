"""Run trace `GET /api/v1/trace/runs/{runNo}` and the trace exports (`format=csv|xlsx`, `trace:export`):
every figure compared with plain SQL on a run with passes, a FAIL, a rework and a scrap."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import text

from app.extensions import db
from support import SMT_DATA, SMT_STATIONS, authorized_run, build_unit, ok_data, pass_step


def played_run(api) -> tuple[str, list[str]]:
    """An SMT run: board 1 DONE, board 2 FAIL at AOI → REWORK → DONE, board 3 FAIL → SCRAP, board 4 at step 30."""
    run_no = authorized_run(api, qty=4, units=4)
    sns = [f"{run_no}-000{i}" for i in range(1, 5)]
    build_unit(api, run_no, sns[0])
    for sn, decision in ((sns[1], "REWORK"), (sns[2], "SCRAP")):
        build_unit(api, run_no, sn, until=40)
        ok_data(api("operator").post(f"/api/v1/stations/{SMT_STATIONS[50]}/track-in", json={"sn": sn, "runNo": run_no}))
        out = ok_data(api("operator").post(f"/api/v1/stations/{SMT_STATIONS[50]}/track-out", json={
            "sn": sn, "runNo": run_no, "result": "FAIL", "data": [], "defect": {"code": "SOLDER_BRIDGE"}}))
        body = {"type": decision, "reason": "test", **({"toStepNo": 50} if decision == "REWORK" else {})}
        ok_data(api("quality").post(f"/api/v1/defects/{out['defects'][0]['id']}/disposition", json=body))
    pass_step(api, run_no, sns[1], 50)
    build_unit(api, run_no, sns[3], until=20)
    return run_no, sns


def sql_units(app, run_no: str) -> dict[str, tuple]:
    with app.app_context():
        return _sql_units(run_no)


def _sql_units(run_no: str) -> dict[str, tuple]:
    rows = db.session.execute(text("""
        SELECT u.sn, u.status, u.current_step_no, u.rework_count,
               (SELECT count(*) FROM track t WHERE t.unit_id = u.id AND t.run_id = r.id),
               (SELECT count(*) FROM track t WHERE t.unit_id = u.id AND t.run_id = r.id AND t.result = 'FAIL')
        FROM unit u JOIN run r ON r.id = u.run_id WHERE r.run_no = :run"""), {"run": run_no}).all()
    return {sn: tuple(rest) for sn, *rest in rows}


def test_the_run_trace_matches_the_database(api, app):
    run_no, sns = played_run(api)
    trace = ok_data(api("quality").get(f"/api/v1/trace/runs/{run_no}"))
    assert (trace["run"]["runNo"], trace["run"]["status"], trace["product"]["code"]) == (run_no, "IN_PROGRESS", "P-1001")
    units = {u["sn"]: u for u in trace["units"]}
    assert {sn: (u["status"], u["currentStepNo"], u["reworkCount"], u["tracks"], u["failedTracks"])
            for sn, u in units.items()} == sql_units(app, run_no)
    assert (units[sns[0]]["status"], units[sns[1]]["status"], units[sns[2]]["status"], units[sns[3]]["status"]) == (
        "DONE", "DONE", "SCRAPPED", "QUEUED")
    assert (units[sns[1]]["lastStepNo"], units[sns[1]]["lastResult"]) == (50, "PASS")
    assert units[sns[2]]["defects"] == [{"code": "SOLDER_BRIDGE", "stepNo": 50, "status": "CLOSED", "source": "MANUAL"}]
    assert trace["unitCounts"] == {status: sum(1 for u in units.values() if u["status"] == status)
                                   for status in {u["status"] for u in units.values()}}
    with app.app_context():
        counts = db.session.execute(text("""
            SELECT (SELECT count(*) FROM readiness_check c WHERE c.run_id = r.id),
                   (SELECT count(*) FROM loading_record l WHERE l.run_id = r.id),
                   (SELECT count(*) FROM inspection i WHERE i.run_id = r.id)
            FROM run r WHERE r.run_no = :run"""), {"run": run_no}).one()
    assert (len(trace["readinessChecks"]), len(trace["loadingRecords"]), len(trace["inspections"])) == tuple(counts)
    assert [i["type"] for i in trace["inspections"]] == ["FAI"] and trace["mrbDecisions"] == []
    assert {c["kind"] for c in trace["readinessChecks"]} >= {"FORMAL"}


def test_the_run_and_unit_traces_export_as_csv_and_xlsx(api, app):
    run_no, sns = played_run(api)
    exported = api("manager").get(f"/api/v1/trace/runs/{run_no}?format=csv")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["run", "sn", "status"]
    assert {r[1]: (r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows[1:]} == sql_units(app, run_no)
    workbook = load_workbook(io.BytesIO(api("quality").get(f"/api/v1/trace/runs/{run_no}?format=xlsx").get_data()))
    assert workbook.sheetnames == ["Units", "Defects", "Inspections", "Readiness", "Loading", "MRB"]
    assert workbook["Units"].max_row == 1 + len(sns) + 1  # the FAI trial board is a board of the run too
    assert [c.value for c in workbook["Defects"][2]][:3] == [sns[1], "SOLDER_BRIDGE", 50]

    unit_csv = api("quality").get(f"/api/v1/trace/units/{sns[0]}?format=csv")
    unit_rows = list(csv.reader(io.StringIO(unit_csv.get_data(as_text=True).lstrip("\ufeff"))))
    values = sum(len(SMT_DATA[s]) or 1 for s in SMT_STATIONS)  # a row per value, or per track without one
    assert len(unit_rows) == 1 + values
    assert (unit_rows[4][9], float(unit_rows[4][10]), unit_rows[4][11]) == ("peak_temp_c", 250, "PASS")
    assert load_workbook(io.BytesIO(api("quality").get(f"/api/v1/trace/units/{sns[0]}?format=xlsx")
                                    .get_data())).sheetnames == ["Tracks", "Defects", "Materials", "Inspections"]


def test_who_may_read_and_export_a_run_trace(api, app):
    run_no, _ = played_run(api)
    assert api("operator").get(f"/api/v1/trace/runs/{run_no}").status_code == 200  # trace:read: every person
    refused = api("operator").get(f"/api/v1/trace/runs/{run_no}?format=csv")  # trace:export: Q G P
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "FORBIDDEN")
    outside = api("operator2").get(f"/api/v1/trace/runs/{run_no}")  # bound to the DIP line's stations
    assert (outside.status_code, outside.get_json()["error"]["code"]) == (404, "RUN_NOT_FOUND")  # as if unknown
    odd = api("quality").get(f"/api/v1/trace/runs/{run_no}?format=pdf")
    assert (odd.status_code, odd.get_json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    missing = api("quality").get("/api/v1/trace/runs/WO-NOPE-R01")
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "RUN_NOT_FOUND")
