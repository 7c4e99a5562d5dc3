"""SPC alarms raised at TrackOut (issue 18): an armed chart's enabled run rules, judged at each TrackOut
that stores a value of its spec, insert the alarms the whole-series reference (spc_math.evaluate) finds at
the same points; a chart set to HOLD holds the unit that passed (released like any held unit); quality
acknowledges an alarm with a reason; the alarms list filters by status, line and spec."""
from __future__ import annotations

import random
import re

import pytest
from sqlalchemy import text

from support import authorized_run, console_login, ok_data, pass_step

SPEC = "squeegee_pressure_kg"   # PRINTING, step 10 of P-1001: lsl 4, usl 8, limit action WARN


def _sql(app, query: str, **params):
    from app.extensions import db
    with app.app_context():
        return db.session.execute(text(query), params).all()


def _spec_id(app) -> int:
    return _sql(app, "SELECT id FROM data_collection_spec WHERE name = :n", n=SPEC)[0][0]


def _collect(api, run_no: str, values: list[float], tag: str) -> list[str]:
    sns = []
    for i, value in enumerate(values):
        sn = f"{run_no}-{tag}{i:03d}"
        pass_step(api, run_no, sn, 10, data=[{"spec": SPEC, "value": round(value, 4)}])
        sns.append(sn)
    return sns


def armed_chart(api, app, *, chart: dict, run_no: str, seed: int = 18, count: int = 24) -> dict:
    """Chart SPEC with `chart`, collect a stable baseline and freeze it: the frozen baseline."""
    spec_id = _spec_id(app)
    assert api("engineer").put(f"/api/v1/spc/{spec_id}", json=chart).status_code == 200
    rng = random.Random(seed)
    _collect(api, run_no, [rng.gauss(6.0, 0.1) for _ in range(count)], "B")
    frozen = api("engineer").post(f"/api/v1/spc/{spec_id}/baseline", json={})
    assert frozen.status_code == 200, frozen.get_json()
    return frozen.get_json()["data"]["baseline"]


def pattern(seed: int) -> list[float]:
    """Plotted points in sigma units from the centre, with a little seeded noise: a drifting process whose
    segments complete each of Nelson's eight patterns."""
    rng = random.Random(seed)
    z = [0.3, -0.2, 0.1]
    z += [0.5 if i % 2 else -0.5 for i in range(14)]           # 4 (and 7: all within 1 sigma)
    z += [1.6 if i % 2 else -1.6 for i in range(8)]            # 8
    z += [0.1, -0.1, 0.2, 0.0, -0.2, 0.1, 0.0, -0.1, 0.2, -0.2, 0.1, 0.0, -0.1, 0.1, 0.05]  # 7
    z += [-0.6, -0.3, 0.0, 0.3, 0.6, 0.9]                     # 3 (a steady rise)
    z += [0.4, 0.6, 0.5, 1.2, 1.3, 0.7, 1.4, 1.5, 0.8]         # 2, 6
    z += [2.3, 0.5, 2.4]                                       # 5
    z += [3.6]                                                 # 1
    return [x + rng.uniform(-0.02, 0.02) for x in z]


