"""Guidance on Run Detail and the work order (issue 17): the next action names the real blocker and
who acts; the buttons come in the order that makes sense now (Close run primary only when every
planned unit is finished); the work order shows good / scrap counts, each board once, and the exports
carry them; a short work order closes only with an explicit confirmation and a reason."""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, WorkOrder
from support import (
    SMT_STATIONS, authorized_run, build_unit, console_login, csrf_from, fresh_consumable_statuses, load_reels,
    ok_data, prep_run,
)

USERS = ("planner", "quality", "operator", "material", "leader", "integration")


def warm_tokens(api) -> None:
    """The API tokens before the console session (the login API refuses a session cookie without CSRF)."""
    for user in USERS:
        api(user)


def next_action(page: str) -> str:
    match = re.search(r'id="next-action"><strong>Next:</strong> (.*?)</div>', page, re.S)
    assert match, "no next action on the page"
    return match.group(1)


def buttons(page: str) -> list[tuple[str, str]]:
    """(id, class) of the run action buttons, in page order."""
    block = page[page.index('id="run-actions"'):page.index('<h2 id="readiness">')]
    return [(i, c) for c, i in re.findall(r'<button class="([^"]*)" type="submit" id="([^"]+)"', block)]


def fail_at(api, run_no, sn, step, code="SOLDER_BRIDGE"):
    station = SMT_STATIONS[step]
    ok_data(api("operator").post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no}))
    answer = ok_data(api("operator").post(f"/api/v1/stations/{station}/track-out", json={
        "sn": sn, "runNo": run_no, "result": "FAIL", "data": [], "defect": {"code": code, "location": "U1"}}))
    return answer["defects"][0]["id"]


def dispose(api, defect_id, kind, **extra):
    return ok_data(api("quality").post(f"/api/v1/defects/{defect_id}/disposition",
                                       json={"type": kind, "reason": "by the test", **extra}))


def test_the_planner_is_told_the_real_blocker_and_who_acts(client, api):
    warm_tokens(api)
    fresh_consumable_statuses(api)
    run_no = prep_run(api, qty=2)  # the precheck at creation fails on LOADING: no reel is loaded yet
    console_login(client, "planner")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    text = next_action(page)
    assert text.startswith("Readiness: Precheck failed: LOADING.")
    assert "material loads the slot table and scans the reels at the Loading Terminal" in text
    assert "the line leader or quality runs the FORMAL check" in text  # not the planner: no button for it
    assert 'id="formal-check-button"' not in page
    load_reels(api, run_no)
    text = next_action(client.get(f"/runs/{run_no}").get_data(as_text=True))
    assert "failed: LOADING, since cleared. Run the FORMAL check (the line leader or quality" in text
    assert "authorizing the run also runs it" in text
    client.get("/logout/")
    console_login(client, "leader")  # the leader has the button the text names
    assert 'id="formal-check-button"' in client.get(f"/runs/{run_no}").get_data(as_text=True)


def test_close_run_is_last_and_secondary_until_every_planned_unit_is_finished(client, api):
    warm_tokens(api)
    run_no = authorized_run(api, qty=2)  # plans 3; the FAI trial board is DONE, two to build
    console_login(client, "planner")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="run-status">AUTHORIZED' in page
    shown = buttons(page)
    ids = [i for i, _ in shown]
    assert "close-button" in ids and ids[0] != "close-button" and ids[-1] == "close-button"
    assert all("btn-primary" not in c for _, c in shown)  # nothing to press: the operators build
    assert "Close run short" in page and "ends the run with 1 of 3 planned unit(s)" in page
    assert next_action(page).startswith("1 of 3 planned unit(s) finished: operators build the other 2")
    assert "Closeout</strong><span>When all 3 planned unit(s) are DONE or SCRAPPED." in page

    only_trial = authorized_run(api, qty=0)  # plans 1: the FAI trial board, DONE already
    page = client.get(f"/runs/{only_trial}").get_data(as_text=True)
    shown = buttons(page)
    assert shown[0][0] == "close-button" and "btn-primary" in shown[0][1]
    assert "Close run short" not in page
    assert next_action(page) == "Every unit is finished: close the run."


