"""The home page's worklists per role (issue 17): each count equals a plain SQL count and the number
of rows of the screen its link opens; the runs' next actions agree with Run Detail's; a leader sees
their own lines only; each role sees its own lists (several roles: several lists); the manager keeps
the dashboard; the home page stays a few queries."""
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import Line, MesUser, Run
from support import (
    DEMO_PASSWORD,
    DIP_DATA, DIP_STATIONS, StatementCounter, authorized_run, build_unit, console_login, finish_trial_board,
    ok_data, pass_fai, prep_run, ready_run,
)

DIP = "P-2001"


def _fail_at_insertion(api, run_no, sn):
    """The board fails at the DIP insertion step (10) with a defect: OUT_FAILED, waiting for quality."""
    station = DIP_STATIONS[10]
    ok_data(api("operator").post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no}))
    ok_data(api("operator").post(f"/api/v1/stations/{station}/track-out", json={
        "sn": sn, "runNo": run_no, "result": "FAIL", "data": DIP_DATA[10], "defect": {"code": "INS_MISS", "location": "J1"}}))


def _defect_id(api, sn):
    return ok_data(api("quality").get(f"/api/v1/defects?sn={sn}"))[0]["id"]


def _fai(api, run_no, *, passed: bool):
    fai = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}))["id"]
    if passed:
        ok_data(api("quality").post(f"/api/v1/inspections/{fai}/start"))
        sn = f"{run_no}-FAI1"
        build_unit(api, run_no, sn, product=DIP, until=10)
        ok_data(api("quality").post(f"/api/v1/inspections/{fai}/items",
                                    json={"unitSn": sn, "itemName": "first article", "result": "PASS"}))
        ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"}))  # not signed


@pytest.fixture
def shop(api, app):
    """A shop floor with something in every worklist, on both lines."""
    s = {}
    # planner: a work order to release, one released without a run
    ok_data(api("planner").post("/api/v1/integration/work-orders",
                                json={"woNo": "WO-WL-RECV", "productCode": DIP, "plannedQty": 2}))
    ok_data(api("planner").post("/api/v1/integration/work-orders",
                                json={"woNo": "WO-WL-REL", "productCode": DIP, "plannedQty": 2}))
    ok_data(api("planner").post("/api/v1/work-orders/WO-WL-REL/release", json={"lineCode": "LINE-DIP-A"}))
    # SMT: a PREP run whose slot 1-01 locked after three wrong reels, its FORMAL check failed (loading)
    s["smt_prep"] = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{s['smt_prep']}/loading/load-table"))
    for _ in range(3):
        api("material").post("/api/v1/loading/verify", json={"runNo": s["smt_prep"], "slotCode": "1-01",
                                                             "barcode": "MAT-C100N|LOT-C-001"})
    check = ok_data(api("leader").post(f"/api/v1/runs/{s['smt_prep']}/readiness/check", json={"kind": "FORMAL"}))
    assert check["status"] == "FAILED", check
    # DIP: an FAI to run (created, not started), an FAI to sign (passed, not signed)
    s["fai_open"] = ready_run(api, product=DIP, qty=2)
    _fai(api, s["fai_open"], passed=False)
    s["fai_sign"] = ready_run(api, product=DIP, qty=2)
    _fai(api, s["fai_sign"], passed=True)
    # DIP: a prepared run to authorize (FAI passed and signed), an authorized run nobody started yet
    s["authorize"] = ready_run(api, product=DIP, qty=2)
    pass_fai(api, s["authorize"], product=DIP)
    s["authorized"] = authorized_run(api, product=DIP, qty=1)
    # DIP: a running run with one board to disposition and one held
    s["running"] = authorized_run(api, product=DIP, qty=3, units=3)
    for sn in (f"{s['running']}-0001", f"{s['running']}-0002"):
        _fail_at_insertion(api, s["running"], sn)
    ok_data(api("quality").post(f"/api/v1/defects/{_defect_id(api, s['running'] + '-0002')}/disposition",
                                json={"type": "HOLD", "reason": "wait for the supplier's answer"}))
    # DIP: every planned board finished — the trial board built, the other scrapped (a scrap runs no automatic
    # closeout): the planner closes the run
    s["close"] = authorized_run(api, product=DIP, qty=1, units=1)
    finish_trial_board(api, s["close"], product=DIP)
    _fail_at_insertion(api, s["close"], f"{s['close']}-0001")
    ok_data(api("quality").post(f"/api/v1/defects/{_defect_id(api, s['close'] + '-0001')}/disposition",
                                json={"type": "SCRAP", "reason": "cracked board"}))
    # DIP with an OQC rule: one run waits for its OQC, one is on hold after a failed OQC (the MRB decides)
    ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": DIP, "samplingType": "FIXED", "sampleValue": 1}))
    closeouts = {}
    for name in ("oqc", "mrb"):
        s[name] = authorized_run(api, product=DIP, qty=1, units=1)
        finish_trial_board(api, s[name], product=DIP)
        closeouts[name] = build_unit(api, s[name], f"{s[name]}-0001", product=DIP)["runCloseout"]
        assert closeouts[name]["code"] == "OQC_REQUIRED", closeouts[name]
    oqc = closeouts["mrb"]["inspectionId"]
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/start"))
    ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/items", json={
        "unitSn": closeouts["mrb"]["sampledSns"][0], "itemName": "visual", "result": "FAIL", "defectCode": "WS_BRIDGE"}))
    assert ok_data(api("quality").post(f"/api/v1/inspections/{oqc}/complete", json={
        "decision": "FAIL", "password": DEMO_PASSWORD}))["runStatus"] \
        == "ON_HOLD"
    # a locked account of an operator on the DIP line
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="operator2")).scalar_one()
        user.fail_login_count, user.last_failed_login_at = 5, datetime.now(timezone.utc)
        db.session.commit()
    return s


