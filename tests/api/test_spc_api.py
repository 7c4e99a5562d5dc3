"""SPC over the API (issue 18): an engineer charts a numeric spec, freezes its baseline from a period of
collected values, and the chart of later values shows the frozen limits, capability and the run rules
that fired — every figure compared with spc_math on the values read back with plain SQL."""
from __future__ import annotations

import statistics

import pytest
from sqlalchemy import text

from support import authorized_run, pass_step

SPEC = "squeegee_pressure_kg"   # PRINTING, step 10 of P-1001: lsl 4, usl 8, limit action WARN
STABLE = [6.0, 6.2, 5.9, 6.1, 6.0, 5.8, 6.1, 6.3, 6.0, 5.9, 6.1, 6.0, 6.2, 5.9, 6.0, 6.1, 5.8, 6.0, 6.2, 6.1,
          5.9, 6.0, 6.1, 6.0]   # 24 values, the baseline
SHIFTED = [7.6, 7.7]            # far above the baseline's 3-sigma limit: rule 1 at both


def _spec_id(app, name: str) -> int:
    from app.extensions import db
    with app.app_context():
        return db.session.execute(text("SELECT id FROM data_collection_spec WHERE name = :n"), {"n": name}).scalar_one()


def _collect(api, run_no: str, values: list[float], tag: str) -> list[str]:
    sns = []
    for i, value in enumerate(values):
        sn = f"{run_no}-{tag}{i:02d}"
        pass_step(api, run_no, sn, 10, data=[{"spec": SPEC, "value": value}])
        sns.append(sn)
    return sns


def _values_by_sql(app, spec_id: int) -> list[float]:
    from app.extensions import db
    with app.app_context():
        return [row[0] for row in db.session.execute(text(
            "SELECT value_number FROM data_value WHERE spec_id = :s AND value_number IS NOT NULL "
            "ORDER BY collected_at, id"), {"s": spec_id})]


def _audit(app, action: str, spec_id: int) -> int:
    from app.extensions import db
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM audit_event WHERE action = :a AND entity_key = :k "
                                       "AND status = 'SUCCESS'"), {"a": action, "k": str(spec_id)}).scalar_one()