def test_work_order_counts_each_board_once_and_exports_good_and_scrap(client, api, app):
    warm_tokens(api)
    run_no = authorized_run(api, qty=2, units=2)  # plans 3: the trial board (DONE) and two boards
    wo_no = run_no.rsplit("-R", 1)[0]
    good, bad = f"{run_no}-0001", f"{run_no}-0002"
    build_unit(api, run_no, good)
    build_unit(api, run_no, bad, until=40)
    dispose(api, fail_at(api, run_no, bad, 50), "REWORK", toStepNo=50)  # through step 50 again …
    dispose(api, fail_at(api, run_no, bad, 50, code="TOMBSTONE"), "SCRAP")  # … and scrapped at last
    data = ok_data(api("planner").get(f"/api/v1/work-orders/{wo_no}"))
    assert data["counts"] == {"good": 2, "scrap": 1, "inWork": 0, "units": 3}
    assert [(r["runNo"], r["good"], r["scrap"]) for r in data["runs"]] == [(run_no, 2, 1)]
    step_50 = [s for s in ok_data(api("planner").get(f"/api/v1/runs/{run_no}"))["steps"] if s["stepNo"] == 50][0]
    assert step_50["counts"]["failed"] == 1 and step_50["counts"]["passed"] == 2  # boards: the bad one failed twice

    console_login(client, "planner")
    run_page = client.get(f"/runs/{run_no}").get_data(as_text=True)  # every planned unit finished
    assert 'id="run-status">IN_PROGRESS' in run_page
    first_id, first_class = buttons(run_page)[0]
    assert first_id == "close-button" and "btn-primary" in first_class
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/close"))
    page = client.get(f"/work-orders/{wo_no}").get_data(as_text=True)
    assert "<strong>2</strong> good · <strong>1</strong> scrap" in page
    assert re.search(rf"{run_no}</a></td>.*?<td>3</td>\s*<td>2</td><td><span class=\"text-danger\">1</span></td><td>0</td>",
                     page, re.S)

    runs_csv = list(csv.reader(io.StringIO(client.get(f"/runs/csv?woNo={wo_no}").get_data(as_text=True).lstrip("\ufeff"))))
    header = runs_csv[0]
    row = dict(zip(header, [r for r in runs_csv[1:] if r[0] == run_no][0]))
    assert (row["plan qty"], row["good"], row["scrap"], row["in work"]) == ("3", "2", "1", "0")
    wo_csv = list(csv.reader(io.StringIO(client.get(f"/work-orders/csv?q={wo_no}").get_data(as_text=True).lstrip("\ufeff"))))
    row = dict(zip(wo_csv[0], wo_csv[1]))
    assert (row["WO"], row["planned qty"], row["good"], row["scrap"], row["in work"]) == (wo_no, "3", "2", "1", "0")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(client.get(f"/runs/xlsx?woNo={wo_no}").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert ("good", "scrap") == rows[0][6:8] and rows[1][6:8] == (2, 1)

    # a short work order: the page warns with the numbers, and the close needs the confirmation
    assert 'id="close-wo-short"' in page and "2 good of 3 planned" in page and "(1 scrapped)" in page
    token = csrf_from(page)
    refused = client.post(f"/work-orders/{wo_no}/close", data={"csrf_token": token}, follow_redirects=True)
    assert f"Work order {wo_no} has 2 good of 3 planned (1 scrapped): build the missing 1 in a new run, or confirm" \
        in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(WorkOrder.status).where(WorkOrder.wo_no == wo_no)).scalar_one() == "IN_PROGRESS"
    done = client.post(f"/work-orders/{wo_no}/close", data={"csrf_token": token, "confirm_short": "yes",
                                                             "reason": "one board scrapped, not replaced"},
                       follow_redirects=True)
    assert f"Work order {wo_no} completed." in done.get_data(as_text=True)
    with app.app_context():
        event = db.session.execute(select(AuditEvent).filter_by(action="WORK_ORDER_CLOSE", entity_key=wo_no,
                                                                status="SUCCESS")).scalar_one()
        assert event.reason == "one board scrapped, not replaced"
        assert event.payload == {"plannedQty": 3, "good": 2, "scrap": 1, "short": True}
        failed = db.session.execute(select(AuditEvent).filter_by(action="WORK_ORDER_CLOSE", entity_key=wo_no,
                                                                 status="FAIL")).scalar_one()
        assert failed.error_code == "WORK_ORDER_SHORT"