# ---------------------------------------------------------------------------------------------
# Helpers: the worklists as the home page shows them, and the rows of the linked screens
# ---------------------------------------------------------------------------------------------

def home_items(client) -> dict[str, dict[str, tuple[int, str]]]:
    """{role: {item key: (count, link)}} from the home page's HTML."""
    page = client.get("/").get_data(as_text=True)
    out = {}
    for role, body in re.findall(r'<section class="mes-worklist" id="worklist-\w+" data-role="(\w+)">(.*?)</section>',
                                 page, re.S):
        out[role] = {key: (int(count), href.replace("&amp;", "&")) for key, href, count in re.findall(
            r'data-key="([\w-]+)">\s*<a href="([^"]+)" data-count="(\d+)"', body)}
    return out


def screen_rows(client, url: str) -> list[str]:
    """The items a linked screen lists: runs, boards, loading runs, locked slots or work orders."""
    page = client.get(url).get_data(as_text=True)
    if url.startswith("/runs/"):
        return re.findall(r'<tr><td><a href="/runs/([^"]+)">', page)
    if url.startswith("/disposition/"):
        return re.findall(r'class="panel panel-default mes-queue-entry" id="queue-[^"]+" data-sn="([^"]+)"', page)
    if "locked=1" in url:
        return re.findall(r'<tr data-slot="([^"]+)">', page)
    if url.startswith("/spc/alarms"):
        return re.findall(r'<tr data-alarm="(\d+)"', page)
    if url.startswith("/locked-accounts/"):
        return re.findall(r'<tr data-username="([^"]+)">', page)
    if url.startswith("/loading/"):
        return re.findall(r'data-run="([^"]+)"', page.split('id="loading-runs"', 1)[1].split("</div>", 1)[0])
    if url.startswith("/work-orders/"):
        return re.findall(r'<tr><td><a href="/work-orders/([^"]+)">', page)
    raise AssertionError(f"no row pattern for {url}")


def sql(app, statement: str, **params) -> int:
    with app.app_context():
        return db.session.execute(text(statement), params).scalar_one()


