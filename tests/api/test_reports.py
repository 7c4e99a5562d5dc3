"""Production and quality reports (`GET /api/v1/reports/production|quality`, issue 14): every figure
computed again with plain SQL from the tracks, units, defects and decisions of a generated history
(two days of demo history played through the API, plus boards in work now: at steps, in a station,
failed, on hold) and compared with the API's answer and with its XLSX export.

The plain SQL never reads the columns the reports keep for speed (`unit.ended_at`, `track.first_out`):
a unit's output time is its last TrackOut, a first pass the first TrackOut of the unit at the step by
time — so the test checks those columns too."""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from support import (
    BACKEND, INTEGRATION_KEY, ApiAs, authorized_run, build_unit, jwt_token, ok_data,
)

HISTORY_DAYS = 2


@pytest.fixture(scope="module")
def reported(app, restorer):
    """The suite's database with demo history and boards in work; `api(user)` calls the in-process API."""
    from app.extensions import db
    from seed.history import history_start, seed_history
    from seed.loader import seed_demo

    restorer()
    with app.app_context():
        seed_demo()  # the demo's OQC sampling rules: the history's closeouts inspect
        seed_history(days=HISTORY_DAYS, seed=7)
        db.session.remove()
    client = app.test_client()

    def api(user: str) -> ApiAs:
        token = INTEGRATION_KEY if user == "integration" else jwt_token(client, user, BACKEND)
        return ApiAs(client, {"Authorization": f"Bearer {token}"})

    run_no = authorized_run(api, qty=4)
    build_unit(api, run_no, f"{run_no}-W1", until=30)                      # QUEUED at 40
    ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-W2", "runNo": run_no}))
    for sn, hold in ((f"{run_no}-W3", True), (f"{run_no}-W4", False)):     # ON_HOLD, OUT_FAILED at 10
        ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": sn, "runNo": run_no}))
        out = ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-out", json={
            "sn": sn, "runNo": run_no, "result": "FAIL", "defect": {"code": "SOLDER_BRIDGE"}}))
        if hold:
            ok_data(api("quality").post(f"/api/v1/defects/{out['defects'][0]['id']}/disposition",
                                        json={"type": "HOLD", "reason": "Suspect paste lot: hold for analysis"}))
    yield {"api": api, "start": history_start(HISTORY_DAYS).date().isoformat(), "run": run_no}
    restorer()


def sql(app, statement: str, **params) -> list[tuple]:
    from app.extensions import db
    with app.app_context():
        with db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement), params)]


def sql_write(app, *statements: str) -> None:
    from app.extensions import db
    with app.app_context():
        with db.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))


