"""Console screens of line readiness over real HTTP forms: Feeder Slots & Slot Table (engineer),
Integration Status / Manual Entry / Messages, Lot Recall, and the unit trace's materials and
readiness sections. The rules themselves are the services' (tested through the API elsewhere); these
prove the screens call them, show their refusals and change nothing when refused."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditEvent, FeederSlot, IntegrationMessage, Line, Material, Product, Routing, SlotMaterialMapping, Station,
    StencilStatus,
)
from support import authorized_run, build_unit, console_login, count, csrf_from


def _ids(app):
    with app.app_context():
        def one(model, **by):
            return db.session.execute(select(model.id).filter_by(**by)).scalar_one()
        return {"smt": one(Line, code="LINE-SMT-A"), "dip": one(Line, code="LINE-DIP-A"),
                "mount": one(Station, code="ST-MOUNT-01"), "dip_station": one(Station, code="ST-DIP-INS-01"),
                "slot": one(FeederSlot, slot_code="1-01", line_id=one(Line, code="LINE-SMT-A")), "r10k": one(Material, code="MAT-R10K"),
                "p1001": one(Product, code="P-1001"), "p2001": one(Product, code="P-2001"),
                "rt_smt": one(Routing, code="RT-P1001-SMT")}


def test_feeder_slots_screen_applies_the_rules_and_audits(client, app):
    ids = _ids(app)
    console_login(client, "engineer")
    listing = client.get("/feeder-slots/list/").get_data(as_text=True)
    assert "1-01" in listing and "2-01" in listing
    token = csrf_from(client.get("/feeder-slots/add").get_data(as_text=True))
    before = count(FeederSlot)

    duplicate = client.post("/feeder-slots/add", data={"csrf_token": token, "line": ids["smt"], "slot_code": " 1-01 ",
                                                       "station": ids["mount"]}, follow_redirects=True)
    assert "FEEDER_SLOT_DUPLICATE" in duplicate.get_data(as_text=True) or \
        "already has a feeder slot" in duplicate.get_data(as_text=True)
    wrong_line = client.post("/feeder-slots/add", data={"csrf_token": token, "line": ids["smt"], "slot_code": "3-01",
                                                        "station": ids["dip_station"]}, follow_redirects=True)
    assert "is not on line LINE-SMT-A" in wrong_line.get_data(as_text=True)
    assert count(FeederSlot) == before

    created = client.post("/feeder-slots/add", data={"csrf_token": token, "line": ids["smt"], "slot_code": "3-01",
                                                     "station": ids["mount"], "position": "4"}, follow_redirects=True)
    assert created.status_code == 200 and count(FeederSlot) == before + 1
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "FEEDER_SLOT_CREATE",
                                                            AuditEvent.actor_username == "engineer")
                                    .order_by(AuditEvent.id)).scalars().all()
        # the refused duplicate is audited as a failed attempt (a 422 form error is not), then the creation
        assert [(e.status, e.error_code) for e in events] == [("FAIL", "FEEDER_SLOT_DUPLICATE"), ("SUCCESS", None)]
        assert events[-1].entity_key == "LINE-SMT-A/3-01" and "3-01" in str(events[-1].diff["after"])


def test_slot_table_screen_refuses_duplicates_and_foreign_routings(client, app):
    ids = _ids(app)
    console_login(client, "engineer")
    token = csrf_from(client.get("/slot-table/add").get_data(as_text=True))
    before = count(SlotMaterialMapping)
    # the seeded line: slot 1-01, MAT-R10K, P-1001 / RT-P1001-SMT
    same = {"csrf_token": token, "slot": ids["slot"], "material": ids["r10k"], "product": ids["p1001"],
            "routing": ids["rt_smt"], "priority": "1"}
    page = client.post("/slot-table/add", data=same, follow_redirects=True).get_data(as_text=True)
    assert "already has this material" in page
    foreign = {**same, "product": ids["p2001"], "priority": "2"}
    page = client.post("/slot-table/add", data=foreign, follow_redirects=True).get_data(as_text=True)
    assert "belongs to another product" in page
    zero = {**same, "routing": "", "product": "", "priority": "0"}
    page = client.post("/slot-table/add", data=zero, follow_redirects=True).get_data(as_text=True)
    assert "1 or more" in page
    assert count(SlotMaterialMapping) == before
    # the same material for every product is a different line of the slot table
    client.post("/slot-table/add", data={**same, "routing": "", "product": "", "priority": "5",
                                         "is_alternate": "y"}, follow_redirects=True)
    assert count(SlotMaterialMapping) == before + 1


def test_feeder_slot_loaded_by_a_run_cannot_be_deleted(client, api, app):
    ids = _ids(app)
    authorized_run(api)  # loads the slot table and scans the reels
    console_login(client, "engineer")
    token = csrf_from(client.get("/feeder-slots/list/").get_data(as_text=True))
    before = count(FeederSlot)
    page = client.post(f"/feeder-slots/delete/{ids['slot']}", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "FEEDER_SLOT_IN_USE" in page and "is used by" in page and count(FeederSlot) == before


def test_loading_configuration_is_for_engineers_only(client):
    for user in ("material", "leader", "operator"):
        console_login(client, user)
        assert client.get("/feeder-slots/list/").status_code in (302, 403), user
        assert "Feeder Slots" not in client.get("/").get_data(as_text=True), user
        client.get("/logout/")


def test_manual_entry_is_recorded_as_manual_by_the_signed_in_user(client, app):
    console_login(client, "leader")
    page = client.get("/integration/manual").get_data(as_text=True)
    token = csrf_from(page)
    event_id = re.search(r'name="event_id" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "event_id": event_id, "stencil_id": "STN-1001-A", "status": "MAINTENANCE",
            "note": "TPM offline since 08:10", "operator": "someone-else"}
    before = count(StencilStatus)
    page = client.post("/integration/manual/stencil", data=form, follow_redirects=True).get_data(as_text=True)
    assert "as MANUAL by leader" in page
    again = client.post("/integration/manual/stencil", data=form, follow_redirects=True).get_data(as_text=True)
    assert "sent twice, kept once" in again
    assert count(StencilStatus) == before + 1
    with app.app_context():
        record = db.session.execute(select(StencilStatus).order_by(StencilStatus.id.desc())).scalars().first()
        assert (record.status, record.source, record.operator) == ("MAINTENANCE", "MANUAL", "leader")
        message = db.session.execute(select(IntegrationMessage).where(IntegrationMessage.status == "SUCCESS")
                                     .order_by(IntegrationMessage.id.desc())).scalars().first()
        assert message.payload["note"] == "TPM offline since 08:10"
    status = client.get("/integration/").get_data(as_text=True)
    assert re.search(r'data-system="TPM"[^>]*>.*?DEGRADED', status, re.S)
    messages = client.get("/integration/messages?system=TPM").get_data(as_text=True)
    assert "STENCIL_STATUS" in messages and "MANUAL" in messages
    detail = client.get(f"/integration/messages/{message.id}").get_data(as_text=True)
    assert "TPM offline since 08:10" in detail and "STN-1001-A" in detail


def test_manual_entry_refusals_change_nothing(client):
    console_login(client, "leader")
    token = csrf_from(client.get("/integration/manual").get_data(as_text=True))
    before = count(StencilStatus)
    page = client.post("/integration/manual/stencil", data={"csrf_token": token, "stencil_id": "STN-1001-A",
                                                            "status": "BROKEN"}, follow_redirects=True)
    assert "VALIDATION_ERROR" in page.get_data(as_text=True)
    page = client.post("/integration/manual/equipment", data={"csrf_token": token, "equipment_code": "NO-SUCH",
                                                              "status": "DOWN"}, follow_redirects=True)
    assert "EQUIPMENT_NOT_FOUND" in page.get_data(as_text=True)
    assert count(StencilStatus) == before


def test_integration_screens_follow_permissions(client):
    console_login(client, "quality")  # views and enters
    assert client.get("/integration/").status_code == 200
    assert client.get("/integration/manual").status_code == 200
    client.get("/logout/")
    console_login(client, "planner")  # neither
    assert client.get("/integration/").status_code in (302, 403)
    assert "Manual Entry" not in client.get("/").get_data(as_text=True)
    client.get("/logout/")
    console_login(client, "operator")
    assert client.get("/integration/manual").status_code in (302, 403)


def test_lot_recall_screen_trace_search_and_trace_sections(client, api):
    run_no = authorized_run(api, qty=2)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=30)  # MOUNTING records the loaded reels
    console_login(client, "quality")
    page = client.get("/lot-recall/?q=MAT-R10K|LOT-R-001", follow_redirects=True).get_data(as_text=True)
    assert 'id="recall-counts"' in page and sn in page and run_no in page
    csv = client.get("/lot-recall/MAT-R10K/LOT-R-001/csv")
    assert csv.status_code == 200 and sn in csv.get_data(as_text=True)
    xlsx = client.get("/lot-recall/MAT-R10K/LOT-R-001/xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    # the trace search takes a bare lot number too
    page = client.get("/trace/?q=LOT-C-001", follow_redirects=True).get_data(as_text=True)
    assert "MAT-C100N | LOT-C-001" in page and sn in page
    page = client.get("/trace/?q=NO-SUCH-THING", follow_redirects=True).get_data(as_text=True)
    assert "No unit, run or lot NO-SUCH-THING" in page
    unit = client.get(f"/trace/units/{sn}").get_data(as_text=True)
    materials = unit.split('id="trace-materials"')[1].split("</table>")[0]
    assert all(lot in materials for lot in ("LOT-R-001", "LOT-C-001", "LOT-M-001"))
    readiness = unit.split('id="trace-readiness"')[1].split("</table>")[0]
    assert "STENCIL" in readiness and "LOADING" in readiness
    client.get("/logout/")
    console_login(client, "operator")  # reads trace, does not export
    page = client.get("/lot-recall/MAT-R10K/LOT-R-001").get_data(as_text=True)
    assert sn in page and 'id="export-csv"' not in page
    assert client.get("/lot-recall/MAT-R10K/LOT-R-001/csv").status_code in (302, 403)


def test_manual_entry_refuses_a_time_in_the_future(client):
    console_login(client, "leader")
    token = csrf_from(client.get("/integration/manual").get_data(as_text=True))
    before = count(StencilStatus)
    page = client.post("/integration/manual/stencil", data={"csrf_token": token, "stencil_id": "STN-1001-A",
                                                            "status": "READY", "event_time": "2062-01-01T08:00"},
                       follow_redirects=True).get_data(as_text=True)
    assert "The time is in the future" in page and count(StencilStatus) == before


def test_run_detail_offers_exactly_the_readiness_actions_the_service_accepts(client, api):
    """readiness.actions: the FORMAL check button on a PREP run for who may check; a waive button on the
    FAILED, waivable items of the latest FORMAL check only (not on a PRECHECK, not after authorize)."""
    from support import fresh_consumable_statuses, prep_run
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    console_login(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert "PRECHECK check" in page and 'id="formal-check-button"' in page
    assert 'id="waive-LOADING"' not in page  # a PRECHECK item is not waived
    token = csrf_from(page)
    page = client.post(f"/readiness/runs/{run_no}/check", data={"csrf_token": token, "kind": "FORMAL"},
                       follow_redirects=True).get_data(as_text=True)
    assert "FORMAL check" in page and 'id="waive-LOADING"' in page and 'id="waive-ROUTE"' not in page
    client.get("/logout/")
    console_login(client, "planner")  # may not waive nor check
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="waive-LOADING"' not in page and 'id="formal-check-button"' not in page


def test_terminal_and_loading_screens_refuse_in_the_consoles_style(client, app):
    """The terminal and loading screens open a station or run through the services: unknown or
    out-of-scope → back to the choice, with the code and what to do (no bare 403/404 page)."""
    console_login(client, "operator2")  # DIP stations only
    page = client.get("/terminal/ST-PRINT-01", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "[FORBIDDEN]" in text and "outside your assigned stations" in text
    assert "ST-DIP-INS-01" in text  # back on the station choice
    text = client.get("/terminal/NO-SUCH-STATION", follow_redirects=True).get_data(as_text=True)
    assert "[STATION_NOT_FOUND]" in text
    client.get("/logout/")
    console_login(client, "material")
    text = client.get("/loading/NO-SUCH-RUN", follow_redirects=True).get_data(as_text=True)
    assert "[RUN_NOT_FOUND]" in text and "Choose the run" in text


def test_the_loading_terminal_opens_only_runs_on_the_users_lines(client, app, api):
    """`loading.terminal_run` (Loading Terminal, console): a run on a line outside the user's scope
    answers RUN_NOT_FOUND exactly like an unknown run (the answer does not tell that it exists), and
    the choice does not offer it."""
    from support import prep_run
    run_no = prep_run(api)  # on LINE-SMT-A
    console_login(client, "material")  # bound to LINE-SMT-A and LINE-DIP-A
    page = client.get(f"/loading/{run_no}")
    assert page.status_code == 200 and f'id="run-no">{run_no}<' in page.get_data(as_text=True)
    assert f'data-run="{run_no}"' in client.get("/loading/").get_data(as_text=True)
    with app.app_context():
        from app.models import MesUser
        user = db.session.execute(select(MesUser).filter_by(username="material")).scalar_one()
        user.lines = [line for line in user.lines if line.code != "LINE-SMT-A"]
        db.session.commit()
    outside = client.get(f"/loading/{run_no}")
    assert outside.status_code == 302 and outside.headers["Location"].endswith("/loading/")
    text = client.get(outside.headers["Location"]).get_data(as_text=True)
    assert "[RUN_NOT_FOUND]" in text and "Choose the run" in text and "FORBIDDEN" not in text
    assert f'data-run="{run_no}"' not in text
    unknown = client.get("/loading/R-NO-SUCH", follow_redirects=True).get_data(as_text=True)
    flashed = re.compile(r"\[RUN_NOT_FOUND\][^<]*")
    assert flashed.search(text).group(0).replace(run_no, "?") == flashed.search(unknown).group(0).replace("R-NO-SUCH", "?")