@pytest.mark.parametrize("chart_type,size", [("IMR", 1), ("XBAR_R", 2)])
def test_trackout_alarms_are_the_reference_points(api, app, chart_type, size):
    from app.services.quality import spc_math
    spec_id = _spec_id(app)
    z = pattern(7)
    run_no = authorized_run(api, qty=(24 + len(z)) * size + 2)
    baseline = armed_chart(api, app, run_no=run_no, count=24 * size,
                           chart={"chartType": chart_type, "subgroupSize": size, "rules": list(range(1, 9))})
    values = []
    for zk in z:
        mean = baseline["center"] + zk * baseline["sigma"]
        values += [mean] if size == 1 else [mean - 0.01, mean + 0.01]
    sns = _collect(api, run_no, values, "D")

    # the reference: the armed series (the values numbered in it), whole, through spc_math
    series = _sql(app, "SELECT v.spc_seq, v.value_number, u.sn FROM data_value v JOIN track t ON t.id = v.track_id "
                       "JOIN unit u ON u.id = t.unit_id WHERE v.spec_id = :s AND v.spc_seq IS NOT NULL "
                       "ORDER BY v.spc_seq", s=spec_id)
    assert [row.sn for row in series] == sns and [row.spc_seq for row in series] == list(range(1, len(sns) + 1))
    points, _ = spc_math.plotted(chart_type, [row.value_number for row in series], size)
    reference = spc_math.evaluate(points, baseline["center"], baseline["sigma"], range(1, 9), 9)
    assert {rule for _, rule in reference} == set(range(1, 9)), "the data set fires every rule"
    expected = sorted((sns[(i + 1) * size - 1], rule) for i, rule in reference)
    raised = _sql(app, "SELECT u.sn, a.rule FROM spc_alarm a JOIN unit u ON u.id = a.unit_id WHERE a.status = 'OPEN'")
    assert sorted((sn, rule) for sn, rule in raised) == expected
    events = _sql(app, "SELECT count(*) FROM audit_event WHERE action = 'SPC_ALARM' AND entity_key = :k", k=str(spec_id))
    assert events[0][0] == len(expected)

    # the chart marks the points with an alarm; the list names them, OPEN first
    chart = ok_data(api("quality").get(f"/api/v1/spc/{spec_id}"))
    marked = {p["sns"][-1]: sorted(p["alarms"]) for p in chart["points"] if p.get("alarms")}
    assert marked == {sn: sorted(r for s, r in expected if s == sn) for sn, _ in expected}
    listed = ok_data(api("quality").get(f"/api/v1/spc/alarms?status=OPEN&specId={spec_id}&lineCode=LINE-SMT-A"))
    assert len(listed) == len(expected) and listed[0]["runNo"] == run_no and listed[0]["lineCode"] == "LINE-SMT-A"
    assert ok_data(api("quality").get("/api/v1/spc/alarms?lineCode=LINE-DIP-A")) == []


