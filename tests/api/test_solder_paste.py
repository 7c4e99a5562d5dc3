"""Solder-paste timers (issue 18): a paste material's windows (minimum thaw out of the refrigerator, maximum
open time, maximum time on the stencil), the times of the jar bound to the line (recorded at the line or by
WMS), the SOLDER_PASTE readiness item and the Loading Terminal's paste check refusing paste outside its
windows and saying how long is left inside them. In the demo data MAT-PASTE-SAC305 (lot SP-LOT-0001, bound
to LINE-SMT-A) has 4 h / 24 h / 8 h; the test template seeds its jar thawed long ago."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.models import Material
from app.services.engineering import master_import
from app.services.platform.actor import SYSTEM
from support import console_login, fresh_consumable_statuses, ok_data, prep_run
from support import sql as _sql

LINE, LOT = "LINE-SMT-A", "SP-LOT-0001"


def _ago(hours: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat()


def _time(api, kind: str, hours_ago: float | None = None, *, user="material", lot=LOT, at=None):
    body = {"lotNo": lot, "kind": kind}
    if hours_ago is not None or at is not None:
        body["at"] = at if at is not None else _ago(hours_ago)
    return api(user).post(f"/api/v1/lines/{LINE}/solder-paste/times", json=body)


def _verify(api, lot=LOT, user="material"):
    return api(user).post(f"/api/v1/lines/{LINE}/solder-paste/verify", json={"lotNo": lot})


def _paste_item(api, run_no: str) -> dict:
    check = ok_data(api("leader").post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "PRECHECK"}))
    return next(i for i in check["items"] if i["itemType"] == "SOLDER_PASTE")


def _code(answer) -> tuple[int, str]:
    return answer.status_code, (answer.get_json().get("error") or {}).get("code")


def test_a_thawing_jar_is_refused_and_says_how_long_is_left(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    thaw = _time(api, "THAW_START", 1)  # out of the refrigerator an hour ago: 3 h to go
    assert thaw.status_code == 201, thaw.get_json()
    state = thaw.get_json()["data"]
    assert state["materialCode"] == "MAT-PASTE-SAC305" and state["windows"] == {
        "minThawHours": 4.0, "maxOpenHours": 24.0, "maxStencilHours": 8.0}
    assert state["clock"]["status"] == "THAWING" and 178 <= state["clock"]["remainingMinutes"] <= 180
    assert state["usable"] is False and state["failCode"] == "PASTE_THAW_INCOMPLETE"
    # the terminal refuses to open it or to put it on the stencil, and its check refuses it; nothing changes
    for answer in (_time(api, "OPENED"), _time(api, "ON_STENCIL"), _verify(api)):
        assert _code(answer) == (409, "PASTE_THAW_INCOMPLETE"), answer.get_json()
    assert 178 <= _verify(api).get_json()["error"]["details"]["clock"]["remainingMinutes"] <= 180
    assert _sql(app, "SELECT opened_at, on_stencil_at FROM line_solder_paste WHERE current_line_id IS NOT NULL") \
        == [(None, None)]
    assert _sql(app, "SELECT status, error_code FROM audit_event WHERE action = 'SOLDER_PASTE_TIME' "
                     "ORDER BY id DESC LIMIT 1") == [("FAIL", "PASTE_THAW_INCOMPLETE")]
    item = _paste_item(api, run_no)
    assert (item["status"], item["failCode"]) == ("FAILED", "PASTE_THAW_INCOMPLETE"), item
    assert "2 h 5" in item["failReason"] and "left" in item["failReason"]
    timers = item["evidence"]["timers"]
    assert timers["thawStartedAt"] and timers["openedAt"] is None and timers["clock"]["status"] == "THAWING"


def test_no_thaw_start_fails_the_readiness_item(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    _sql(app, "UPDATE line_solder_paste SET thaw_started_at = NULL")
    item = _paste_item(api, run_no)
    assert (item["status"], item["failCode"]) == ("FAILED", "PASTE_THAW_INCOMPLETE")
    assert "no thaw start" in item["failReason"]


def test_inside_its_windows_the_paste_passes_with_the_time_left(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    assert _time(api, "THAW_START", 6).status_code == 201
    opened = ok_data(_time(api, "OPENED", 1))
    assert opened["clock"]["status"] == "OK" and opened["clock"]["window"] == "open"
    assert 22 * 60 + 58 <= opened["clock"]["remainingMinutes"] <= 23 * 60
    stencil = ok_data(_time(api, "ON_STENCIL", 0.5))
    assert stencil["clock"]["window"] == "stencil" and 7 * 60 + 28 <= stencil["clock"]["remainingMinutes"] <= 7 * 60 + 30
    assert ok_data(_verify(api))["usable"] is True
    item = _paste_item(api, run_no)
    assert item["status"] == "PASSED", item
    timers = item["evidence"]["timers"]
    assert timers["openedAt"] and timers["onStencilAt"] and timers["clock"]["remainingMinutes"] >= 7 * 60 + 28
    state = ok_data(api("leader").get(f"/api/v1/lines/{LINE}/solder-paste"))["binding"]
    assert state["lotNo"] == LOT and state["usable"] is True
    # each time audited, as the person who recorded it, with the times before and after
    audited = _sql(app, "SELECT entity_key, diff FROM audit_event WHERE action = 'SOLDER_PASTE_TIME' AND "
                        "status = 'SUCCESS' AND actor_username = 'material' ORDER BY id")
    assert [key for key, _ in audited] == [LINE] * 3
    diff = audited[-1][1] if isinstance(audited[-1][1], dict) else __import__("json").loads(audited[-1][1])
    assert diff["before"]["ON_STENCIL"] is None and diff["after"]["ON_STENCIL"] == stencil["onStencilAt"]


def test_open_and_stencil_expiry_fail_the_check_and_the_terminal(api, app):
    from app.services.platform.clock import simulated
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    assert _time(api, "THAW_START", 30).status_code == 201
    assert _time(api, "OPENED", 25).status_code == 201          # 24 h open time: over an hour ago
    item = _paste_item(api, run_no)
    assert (item["status"], item["failCode"]) == ("FAILED", "PASTE_OPEN_EXPIRED"), item
    assert _code(_verify(api)) == (409, "PASTE_OPEN_EXPIRED")
    assert _code(_time(api, "ON_STENCIL")) == (409, "PASTE_OPEN_EXPIRED")   # no fresh paste from an old jar
    # a new jar: its thaw start clears the old jar's times
    assert _time(api, "THAW_START", 5).status_code == 201
    stencil = ok_data(_time(api, "ON_STENCIL", 1))
    assert stencil["openedAt"] == stencil["onStencilAt"]   # on the stencil means open
    assert _paste_item(api, run_no)["status"] == "PASSED"
    with simulated(datetime.now(timezone.utc) + timedelta(hours=7, minutes=30)):   # 8.5 h on the stencil
        later = _paste_item(api, run_no)
        assert (later["status"], later["failCode"]) == ("FAILED", "PASTE_STENCIL_EXPIRED"), later
        assert _code(_verify(api)) == (409, "PASTE_STENCIL_EXPIRED")
        # fresh paste on the stencil: the stencil clock starts again (the jar has been open 8.5 h of 24)
        assert ok_data(_time(api, "ON_STENCIL"))["clock"]["status"] == "OK"


def test_paste_time_refusals_change_nothing(api, app):
    before = _sql(app, "SELECT thaw_started_at, opened_at, on_stencil_at FROM line_solder_paste "
                       "WHERE current_line_id IS NOT NULL")
    cases = [
        (_time(api, "STIRRED"), 422, "VALIDATION_ERROR"),
        (_time(api, "THAW_START", -2), 422, "VALIDATION_ERROR"),                 # in the future
        (_time(api, "THAW_START", at="yesterday-ish"), 422, "VALIDATION_ERROR"),
        (_time(api, "OPENED", 60), 422, "VALIDATION_ERROR"),                     # before the thaw start
        (_time(api, "THAW_START", 1, lot="SP-LOT-OTHER"), 409, "PASTE_LOT_NOT_BOUND"),
        (_verify(api, lot="SP-LOT-OTHER"), 409, "PASTE_LOT_NOT_BOUND"),
        (_time(api, "THAW_START", 1, user="operator"), 403, "FORBIDDEN"),
        (api("material").post("/api/v1/lines/LINE-NOPE/solder-paste/times", json={"lotNo": LOT, "kind": "OPENED"}),
         404, "LINE_NOT_FOUND"),
    ]
    for answer, status, code in cases:
        assert _code(answer) == (status, code), answer.get_json()
    assert _sql(app, "SELECT thaw_started_at, opened_at, on_stencil_at FROM line_solder_paste "
                     "WHERE current_line_id IS NOT NULL") == before


def test_a_plant_clock_time_is_the_latest_such_moment(api, app):
    from app.web.times import plant_zone
    local = datetime.now(timezone.utc).astimezone(plant_zone()) - timedelta(minutes=90)
    state = ok_data(_time(api, "THAW_START", at=local.strftime("%H:%M")))
    thawed = datetime.fromisoformat(state["thawStartedAt"])
    assert timedelta(minutes=89) < datetime.now(timezone.utc) - thawed <= timedelta(minutes=91)


def test_wms_sends_paste_times_once_each(api, app):
    """WMS posts the jar's times through the integration API: logged, the same event id again is a duplicate
    that changes nothing, refused by the same windows, and a person without `integration:inbound` is refused."""
    body = {"eventId": "WMS-SPT-1", "eventTime": _ago(2), "lineCode": LINE, "lotNo": LOT, "kind": "THAW_START"}
    first = ok_data(api("integration").post("/api/v1/integration/solder-paste-events", json=body))
    assert first["duplicate"] is False and first["clock"]["status"] == "THAWING" and first["lineCode"] == LINE
    again = ok_data(api("integration").post("/api/v1/integration/solder-paste-events", json=body))
    assert again["duplicate"] is True
    opened = api("integration").post("/api/v1/integration/solder-paste-events", json={
        **body, "eventId": "WMS-SPT-2", "eventTime": _ago(1), "kind": "OPENED"})
    assert _code(opened) == (409, "PASTE_THAW_INCOMPLETE")
    assert _sql(app, "SELECT system, status FROM integration_message WHERE entity_type = 'SOLDER_PASTE_EVENT' "
                     "ORDER BY id") == [("WMS", "SUCCESS"), ("WMS", "DUPLICATE"), ("WMS", "FAILED")]
    thawed = _sql(app, "SELECT thaw_started_at, opened_at FROM line_solder_paste WHERE current_line_id IS NOT NULL")[0]
    assert thawed[1] is None
    assert _sql(app, "SELECT count(*) FROM audit_event WHERE action = 'SOLDER_PASTE_TIME_RECORD' "
                     "AND status = 'SUCCESS'") == [(1,)]
    assert api("material").post("/api/v1/integration/solder-paste-events", json={
        **body, "eventId": "WMS-SPT-3"}).status_code == 403
    assert _code(api("integration").post("/api/v1/integration/solder-paste-events", json={
        **body, "eventId": "WMS-SPT-4", "kind": "MELTED"})) == (422, "VALIDATION_ERROR")


def test_a_lot_master_data_does_not_know_has_no_windows(api, app):
    ok_data(api("leader").post(f"/api/v1/lines/{LINE}/solder-paste", json={"lotNo": "SP-UNREGISTERED"}))
    fresh = ok_data(api("leader").get(f"/api/v1/lines/{LINE}/solder-paste"))["binding"]
    assert fresh["lotNo"] == "SP-UNREGISTERED" and fresh["clock"]["status"] == "NO_WINDOWS" and fresh["usable"]
    assert ok_data(_time(api, "OPENED", lot="SP-UNREGISTERED"))["usable"] is True


def test_master_data_takes_paste_windows_only_on_paste_and_within_bounds(api, app):
    def post(code, **fields):
        return api("engineer").post("/api/v1/materials/", json={"code": code, "name": code, "uom": "JAR", **fields})

    refusals = [
        (post("MAT-RES-T", category="RESISTOR", paste_min_thaw_hours=4), "paste_min_thaw_hours"),
        (post("MAT-SP-NEG", category="SOLDER_PASTE", paste_max_open_hours=0), "paste_max_open_hours"),
        (post("MAT-SP-BIG", category="SOLDER_PASTE", paste_min_thaw_hours=49), "paste_min_thaw_hours"),
        (post("MAT-SP-ORD", category="SOLDER_PASTE", paste_max_open_hours=8, paste_max_stencil_hours=12),
         "paste_max_stencil_hours"),
    ]
    for answer, field in refusals:
        assert answer.status_code == 422 and field in answer.get_json()["error"]["details"]["fields"], answer.get_json()
    good = post("MAT-SP-OK", category="Solder paste", paste_min_thaw_hours=2.5, paste_max_open_hours=12,
                paste_max_stencil_hours=4)
    assert good.status_code == 201, good.get_json()
    assert _sql(app, "SELECT paste_min_thaw_hours, paste_max_open_hours, paste_max_stencil_hours FROM material "
                     "WHERE code LIKE 'MAT-SP-%' OR code = 'MAT-RES-T'") == [(2.5, 12.0, 4.0)]
    # an edit that takes the paste category away while windows are set is refused too
    material_id = good.get_json()["id"]
    changed = api("engineer").put(f"/api/v1/materials/{material_id}", json={"category": "FLUX"})
    assert changed.status_code == 422 and "paste_min_thaw_hours" in changed.get_json()["error"]["details"]["fields"]


def test_the_demo_seed_leaves_its_jar_thawing(api, app):
    """`flask mes seed --demo` (and the demo history's command, after the history) leaves the demo line's jar
    an hour out of the refrigerator: the readiness shows the thaw window with the time left."""
    from seed.loader import start_demo_paste_thaw
    with app.app_context():
        start_demo_paste_thaw()
    fresh_consumable_statuses(api)
    state = ok_data(api("leader").get(f"/api/v1/lines/{LINE}/solder-paste"))["binding"]
    assert state["clock"]["status"] == "THAWING" and 178 <= state["clock"]["remainingMinutes"] <= 180, state
    item = _paste_item(api, prep_run(api))
    assert (item["status"], item["failCode"]) == ("FAILED", "PASTE_THAW_INCOMPLETE")
    assert item["evidence"]["timers"]["clock"]["until"] is not None


def test_the_material_import_takes_the_paste_windows_by_the_same_rules(app_ctx):
    content = ("Code,Name,Category,Paste min thaw h,Paste max open h,Paste max stencil h\n"
               "MAT-SP-IMP,Paste imported,SOLDER_PASTE,3,12,6\n"
               "MAT-RES-IMP,Resistor imported,RESISTOR,2,,\n").encode()
    dry = master_import.import_file(actor=SYSTEM, filename="materials.csv", content=content, dry_run=True)
    assert [(r.row, [(e.column, e.code) for e in r.errors]) for r in dry.refused] == [
        (3, [("Paste min thaw h", "VALIDATION_ERROR")])]
    good = content.decode().splitlines()[:2]
    report = master_import.import_file(actor=SYSTEM, filename="materials.csv", content="\n".join(good).encode())
    assert report.applied and [r.action for r in report.rows] == ["CREATE"]
    material = db.session.execute(select(Material).filter_by(code="MAT-SP-IMP")).scalar_one()
    assert (material.paste_min_thaw_hours, material.paste_max_open_hours, material.paste_max_stencil_hours) == (3, 12, 6)


def test_run_detail_names_the_paste_times(api, client):
    fresh_consumable_statuses(api)
    ok_data(_time(api, "THAW_START", 1))
    run_no = prep_run(api)   # its PRECHECK, on creation, finds the jar thawing
    console_login(client, "leader")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert "PASTE_THAW_INCOMPLETE" in page and "Out of the refrigerator" in page, page
    assert re.search(r"time left: 1(79|78) min", page)