def assert_links_match(client, items: dict[str, tuple[int, str]], skip=()):
    for key, (count, url) in items.items():
        if key in skip:
            continue
        rows = screen_rows(client, url)
        assert len(rows) == count, (key, url, rows)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def test_quality_worklist_counts_equal_sql_and_the_linked_screens(app, client, shop):
    console_login(client, "quality")
    items = home_items(client)
    assert list(items) == ["Quality"]
    q = items["Quality"]
    assert list(q) == ["fai-to-run", "fai-to-sign", "oqc", "disposition", "holds", "mrb", "spc-alarms"]
    assert q["fai-to-run"][0] == 1 and screen_rows(client, q["fai-to-run"][1]) == [shop["fai_open"]]
    assert q["fai-to-sign"][0] == 1 and screen_rows(client, q["fai-to-sign"][1]) == [shop["fai_sign"]]
    assert q["disposition"][0] == sql(app, """
        SELECT COUNT(DISTINCT u.id) FROM unit u JOIN defect d ON d.unit_id = u.id
        WHERE u.status = 'OUT_FAILED' AND d.status = 'RECORDED'""") == 1
    assert screen_rows(client, q["disposition"][1]) == [f"{shop['running']}-0001"]
    assert q["holds"][0] == sql(app, "SELECT COUNT(*) FROM unit WHERE status = 'ON_HOLD'") == 1
    assert screen_rows(client, q["holds"][1]) == [f"{shop['running']}-0002"]
    assert q["mrb"][0] == sql(app, "SELECT COUNT(*) FROM run WHERE status = 'ON_HOLD'") == 1
    assert screen_rows(client, q["mrb"][1]) == [shop["mrb"]]
    assert q["oqc"][0] == sql(app, "SELECT COUNT(*) FROM inspection WHERE type = 'OQC' AND open_key IS NOT NULL") == 1
    assert screen_rows(client, q["oqc"][1]) == [shop["oqc"]]
    assert_links_match(client, q)
    page = client.get("/").get_data(as_text=True)
    assert "Nothing waiting" not in page.split('id="worklist-quality"', 1)[1].split("</section>", 1)[0]


def test_planner_worklist_runs_by_next_action(app, client, shop):
    console_login(client, "planner")
    p = home_items(client)["Planner"]
    assert p["wo-release"][0] == sql(app, "SELECT COUNT(*) FROM work_order WHERE status = 'RECEIVED'") >= 1
    assert "WO-WL-RECV" in screen_rows(client, p["wo-release"][1])
    assert p["wo-create-run"][0] == sql(app, "SELECT COUNT(*) FROM work_order WHERE status = 'RELEASED'") >= 1
    assert "WO-WL-REL" in screen_rows(client, p["wo-create-run"][1])
    assert set(screen_rows(client, p["prepare"][1])) == {shop["smt_prep"], shop["fai_open"], shop["fai_sign"]}
    assert set(screen_rows(client, p["running"][1])) == {shop["running"], shop["authorized"]}
    assert screen_rows(client, p["close"][1]) == [shop["close"]]
    assert screen_rows(client, p["authorize"][1]) == [shop["authorize"]]
    assert_links_match(client, p)
    # every open run is in exactly one of the planner's run lists or waits for quality (OQC, MRB)
    open_runs = sql(app, "SELECT COUNT(*) FROM run WHERE status IN ('PREP', 'AUTHORIZED', 'IN_PROGRESS', 'ON_HOLD')")
    assert p["prepare"][0] + p["authorize"][0] + p["running"][0] + p["close"][0] + 2 == open_runs  # + OQC, MRB
    # the run list says which worklist it shows; an unknown one is refused with what to do
    export = client.get("/runs/csv?worklist=close").get_data(as_text=True)  # the export follows the worklist
    assert shop["close"] in export and shop["running"] not in export
    page = client.get(p["close"][1]).get_data(as_text=True)
    assert 'id="worklist-filter"' in page and "close them" in page
    refused = client.get("/runs/?worklist=nope").get_data(as_text=True)
    assert "VALIDATION_ERROR" in refused and "Unknown worklist nope" in refused


def test_the_classification_agrees_with_run_detail_next_action(app, client, shop):
    from app.security.actors import actor_for_user
    from app.services.production.runs import next_action, unit_counts
    from app.services.reporting.worklists import classify_runs
    with app.app_context():
        planner = db.session.execute(select(MesUser.id).filter_by(username="planner")).scalar_one()
        states = classify_runs(actor_for_user(planner))
        assert {s.action for s in states} == {"READINESS", "FAI", "AUTHORIZE", "BUILD", "DISPOSITION",
                                                 "CLOSE", "OQC", "MRB"}
        for state in states:
            run = db.session.get(Run, state.id)
            assert state.action == next_action(run, unit_counts(run.id))["action"], run.run_no