def test_a_holding_chart_holds_the_unit_and_quality_acknowledges(api, app):
    spec_id = _spec_id(app)
    run_no = authorized_run(api, qty=30)
    baseline = armed_chart(api, app, run_no=run_no, chart={"chartType": "IMR", "rules": [1], "onAlarm": "HOLD"})
    sn = f"{run_no}-H1"
    out = pass_step(api, run_no, sn, 10, data=[{"spec": SPEC, "value": round(baseline["ucl"] + 0.2, 3)}])
    assert out["result"] == "PASS" and out["unit"]["status"] == "ON_HOLD" and out["heldBy"] == "SPC_ALARM"
    assert out["unit"]["currentStepNo"] == 20 and [a["rule"] for a in out["spcAlarms"]] == [1]
    defect = _sql(app, "SELECT d.id, d.code, d.status, p.type, p.decided_by FROM defect d "
                       "JOIN disposition p ON p.defect_id = d.id JOIN unit u ON u.id = d.unit_id WHERE u.sn = :sn", sn=sn)
    assert [tuple(row[1:]) for row in defect] == [("SPC_ALARM", "DISPOSITIONED", "HOLD", "SYSTEM")]  # the chart's hold
    refused = api("operator").post("/api/v1/stations/ST-SPI-01/track-in", json={"sn": sn, "runNo": run_no})
    assert refused.get_json()["error"]["code"] == "UNIT_ON_HOLD"

    alarm = ok_data(api("quality").get(f"/api/v1/spc/alarms?specId={spec_id}"))[0]
    assert alarm["sn"] == sn and alarm["status"] == "OPEN" and alarm["unitStatus"] == "ON_HOLD"
    path = f"/api/v1/spc/alarms/{alarm['id']}/acknowledge"
    assert api("operator").post(path, json={"reason": "x"}).status_code == 403
    no_reason = api("quality").post(path, json={"reason": "  "})
    assert no_reason.status_code == 400 and no_reason.get_json()["error"]["code"] == "REASON_REQUIRED"
    unknown = api("quality").post("/api/v1/spc/alarms/999999/acknowledge", json={"reason": "x"})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "SPC_ALARM_NOT_FOUND"
    done = ok_data(api("quality").post(path, json={"reason": "Squeegee worn: replaced, board re-inspected"}))
    assert done["status"] == "ACKNOWLEDGED" and done["acknowledgedBy"] == "quality" and done["reason"].startswith("Squeegee")
    again = api("quality").post(path, json={"reason": "twice"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "SPC_ALARM_ALREADY_ACKNOWLEDGED"
    audit = _sql(app, "SELECT status, reason FROM audit_event WHERE action = 'SPC_ALARM_ACKNOWLEDGE' ORDER BY id")
    assert [tuple(row) for row in audit if row[0] == "SUCCESS"] == [("SUCCESS", done["reason"])]
    assert ok_data(api("quality").get("/api/v1/spc/alarms?status=OPEN")) == []
    bad = api("quality").get("/api/v1/spc/alarms?status=MAYBE")
    assert bad.status_code == 422

    # the hold is released like any hold: the unit goes on at its next step
    released = ok_data(api("quality").post(f"/api/v1/defects/{defect[0][0]}/release", json={"reason": "Re-inspected"}))
    assert released["unit"]["status"] == "QUEUED" and released["unit"]["currentStepNo"] == 20
    assert pass_step(api, run_no, sn, 20)["unit"]["status"] == "QUEUED"


def test_a_chart_without_baseline_or_rules_raises_nothing(api, app):
    spec_id = _spec_id(app)
    run_no = authorized_run(api, qty=30)
    armed_chart(api, app, run_no=run_no, chart={"chartType": "IMR", "rules": []})
    _collect(api, run_no, [9.9, 9.9], "N")
    assert _sql(app, "SELECT count(*) FROM spc_alarm")[0][0] == 0
    assert _sql(app, "SELECT count(*) FROM data_value WHERE spc_seq IS NOT NULL")[0][0] == 0
    assert api("engineer").put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR", "rules": [1],
                                                               "isActive": False}).status_code == 200
    _collect(api, run_no, [9.9], "M")
    assert _sql(app, "SELECT count(*) FROM spc_alarm")[0][0] == 0