def test_chart_baseline_and_rules(api, app):
    from app.services.quality import spc_math
    spec_id = _spec_id(app, SPEC)
    engineer = api("engineer")
    answer = engineer.put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR", "rules": [1, 2, 5, 6], "sameSideRun": 8})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["data"] | {} == {"specId": spec_id, "chartType": "IMR", "subgroupSize": 1,
                                              "rules": [1, 2, 5, 6], "sameSideRun": 8, "onAlarm": "ALARM",
                                              "isActive": True, "baseline": None}
    assert _audit(app, "SPC_CHART_CONFIG", spec_id) == 1

    run_no = authorized_run(api, qty=30)
    _collect(api, run_no, STABLE[:10], "A")
    short = engineer.post(f"/api/v1/spc/{spec_id}/baseline", json={})
    assert short.status_code == 400 and short.get_json()["error"]["code"] == "SPC_BASELINE_TOO_SHORT"
    assert _audit(app, "SPC_BASELINE", spec_id) == 0
    _collect(api, run_no, STABLE[10:], "B")

    baseline_values = _values_by_sql(app, spec_id)
    assert len(baseline_values) == len(STABLE) + 1  # the FAI trial board's value first
    trial = api("quality").get(f"/api/v1/spc/{spec_id}").get_json()["data"]
    expected = spc_math.limits("IMR", baseline_values)
    assert trial["limits"]["frozen"] is False and trial["baseline"] is None
    assert trial["limits"]["ucl"] == pytest.approx(expected.ucl) and trial["limits"]["lcl"] == pytest.approx(expected.lcl)

    frozen = engineer.post(f"/api/v1/spc/{spec_id}/baseline", json={})
    assert frozen.status_code == 200, frozen.get_json()
    baseline = frozen.get_json()["data"]["baseline"]
    assert baseline["center"] == pytest.approx(statistics.fmean(baseline_values))
    assert baseline["ucl"] == pytest.approx(expected.ucl) and baseline["points"] == len(baseline_values)
    assert baseline["dispersionUcl"] == pytest.approx(3.267 * statistics.fmean(
        abs(b - a) for a, b in zip(baseline_values, baseline_values[1:])))
    assert baseline["by"] == "engineer" and _audit(app, "SPC_BASELINE", spec_id) == 1

    shifted_sns = _collect(api, run_no, SHIFTED, "C")
    data = api("manager").get(f"/api/v1/spc/{spec_id}").get_json()["data"]
    assert data["limits"]["frozen"] is True and data["limits"]["ucl"] == pytest.approx(expected.ucl)  # not moved
    points = data["points"]
    assert [p["value"] for p in points] == pytest.approx(_values_by_sql(app, spec_id))
    hits = {p["sns"][0]: p["rules"] for p in points if p["rules"]}
    assert hits[shifted_sns[0]][0] == 1 and 1 in hits[shifted_sns[1]]
    assert all(sn in shifted_sns for sn in hits), hits   # nothing fires inside the stable baseline
    assert points[0]["dispersion"] is None and points[1]["dispersion"] == pytest.approx(abs(points[1]["value"] - points[0]["value"]))

    everything = _values_by_sql(app, spec_id)
    sigma_within = baseline["sigmaWithin"]
    mean, overall = statistics.fmean(everything), statistics.stdev(everything)
    cap = data["capability"]
    assert cap["n"] == len(everything) and cap["mean"] == pytest.approx(mean)
    assert cap["cp"] == pytest.approx((8 - 4) / (6 * sigma_within))
    assert cap["cpk"] == pytest.approx(min(8 - mean, mean - 4) / (3 * sigma_within))
    assert cap["pp"] == pytest.approx((8 - 4) / (6 * overall))
    assert cap["ppk"] == pytest.approx(min(8 - mean, mean - 4) / (3 * overall))

    # a new chart type drops the frozen limits: they belonged to another chart
    regrouped = engineer.put(f"/api/v1/spc/{spec_id}", json={"chartType": "XBAR_R", "subgroupSize": 4, "rules": [1]})
    assert regrouped.status_code == 200 and regrouped.get_json()["data"]["baseline"] is None
    xbar = api("engineer").get(f"/api/v1/spc/{spec_id}").get_json()["data"]
    assert len(xbar["points"]) == len(everything) // 4 and len(xbar["points"][0]["sns"]) == 4
    assert xbar["points"][0]["value"] == pytest.approx(statistics.fmean(everything[:4]))
    assert xbar["points"][0]["dispersion"] == pytest.approx(max(everything[:4]) - min(everything[:4]))


@pytest.mark.parametrize("body,fields", [
    ({"chartType": "PIE"}, {"chartType"}),
    ({"chartType": "XBAR_R", "subgroupSize": 30}, {"subgroupSize"}),
    ({"chartType": "XBAR_S"}, {"subgroupSize"}),
    ({"chartType": "IMR", "subgroupSize": 5}, {"subgroupSize"}),
    ({"chartType": "IMR", "rules": [1, 9]}, {"rules"}),
    ({"chartType": "IMR", "rules": "1,2"}, {"rules"}),
    ({"chartType": "IMR", "sameSideRun": 7, "onAlarm": "STOP"}, {"sameSideRun", "onAlarm"}),
])
def test_a_wrong_configuration_names_its_fields_and_saves_nothing(api, app, body, fields):
    spec_id = _spec_id(app, SPEC)
    answer = api("engineer").put(f"/api/v1/spc/{spec_id}", json=body)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and set(error["details"]["fields"]) == fields
    assert _audit(app, "SPC_CHART_CONFIG", spec_id) == 0


def test_refusals(api, app):
    spec_id, text_spec = _spec_id(app, SPEC), _spec_id(app, "firmware_version")
    assert api("operator").put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR"}).status_code == 403
    assert api("operator").get(f"/api/v1/spc/{spec_id}").status_code == 403
    assert api("quality").post(f"/api/v1/spc/{spec_id}/baseline", json={}).status_code == 403
    not_numeric = api("engineer").put(f"/api/v1/spc/{text_spec}", json={"chartType": "IMR"})
    assert not_numeric.status_code == 400 and not_numeric.get_json()["error"]["code"] == "SPC_SPEC_NOT_NUMERIC"
    missing = api("engineer").get("/api/v1/spc/999999")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "SPC_SPEC_NOT_FOUND"
    unconfigured = api("engineer").post(f"/api/v1/spc/{spec_id}/baseline", json={})
    assert unconfigured.status_code == 409 and unconfigured.get_json()["error"]["code"] == "SPC_CHART_NOT_CONFIGURED"
    bad_date = api("engineer").get(f"/api/v1/spc/{spec_id}?from=yesterday")
    assert bad_date.status_code == 422
    empty = api("engineer").get(f"/api/v1/spc/{spec_id}").get_json()["data"]
    assert empty["points"] == [] and empty["limits"] is None and empty["capability"] is None