def test_material_and_leader_worklists_and_their_scope(app, client, shop):
    console_login(client, "material")
    m = home_items(client)["Material"]
    assert m["loading"][0] == 1 and screen_rows(client, m["loading"][1]) == [shop["smt_prep"]]
    client.get("/logout/")
    console_login(client, "leader")
    leader = home_items(client)["Leader"]
    assert leader["locked-slots"][0] == sql(app, "SELECT COUNT(*) FROM feeder_slot WHERE is_locked") == 1
    assert screen_rows(client, leader["locked-slots"][1]) == ["LINE-SMT-A/1-01"]
    locked_page = client.get(leader["locked-slots"][1]).get_data(as_text=True)
    assert f'href="/loading/{shop["smt_prep"]}"' in locked_page  # the run whose page has the Unlock form
    assert leader["locked-accounts"] == (1, "/locked-accounts/")
    assert screen_rows(client, leader["readiness-failed"][1]) == [shop["smt_prep"]]
    assert screen_rows(client, leader["held-units"][1]) == [shop["running"]]
    assert screen_rows(client, leader["mrb"][1]) == [shop["mrb"]]
    assert_links_match(client, leader)
    # moved to the SMT line only: the DIP line's holds and locked operator are not theirs
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="leader")).scalar_one()
        user.lines = [db.session.execute(select(Line).filter_by(code="LINE-SMT-A")).scalar_one()]
        db.session.commit()
    leader = home_items(client)["Leader"]
    assert (leader["held-units"][0], leader["mrb"][0], leader["locked-accounts"][0], leader["locked-slots"][0]) == (0, 0, 0, 1)
    assert screen_rows(client, leader["held-units"][1]) == []
    # moved to the DIP line only: the SMT slot and failed check are not theirs
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="leader")).scalar_one()
        user.lines = [db.session.execute(select(Line).filter_by(code="LINE-DIP-A")).scalar_one()]
        db.session.commit()
    leader = home_items(client)["Leader"]
    assert (leader["locked-slots"][0], leader["readiness-failed"][0], leader["held-units"][0]) == (0, 0, 1)
    assert screen_rows(client, leader["locked-slots"][1]) == [] and screen_rows(client, leader["readiness-failed"][1]) == []
    assert_links_match(client, leader)


def test_empty_lists_say_nothing_waiting_and_roles_see_their_own(app, client):
    console_login(client, "material")
    page = client.get("/").get_data(as_text=True)
    section = page.split('id="worklist-material"', 1)[1].split("</section>", 1)[0]
    assert "Nothing waiting" in section and 'data-count="0"' in section
    assert 'href="/help/material#your-worklist"' in page  # the home page's Help: the guide's worklist section
    assert 'id="your-worklist"' in client.get("/help/material").get_data(as_text=True)
    assert 'id="worklist-quality"' not in page and 'id="worklist-planner"' not in page
    client.get("/logout/")
    console_login(client, "operator")  # no worklist: the tiles as before
    page = client.get("/").get_data(as_text=True)
    assert 'id="worklists"' not in page and "Station Terminal" in page
    client.get("/logout/")
    console_login(client, "manager")  # the manager's home is the dashboard
    landed = client.get("/")
    assert landed.status_code == 302 and "/dashboard" in landed.headers["Location"]


def test_a_user_with_several_roles_sees_each_roles_worklist(app, client):
    from flask_appbuilder.security.sqla.models import Role
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="quality")).scalar_one()
        user.roles = user.roles + [db.session.execute(select(Role).filter_by(name="Planner")).scalar_one()]
        db.session.commit()
    console_login(client, "quality")
    items = home_items(client)
    assert list(items) == ["Quality", "Planner"]
    assert "wo-release" in items["Planner"] and "fai-to-sign" in items["Quality"]


def test_worklist_screens_keep_their_permissions(app, client, shop):
    console_login(client, "material")  # a run worklist is a run list: anyone with run:read, in their scope
    assert screen_rows(client, "/runs/?worklist=fai-to-sign") == [shop["fai_sign"]]
    assert client.get("/disposition/?action=DISPOSITION").status_code in (302, 403)  # quality:disposition only
    client.get("/logout/")
    console_login(client, "operator")  # no loading:verify
    assert client.get("/loading/?waiting=1").status_code in (302, 403)


def test_the_home_page_is_a_few_queries(app, client, shop):
    console_login(client, "quality")
    client.get("/")  # warm the caches (permissions, route plans)
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine, keep=True) as counter:
        assert client.get("/").status_code == 200
    # the worklists' own reads (the menu's permission checks and the login's reads are the page's, before)
    own = [s for s in counter.log if not s.startswith(("BEGIN", "SELECT security_version", "SELECT ab_user"))]
    assert len(own) <= 10, "\n".join(own)