def test_the_quality_worklist_counts_the_open_alarms_its_screen_lists(api, app, client):
    from api.test_worklists import home_items, screen_rows
    from support import csrf_from
    run_no = authorized_run(api, qty=30)
    baseline = armed_chart(api, app, run_no=run_no, chart={"chartType": "IMR", "rules": [1]})
    _collect(api, run_no, [baseline["ucl"] + 0.3, baseline["ucl"] + 0.4, baseline["lcl"] - 0.3], "W")
    ids = [row[0] for row in _sql(app, "SELECT id FROM spc_alarm ORDER BY id")]
    assert len(ids) == 3
    ok_data(api("quality").post(f"/api/v1/spc/alarms/{ids[0]}/acknowledge", json={"reason": "Known: new squeegee"}))


    console_login(client, "quality")
    count, link = home_items(client)["Quality"]["spc-alarms"]
    assert count == _sql(app, "SELECT count(*) FROM spc_alarm WHERE status = 'OPEN'")[0][0] == 2
    assert link == "/spc/alarms?status=OPEN" and sorted(map(int, screen_rows(client, link))) == ids[1:]
    everything = client.get("/spc/alarms").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<tr data-alarm="(\d+)"', everything)] == [ids[2], ids[1], ids[0]]  # open first

    # the screen's form acknowledges with a reason (and refuses without one, changing nothing)
    token = csrf_from(everything)
    page = client.post(f"/spc/alarms/{ids[1]}/acknowledge", data={"csrf_token": token, "reason": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "REASON_REQUIRED" in page and home_items(client)["Quality"]["spc-alarms"][0] == 2
    page = client.post(f"/spc/alarms/{ids[1]}/acknowledge", data={"csrf_token": token, "reason": "Paste re-stirred",
                                                                  "status": "OPEN"}, follow_redirects=True)
    assert [int(i) for i in re.findall(r'<tr data-alarm="(\d+)"', page.get_data(as_text=True))] == [ids[2]]
    assert _sql(app, "SELECT acknowledged_by, reason FROM spc_alarm WHERE id = :i", i=ids[1])[0] == ("quality", "Paste re-stirred")

    # the line leader reads the screen without the acknowledge form; an operator has no SPC Alarms screen
    client.get("/logout/")
    console_login(client, "leader")
    page = client.get("/spc/alarms").get_data(as_text=True)
    assert f'data-alarm="{ids[2]}"' in page and 'id="acknowledge-' not in page
    client.get("/logout/")
    console_login(client, "operator")
    assert client.get("/spc/alarms").status_code in (302, 403)


def test_run_detail_and_the_line_board_show_the_open_alarms(api, app, client):
    run_no = authorized_run(api, qty=30)
    baseline = armed_chart(api, app, run_no=run_no, chart={"chartType": "IMR", "rules": [1]})
    sn = _collect(api, run_no, [baseline["ucl"] + 0.3], "R")[0]
    alarm_id = _sql(app, "SELECT id FROM spc_alarm")[0][0]
    board = ok_data(api("manager").get("/api/v1/boards/LINE-SMT-A"))
    assert [(a["id"], a["sn"], a["rule"]) for a in board["spcAlarms"]] == [(alarm_id, sn, 1)]
    assert board["spcAlarmCount"] == 1
    assert ok_data(api("manager").get("/api/v1/boards/LINE-DIP-A"))["spcAlarms"] == []
    console_login(client, "leader")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="run-spc-alarms"' in page and f'data-alarm="{alarm_id}"' in page
    ok_data(api("quality").post(f"/api/v1/spc/alarms/{alarm_id}/acknowledge", json={"reason": "Checked: stencil wiped"}))
    assert 'id="run-spc-alarms"' not in client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert ok_data(api("manager").get("/api/v1/boards/LINE-SMT-A"))["spcAlarms"] == []


def test_the_spc_screens_speak_chinese(api, app, client):
    """The SPC list, chart and alarms screens with a Chinese browser: their words and the rules in Chinese."""
    from api.test_i18n_console import ZH
    spec_id = _spec_id(app)
    run_no = authorized_run(api, qty=30)
    baseline = armed_chart(api, app, run_no=run_no, chart={"chartType": "IMR", "rules": [1], "onAlarm": "HOLD"})
    _collect(api, run_no, [baseline["ucl"] + 0.3], "Z")
    client.environ_base.update({"HTTP_ACCEPT_LANGUAGE": ZH["Accept-Language"]})
    console_login(client, "quality")
    pages = {path: client.get(path, headers=ZH).get_data(as_text=True)
             for path in ("/spc/", f"/spc/{spec_id}", "/spc/alarms")}
    assert "SPC 控制图" in pages["/spc/"] and "暂停电路板" in pages["/spc/"] and "Every numeric" not in pages["/spc/"]
    assert "冻结控制限" in pages[f"/spc/{spec_id}"] and "1 个点超出 3σ" in pages[f"/spc/{spec_id}"]
    assert "No baseline" not in pages[f"/spc/{spec_id}"] and "Moving range" not in pages[f"/spc/{spec_id}"]
    alarms = pages["/spc/alarms"]
    assert "SPC 报警" in alarms and "1 个点超出 3σ" in alarms and "确认" in alarms and "已暂停" in alarms
    assert "One point beyond" not in alarms and "Acknowledge" not in alarms