def test_the_spc_screens_follow_data_spec_read(app):
    from support import console_login
    spec_id = _spec_id(app, SPEC)
    for username, allowed in (("quality", True), ("manager", True), ("operator", False), ("material", False)):
        browser = app.test_client()
        assert console_login(browser, username).status_code == 302
        for path in ("/spc/", f"/spc/{spec_id}"):
            page = browser.get(path)
            if allowed:
                assert page.status_code == 200 and SPEC in page.get_data(as_text=True), (username, path)
            else:
                assert page.status_code in (302, 403) and SPEC not in page.get_data(as_text=True), (username, path)


def test_a_baseline_without_spread_is_refused(api, app):
    spec_id = _spec_id(app, SPEC)
    assert api("engineer").put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR", "rules": [1]}).status_code == 200
    run_no = authorized_run(api, qty=22)
    _collect(api, run_no, [6.0] * 21, "K")   # the trial board's 6.0 too: all the same
    answer = api("engineer").post(f"/api/v1/spc/{spec_id}/baseline", json={})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "SPC_BASELINE_NO_SPREAD"
    assert _audit(app, "SPC_BASELINE", spec_id) == 0
    chart = api("engineer").get(f"/api/v1/spc/{spec_id}").get_json()["data"]
    assert chart["baseline"] is None and chart["capability"]["cp"] is None  # no division by a zero sigma


def test_the_chart_shows_only_the_lines_in_the_readers_scope(api, app):
    """A reader bound to lines sees the values of runs on those lines only (the SNs are production data)."""
    from app.extensions import db
    from app.services.platform.actor import Actor, DataScope
    from app.services.quality import spc
    spec_id = _spec_id(app, SPEC)
    run_no = authorized_run(api, qty=3)
    _collect(api, run_no, [6.0, 6.1], "L")   # on LINE-SMT-A
    with app.app_context():
        lines = dict(db.session.execute(text("SELECT code, id FROM line")).all())
        def reader(*codes):
            return Actor(user_id=None, username="reader", permissions=frozenset({"data_spec:read"}),
                         scope=DataScope("LINES", frozenset(lines[c] for c in codes)))
        assert len(spc.chart(actor=reader("LINE-SMT-A"), spec_id=spec_id)["points"]) == 3  # + the FAI board
        assert spc.chart(actor=reader("LINE-DIP-A"), spec_id=spec_id)["points"] == []


def test_the_chart_exports_as_csv_and_xlsx(api, app):
    import csv
    import io

    from openpyxl import load_workbook
    from support import console_login
    spec_id = _spec_id(app, SPEC)
    run_no = authorized_run(api, qty=4)
    sns = _collect(api, run_no, [6.0, 6.3, 5.9], "X")
    data = api("quality").get(f"/api/v1/spc/{spec_id}").get_json()["data"]
    answer = api("quality").get(f"/api/v1/spc/{spec_id}?format=csv")
    assert answer.status_code == 200 and "text/csv" in answer.headers["Content-Type"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["point", "time (UTC)", "value"] and len(rows) == len(data["points"]) + 1
    assert [float(r[2]) for r in rows[1:]] == pytest.approx([p["value"] for p in data["points"]])
    assert rows[-1][4] == sns[-1]
    workbook = load_workbook(io.BytesIO(api("quality").get(f"/api/v1/spc/{spec_id}?format=xlsx").data))
    assert workbook.sheetnames == ["Points", "Limits and capability"]
    assert workbook["Points"].max_row == len(data["points"]) + 1
    assert api("engineer").get(f"/api/v1/spc/{spec_id}?format=csv").status_code == 403  # trace:export
    assert api("quality").get(f"/api/v1/spc/{spec_id}?format=pdf").status_code == 422
    browser = app.test_client()
    assert console_login(browser, "quality").status_code == 302
    page = browser.get(f"/spc/{spec_id}").get_data(as_text=True)
    assert f'href="/spc/{spec_id}/xlsx"' in page
    assert browser.get(f"/spc/{spec_id}/csv").get_data(as_text=True).count(run_no) == len(data["points"])