def moment(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def in_period(value, period: dict) -> bool:
    return value is not None and moment(period["from"]) <= moment(value) < moment(period["to"])


def bucket_label(value, bucket: str, zone: ZoneInfo) -> str:
    local = moment(value).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:00") if bucket == "hour" else local.date().isoformat()


RUNS = ("JOIN run r ON r.id = u.run_id JOIN line l ON l.id = r.line_id "
        "JOIN work_order w ON w.id = r.work_order_id JOIN product p ON p.id = w.product_id")


def ended_by_sql(app) -> list[tuple]:
    """(unit id, run no, line, product, DONE|SCRAPPED, when): a DONE unit ended at its last TrackOut, a
    scrapped one at the decision that scrapped it (disposition SCRAP, or MRB SCRAP of its run)."""
    done = sql(app, f"SELECT u.id, r.run_no, l.code, p.code, 'DONE', (SELECT max(t.out_at) FROM track t "
                    f"WHERE t.unit_id = u.id) FROM unit u {RUNS} WHERE u.status = 'DONE'")
    scrapped = sql(app, f"SELECT u.id, r.run_no, l.code, p.code, 'SCRAPPED', d.decided_at FROM disposition d "
                        f"JOIN defect f ON f.id = d.defect_id JOIN unit u ON u.id = f.unit_id {RUNS} "
                        f"WHERE d.type = 'SCRAP' AND u.status = 'SCRAPPED'")
    scrapped += sql(app, f"SELECT u.id, r.run_no, l.code, p.code, 'SCRAPPED', m.decided_at FROM mrb_decision m "
                         f"JOIN unit u ON u.run_id = m.run_id {RUNS} WHERE m.decision = 'SCRAP' AND u.status = 'SCRAPPED'")
    latest: dict[int, tuple] = {}
    for row in scrapped:
        if row[0] not in latest or moment(row[5]) > moment(latest[row[0]][5]):
            latest[row[0]] = row
    return done + list(latest.values())


def plan_by_sql(app, period: dict, buckets: list[tuple[datetime, datetime]]) -> list[float]:
    targets = dict(sql(app, "SELECT id, target_per_hour FROM line WHERE is_active AND target_per_hour IS NOT NULL"))
    runs = sql(app, "SELECT r.line_id, r.status, r.started_at, r.ended_at, (SELECT max(t.out_at) FROM track t "
                    "WHERE t.run_id = r.id) FROM run r WHERE r.started_at IS NOT NULL ORDER BY r.started_at")
    now = datetime.now(timezone.utc)
    spans: dict[int, list[list[datetime]]] = defaultdict(list)
    for line, status, started, ended, last_out in runs:
        if line not in targets:
            continue
        end = moment(ended) if ended else now if status in ("AUTHORIZED", "IN_PROGRESS") else moment(last_out or started)
        start, end = max(moment(started), moment(period["from"])), min(end, moment(period["to"]), now)
        if end <= start:
            continue
        if spans[line] and start <= spans[line][-1][1]:
            spans[line][-1][1] = max(spans[line][-1][1], end)
        else:
            spans[line].append([start, end])
    return [round(sum(targets[line] * sum(max((min(b, end) - max(a, start)).total_seconds(), 0) for a, b in s) / 3600
                      for line, s in spans.items()), 1) for start, end in buckets]


def report(api, kind: str, **query) -> dict:
    query = "&".join(f"{k}={v}" for k, v in query.items())
    return ok_data(api("manager").get(f"/api/v1/reports/{kind}?{query}"))


# ---------------------------------------------------------------------------------------------
# Production report
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bucket,zone", [("hour", "UTC"), ("day", "Asia/Shanghai"), ("hour", "Asia/Kolkata")])
def test_production_report_equals_plain_sql(app, reported, bucket, zone):
    app.config["MES_TIMEZONE"] = zone
    try:
        data = report(reported["api"], "production", **{"from": reported["start"], "bucket": bucket})
    finally:
        app.config["MES_TIMEZONE"] = "UTC"
    period = data["period"]
    assert period["timeZone"] == zone and moment(period["from"]) == datetime.fromisoformat(
        reported["start"]).replace(tzinfo=ZoneInfo(zone))

    # output and scrap per bucket, line and product
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    per_run: dict[str, int] = defaultdict(int)
    ended_runs = set()
    for _, run_no, line, product, status, when in ended_by_sql(app):
        if in_period(when, period):
            expected[(bucket_label(when, bucket, ZoneInfo(zone)), line, product)][status == "SCRAPPED"] += 1
            ended_runs.add(run_no)
            if status == "DONE":
                per_run[run_no] += 1
    got = {(r["bucket"], r["lineCode"], r["productCode"]): [r["output"], r["scrapped"]] for r in data["output"]["rows"]}
    assert got == dict(expected)
    assert sum(v[0] for v in got.values()) > 150
    assert data["output"]["total"] == sum(v[0] for v in expected.values())
    assert data["output"]["scrapped"] == sum(v[1] for v in expected.values()) > 0
    per_bucket: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (label, _, _), (output, scrapped) in expected.items():
        per_bucket[label][0] += output
        per_bucket[label][1] += scrapped
    assert {b["bucket"]: [b["output"], b["scrapped"]] for b in data["output"]["byBucket"]
            if b["output"] or b["scrapped"]} == dict(per_bucket)

    # the plan: each line's target per hour over the time its runs were in production (first TrackIn to
    # the run's end, or its last TrackOut while it waits on hold, or now); the bucket holding "now" aside
    buckets = data["output"]["byBucket"]
    ends = [moment(b["start"]) for b in buckets[1:]] + [moment(period["to"])]
    expected_plan = plan_by_sql(app, period, [(moment(b["start"]), end) for b, end in zip(buckets, ends)])
    assert [b["plan"] for b in buckets[:-1]] == expected_plan[:-1]
    assert any(expected_plan)
    if bucket == "hour":  # hours with production and hours without (a day bucket may hold production every day)
        assert 0 in expected_plan

    # plan against actual: runs in production during the period, and runs with output or scrap in it
    runs = sql(app, "SELECT r.run_no, r.plan_qty, r.status, r.started_at, r.ended_at FROM run r")
    active = {run_no for run_no, _, _, started, ended in runs
              if started is not None and moment(started) < moment(period["to"])
              and (ended is None or moment(ended) >= moment(period["from"]))}
    assert {r["runNo"] for r in data["plan"]["runs"]} == active | ended_runs
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for run_no, status, n in sql(app, "SELECT r.run_no, u.status, count(*) FROM unit u JOIN run r ON r.id = u.run_id "
                                      "GROUP BY r.run_no, u.status"):
        counts[run_no][status] = n
    plan_qty = {run_no: qty for run_no, qty, *_ in runs}
    for row in data["plan"]["runs"]:
        c = counts[row["runNo"]]
        assert (row["planQty"], row["done"], row["scrapped"], row["wip"], row["outputInPeriod"]) == (
            plan_qty[row["runNo"]], c.get("DONE", 0), c.get("SCRAPPED", 0),
            sum(n for s, n in c.items() if s not in ("DONE", "SCRAPPED")), per_run.get(row["runNo"], 0)), row
    wo_counts: dict[str, dict[str, int]] = defaultdict(dict)
    for wo_no, status, n in sql(app, "SELECT w.wo_no, u.status, count(*) FROM unit u JOIN work_order w "
                                     "ON w.id = u.work_order_id GROUP BY w.wo_no, u.status"):
        wo_counts[wo_no][status] = n
    assert data["plan"]["workOrders"]
    for wo in data["plan"]["workOrders"]:
        c = wo_counts[wo["woNo"]]
        assert (wo["done"], wo["scrapped"]) == (c.get("DONE", 0), c.get("SCRAPPED", 0))

    # WIP now, by line, step and status
    wip: dict[tuple, dict[str, int]] = defaultdict(dict)
    for line, step, status, n in sql(app, f"SELECT l.code, u.current_step_no, u.status, count(*) FROM unit u {RUNS} "
                                          "WHERE u.status NOT IN ('DONE', 'SCRAPPED') "
                                          "GROUP BY l.code, u.current_step_no, u.status"):
        wip[(line, step)][status] = n
    got_wip = {(r["lineCode"], r["stepNo"]): {s: n for s, n in (("QUEUED", r["queued"]), ("IN_STATION", r["inStation"]),
                                                               ("OUT_FAILED", r["outFailed"]), ("ON_HOLD", r["onHold"]))
                                             if n}
               for r in data["wip"]["byStep"]}
    assert got_wip == dict(wip)
    assert {"QUEUED", "IN_STATION", "OUT_FAILED", "ON_HOLD"} <= {s for c in wip.values() for s in c}
    assert data["wip"]["total"] == sum(n for c in wip.values() for n in c.values())


def test_production_report_filters_by_line_and_product(app, reported):
    api = reported["api"]
    whole = report(api, "production", **{"from": reported["start"], "bucket": "day"})
    smt = report(api, "production", **{"from": reported["start"], "bucket": "day", "lineCode": "LINE-SMT-A"})
    dip = report(api, "production", **{"from": reported["start"], "bucket": "day", "productCode": "P-2001"})
    assert smt["output"]["total"] + dip["output"]["total"] == whole["output"]["total"]
    assert {r["lineCode"] for r in smt["output"]["rows"]} == {"LINE-SMT-A"}
    assert {r["productCode"] for r in dip["plan"]["runs"]} == {"P-2001"}
    assert smt["output"]["plan"] > 0 and dip["output"]["plan"] > 0  # the runs of that line, of that product
    assert smt["output"]["plan"] + dip["output"]["plan"] == pytest.approx(whole["output"]["plan"], abs=0.2)
    assert {r["lineCode"] for r in smt["wip"]["byStep"]} == {"LINE-SMT-A"}


# ---------------------------------------------------------------------------------------------
# Quality report
# ---------------------------------------------------------------------------------------------

def test_quality_report_equals_plain_sql(app, reported):
    data = report(reported["api"], "quality", **{"from": reported["start"], "bucket": "day"})
    period = data["period"]

    # first-pass yield: each unit's first TrackOut at a step (by time) in the period, PASS or not
    firsts = sql(app, "SELECT l.code, t.step_no, t.result, t.out_at FROM (SELECT t.*, row_number() OVER "
                      "(PARTITION BY t.unit_id, t.step_no ORDER BY t.out_at, t.id) AS n FROM track t "
                      "WHERE t.out_at IS NOT NULL) t JOIN run r ON r.id = t.run_id JOIN line l ON l.id = r.line_id "
                      "WHERE t.n = 1")
    fpy: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    trend: dict[tuple, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for line, step, result, out_at in firsts:
        if in_period(out_at, period):
            fpy[(line, step)][0] += 1
            fpy[(line, step)][1] += result == "PASS"
            cell = trend[(bucket_label(out_at, "day", ZoneInfo("UTC")), line)][step]
            cell[0] += 1
            cell[1] += result == "PASS"
    got = {(r["lineCode"], r["stepNo"]): [r["firstTrackOuts"], r["firstPass"]] for r in data["fpy"]}
    assert got == dict(fpy)
    assert any(first != passed for first, passed in fpy.values())  # the history has first-pass failures
    repeats = sql(app, "SELECT count(*) FROM track t WHERE t.out_at IS NOT NULL AND EXISTS (SELECT 1 FROM track e "
                       "WHERE e.unit_id = t.unit_id AND e.step_no = t.step_no AND e.out_at < t.out_at)")[0][0]
    assert repeats > 0  # and repeat visits after rework, which do not count
    for row in data["fpy"]:
        assert row["fpy"] == round(row["firstPass"] / row["firstTrackOuts"], 4)
    rty: dict[str, float] = defaultdict(lambda: 1.0)
    for (line, _), (first, passed) in fpy.items():
        rty[line] *= passed / first
    assert {r["lineCode"]: r["rty"] for r in data["rty"]} == {k: round(v, 4) for k, v in rty.items()}
    # the trend: the rolled throughput yield of each line per day
    expected_trend = {}
    for (day, line), steps in trend.items():
        value = 1.0
        for first, passed in steps.values():
            value *= passed / first
        expected_trend[(day, line)] = (round(value, 4), sum(first for first, _ in steps.values()))
    assert {(r["bucket"], r["lineCode"]): (r["rty"], r["firstTrackOuts"]) for r in data["fpyTrend"]} == expected_trend

    # defect Pareto by code, with the cumulative share
    defects: dict[str, int] = defaultdict(int)
    by_step: dict[tuple, int] = defaultdict(int)
    by_line: dict[str, int] = defaultdict(int)
    for code, line, step, qty, created in sql(app, "SELECT d.code, l.code, d.step_no, d.qty, d.created_at FROM defect d "
                                                   f"JOIN unit u ON u.id = d.unit_id {RUNS}"):
        if in_period(created, period):
            defects[code] += qty
            by_step[(line, step)] += qty
            by_line[line] += qty
    pareto = data["pareto"]["byCode"]
    assert [(p["code"], p["qty"]) for p in pareto] == sorted(defects.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(defects.values())
    running = 0
    for p in pareto:
        running += p["qty"]
        assert p["cumulativeShare"] == round(running / total, 4) and p["share"] == round(p["qty"] / total, 4)
    assert pareto[-1]["cumulativeShare"] == 1.0
    assert {(p["lineCode"], p["stepNo"]): p["qty"] for p in data["pareto"]["byStep"]} == dict(by_step)
    assert [(p["lineCode"], p["qty"]) for p in data["pareto"]["byLine"]] == sorted(by_line.items(),
                                                                                  key=lambda kv: (-kv[1], kv[0]))

    # scrap and rework: units scrapped in the period; rework decisions (one per unit and decision) in it
    scrapped = sum(1 for *_, status, when in ended_by_sql(app) if status == "SCRAPPED" and in_period(when, period))
    reworks = {(unit, moment(at)) for unit, at in sql(app, "SELECT f.unit_id, d.decided_at FROM disposition d JOIN defect f "
                                                          "ON f.id = d.defect_id WHERE d.type = 'REWORK'")
               if in_period(at, period)}
    assert (data["scrapRework"]["scrapped"], data["scrapRework"]["reworked"]) == (scrapped, len(reworks))
    assert scrapped > 0 and reworks

    # open holds now: units and runs ON_HOLD
    assert {u["sn"] for u in data["holds"]["units"]} == {sn for (sn,) in sql(app, "SELECT sn FROM unit WHERE status = 'ON_HOLD'")}
    assert {r["runNo"] for r in data["holds"]["runs"]} == {r for (r,) in sql(app, "SELECT run_no FROM run WHERE status = 'ON_HOLD'")}
    assert data["holds"]["units"] and data["holds"]["runs"]
    assert all(h["ageHours"] is not None and h["ageHours"] >= 0 for h in data["holds"]["units"] + data["holds"]["runs"])

    # OQC results and MRB decisions taken in the period
    oqc = [s for s, at in sql(app, "SELECT status, decided_at FROM inspection WHERE type = 'OQC' AND decided_at IS NOT NULL")
           if in_period(at, period)]
    assert (data["oqc"]["inspections"], data["oqc"]["passed"], data["oqc"]["failed"]) == (
        len(oqc), oqc.count("PASS"), oqc.count("FAIL"))
    assert data["oqc"]["failed"] >= 1
    mrb = [d for d, at in sql(app, "SELECT decision, decided_at FROM mrb_decision") if in_period(at, period)]
    assert data["mrb"]["byDecision"] == {d: mrb.count(d) for d in set(mrb)} and mrb


def test_first_pass_yield_from_the_summary_of_closed_hours_equals_the_tracks(app, reported):
    """Closed whole hours come from report_fpy_slot (filled by the first report that needs them),
    partial hours and the current one from the tracks: the same figures either way, and after the
    summary is rebuilt or forgotten."""
    start = moment(reported["start"]) + timedelta(days=1, hours=5, minutes=17)  # not on an hour
    query = {"from": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "bucket": "hour"}
    sql_write(app, "DELETE FROM report_fpy_slot", "DELETE FROM report_summary_hour")
    firsts = sql(app, "SELECT l.code, t.step_no, t.result, t.out_at FROM (SELECT t.*, row_number() OVER "
                      "(PARTITION BY t.unit_id, t.step_no ORDER BY t.out_at, t.id) AS n FROM track t "
                      "WHERE t.out_at IS NOT NULL) t JOIN run r ON r.id = t.run_id JOIN line l ON l.id = r.line_id "
                      "WHERE t.n = 1")

    def expected(period: dict) -> tuple[dict, dict]:
        by_step: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        by_hour: dict[tuple, int] = defaultdict(int)
        for line, step, result, out_at in firsts:
            if in_period(out_at, period):
                by_step[(line, step)][0] += 1
                by_step[(line, step)][1] += result == "PASS"
                by_hour[(bucket_label(out_at, "hour", ZoneInfo("UTC")), line)] += 1
        return dict(by_step), dict(by_hour)

    def figures(data: dict) -> tuple[dict, dict]:
        return ({(r["lineCode"], r["stepNo"]): [r["firstTrackOuts"], r["firstPass"]] for r in data["fpy"]},
                {(r["bucket"], r["lineCode"]): r["firstTrackOuts"] for r in data["fpyTrend"]})

    def closed() -> int:  # the first hour not over by 5 minutes
        return int(datetime.now(timezone.utc).timestamp() - 300) // 3600

    before = closed()
    data = report(reported["api"], "quality", **query)
    assert figures(data) == expected(data["period"])
    assert data["fpy"] and any(r["firstPass"] < r["firstTrackOuts"] for r in data["fpy"])
    first_hour = -(-int(start.timestamp()) // 3600)
    hours = sql(app, "SELECT count(*), min(hour), max(hour) FROM report_summary_hour")[0]
    closed_hour = hours[2] + 1
    assert closed_hour in (before, closed())
    assert hours == (closed_hour - first_hour, first_hour, closed_hour - 1)  # every closed whole hour, once
    summarised = sql(app, "SELECT sum(first_outs) FROM report_fpy_slot")[0][0]
    in_hours = {"from": datetime.fromtimestamp(first_hour * 3600, timezone.utc).isoformat(),
                "to": datetime.fromtimestamp(closed_hour * 3600, timezone.utc).isoformat()}
    assert summarised == sum(1 for *_, out_at in firsts if in_period(out_at, in_hours)) > 0

    # a second report reads the summary (nothing more to fill) and answers the same
    assert figures(report(reported["api"], "quality", **query)) == figures(data)
    assert sql(app, "SELECT count(*) FROM report_summary_hour")[0][0] == hours[0]

    # rebuilt by the CLI: the same rows; forgotten (what the history generator does): refilled alike
    result = app.test_cli_runner().invoke(args=["mes", "report-summary", "--rebuild"])
    assert result.exit_code == 0 and "hour(s) summarised" in result.output, result.output
    assert sql(app, "SELECT sum(first_outs) FROM report_fpy_slot WHERE slot >= :a AND slot < :b",
               a=first_hour * 4, b=closed_hour * 4)[0][0] == summarised
    from app.services.reporting import summary
    with app.app_context():
        summary.forget(moment(reported["start"]), datetime.now(timezone.utc))
    assert sql(app, "SELECT count(*) FROM report_summary_hour WHERE hour >= :a", a=first_hour)[0][0] == 0
    assert figures(report(reported["api"], "quality", **query)) == figures(data)


# ---------------------------------------------------------------------------------------------
# Exports, permissions, bad input
# ---------------------------------------------------------------------------------------------

def sheet_rows(content: bytes, title: str) -> list[list]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    rows = [list(r) for r in book[title].iter_rows(values_only=True)]
    return rows


def test_xlsx_exports_hold_the_reports_figures(app, reported):
    api = reported["api"]
    query = f"from={reported['start']}&bucket=day"
    production = ok_data(api("manager").get(f"/api/v1/reports/production?{query}"))
    answer = api("manager").get(f"/api/v1/reports/production?{query}&format=xlsx")
    assert answer.status_code == 200 and "spreadsheetml" in answer.content_type
    content = answer.get_data()
    output = sheet_rows(content, "Output")
    assert output[0] == ["bucket", "bucket start", "line", "product", "output", "scrapped"]
    assert output[1:] == [[r["bucket"], r["start"], r["lineCode"], r["productCode"], r["output"], r["scrapped"]]
                          for r in production["output"]["rows"]]
    runs = sheet_rows(content, "Runs")
    assert [(r[0], r[6], r[7], r[8], r[9]) for r in runs[1:]] == [
        (r["runNo"], r["done"], r["scrapped"], r["wip"], r["outputInPeriod"]) for r in production["plan"]["runs"]]
    assert [r[-1] for r in sheet_rows(content, "WIP")[1:]] == [r["total"] for r in production["wip"]["byStep"]]

    quality = ok_data(api("manager").get(f"/api/v1/reports/quality?{query}"))
    content = api("manager").get(f"/api/v1/reports/quality?{query}&format=xlsx").get_data()
    fpy = sheet_rows(content, "First-pass yield")
    assert fpy[1:] == [[r["lineCode"], r["stepNo"], r["operationCode"], r["firstTrackOuts"], r["firstPass"], r["fpy"]]
                       for r in quality["fpy"]]
    assert sheet_rows(content, "Defects by code")[1:] == [[p["code"], p["qty"], p["share"], p["cumulativeShare"]]
                                                          for p in quality["pareto"]["byCode"]]
    assert [r[0] for r in sheet_rows(content, "Units on hold")[1:]] == [u["sn"] for u in quality["holds"]["units"]]

    csv_answer = api("manager").get(f"/api/v1/reports/quality?{query}&format=csv&section=pareto")
    lines = csv_answer.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "code,qty,share,cumulative share" and len(lines) == len(quality["pareto"]["byCode"]) + 1


def test_report_permissions_and_bad_input_change_nothing(app, reported):
    api = reported["api"]
    assert api("operator").get("/api/v1/reports/production").status_code == 403
    assert api("engineer").get("/api/v1/reports/quality").status_code == 200         # reports:read
    refused = api("engineer").get("/api/v1/reports/quality?format=xlsx")              # no trace:export
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "FORBIDDEN"
    cases = [("from=2026-12-03&to=2026-12-01", 400, "REPORT_PERIOD_INVALID"),
             ("from=2025-01-01&to=2026-01-01&bucket=hour", 400, "REPORT_PERIOD_INVALID"),
             ("bucket=week", 422, "VALIDATION_ERROR"),
             ("from=yesterday", 422, "VALIDATION_ERROR"),
             ("lineCode=LINE-NONE", 400, "LINE_NOT_FOUND"),
             ("productCode=P-NONE", 400, "PRODUCT_NOT_FOUND"),
             ("format=pdf", 422, "VALIDATION_ERROR"),
             ("format=csv&section=nothing", 422, "VALIDATION_ERROR")]
    for query, status, code in cases:
        answer = api("manager").get(f"/api/v1/reports/production?{query}")
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code), query
    # the default period: today in the plant's zone, up to now
    data = report(api, "quality")
    assert moment(data["period"]["from"]) == datetime.now(timezone.utc).replace(hour=0, minute=0, second=0,
                                                                                 microsecond=0)
    assert moment(data["period"]["to"]) <= datetime.now(timezone.utc) + timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------
# Dashboard and line board
# ---------------------------------------------------------------------------------------------

def test_dashboard_shows_the_reports_figures(app, reported):
    api, query = reported["api"], {"from": reported["start"], "bucket": "day", "lineCode": "LINE-SMT-A"}
    dash = report(api, "dashboard", **query)
    production = report(api, "production", **query)
    quality = report(api, "quality", **query)
    assert dash["output"] == production["output"]["byBucket"]
    assert dash["kpis"]["output"] == production["output"]["total"] > 0
    assert (dash["kpis"]["plan"], dash["kpis"]["scrapped"]) == (production["output"]["plan"], production["output"]["scrapped"])
    assert dash["wip"] == production["wip"]["byStep"] and dash["kpis"]["wip"] == production["wip"]["total"]
    assert dash["fpyTrend"] == quality["fpyTrend"] and dash["rty"] == quality["rty"]
    assert dash["pareto"] == quality["pareto"]["byCode"][:10]
    assert dash["holds"] == quality["holds"]
    assert dash["kpis"]["holds"] == len(quality["holds"]["units"]) + len(quality["holds"]["runs"]) >= 2
    assert dash["lines"] == ["LINE-DIP-A", "LINE-SMT-A"]
    assert reported["api"]("operator").get("/api/v1/reports/dashboard").status_code == 403


def board_api(app, client, username: str, *, lines: tuple[str, ...] = ()) -> ApiAs:
    """The API as a Board device account (created with its key when `lines` are given)."""
    from app.services.platform import users
    from app.services.platform.actor import SYSTEM
    with app.app_context():
        if lines:
            users.create_user(actor=SYSTEM, spec=users.UserSpec(username=username, password="Board-Pass-2026-x",
                                                                roles=["Board"], lines=lines))
        key = users.create_api_key(actor=SYSTEM, username=username, name="TV")["key"]
    return ApiAs(client, {"Authorization": f"Bearer {key}"})


def test_line_board_for_a_board_account(app, reported):
    client = app.test_client()
    tv = board_api(app, client, "board")  # the demo's Board account, bound to both demo lines
    board = ok_data(tv.get("/api/v1/boards/LINE-SMT-A"))
    shift_start = moment(board["shift"]["start"])
    assert shift_start <= moment(board["now"]) < moment(board["shift"]["end"])
    done = sql(app, f"SELECT count(*) FROM unit u {RUNS} WHERE u.status = 'DONE' AND l.code = 'LINE-SMT-A' "
                    "AND (SELECT max(t.out_at) FROM track t WHERE t.unit_id = u.id) >= :start", start=shift_start)
    assert board["output"]["done"] == done[0][0]
    assert [s["code"] for s in board["stations"]] == ["ST-PRINT-01", "ST-SPI-01", "ST-MOUNT-01", "ST-REFLOW-01",
                                                      "ST-AOI-01"]  # process order, not alphabetical
    print_station = board["stations"][0]
    passes = sql(app, "SELECT count(*) FROM track t JOIN station s ON s.id = t.station_id WHERE s.code = 'ST-PRINT-01' "
                      "AND t.result = 'PASS' AND t.out_at >= :start", start=shift_start)[0][0]
    assert (print_station["pass"], print_station["inStation"]) == (passes, 1)  # W2 is in the printer now
    run = next(r for r in board["runs"] if r["runNo"] == reported["run"])
    assert run["status"] == "IN_PROGRESS" and run["wip"] == 4
    assert {f["sn"] for f in board["lastFails"]} >= {f"{reported['run']}-W3", f"{reported['run']}-W4"}
    assert all(f["defects"] == ["SOLDER_BRIDGE"] for f in board["lastFails"] if f["sn"].startswith(reported["run"]))
    assert {u["sn"] for u in board["holds"]["units"]} == {f"{reported['run']}-W3"}

    # a board reads its own lines' boards and nothing else
    dip_tv = board_api(app, client, "board-dip", lines=("LINE-DIP-A",))
    assert ok_data(dip_tv.get("/api/v1/boards/LINE-DIP-A"))["line"]["code"] == "LINE-DIP-A"
    refused = dip_tv.get("/api/v1/boards/LINE-SMT-A")
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "FORBIDDEN")
    for path in ("/api/v1/reports/production", "/api/v1/trace/runs/" + reported["run"], "/api/v1/work-orders"):
        assert dip_tv.get(path).status_code == 403, path
    unknown = tv.get("/api/v1/boards/LINE-NONE")
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "LINE_NOT_FOUND")
    assert reported["api"]("operator").get("/api/v1/boards/LINE-SMT-A").status_code == 403
    assert reported["api"]("leader").get("/api/v1/boards/LINE-SMT-A").status_code == 200

    # the board page itself holds no data and asks no sign-in; it loads only the app's own scripts
    page = client.get("/board/LINE-SMT-A", headers={"Authorization": ""})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/static/vendor/chartjs/chart.umd.min.js" in html
    assert "http://" not in html and "https://" not in html
