"""`flask mes seed --demo-history` (seed/history.py): production history played through the REST API at
past times — runs, boards, data values with spread, defects, dispositions, scrap, rework, OQC, one MRB
rework, one run left on hold, the lot-recall case — deterministic for a seed, refused a second time."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text

from support import flask_cli


def history(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as c:
        def rows(sql: str) -> list[tuple]:
            return sorted(tuple(r) for r in c.execute(text(sql)))
        out = {
            "work_orders": rows("SELECT wo_no, status FROM work_order WHERE wo_no LIKE 'WO-H-%'"),
            "runs": rows("SELECT run_no, status FROM run"),
            "units": rows("SELECT sn, status, current_step_no, rework_count FROM unit"),
            "defects": rows("SELECT u.sn, d.code, d.step_no, d.status FROM defect d JOIN unit u ON u.id = d.unit_id"),
            "values": rows("SELECT u.sn, v.spec_name, v.value_number, v.value_text, v.judge FROM data_value v "
                           "JOIN track t ON t.id = v.track_id JOIN unit u ON u.id = t.unit_id"),
            "tracks": rows("SELECT u.sn, t.step_no, t.result, t.mode FROM track t JOIN unit u ON u.id = t.unit_id"),
            "times": c.execute(text("SELECT min(in_at), max(out_at) FROM track")).one(),
            "recall": rows("SELECT DISTINCT l.lot_no FROM material_use m JOIN material_lot l ON l.id = m.lot_id"),
            "inspections": rows("SELECT type, status FROM inspection"),
            "mrb": rows("SELECT decision, rework_type FROM mrb_decision"),
        }
    engine.dispose()
    # work order, run and SN numbers carry the day they were played: two plays either side of midnight
    # (UTC) compare equal without it
    def undated(value):
        if isinstance(value, str):
            return re.sub(r"WO-H-\d{6}", "WO-H-<day>", value)
        if isinstance(value, (list, tuple)):
            return type(value)(undated(v) for v in value)
        return value
    return {k: (v if k == "times" else sorted(undated(v))) for k, v in out.items()}


def seeded(url: str, *args: str):
    done = flask_cli(url, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    return flask_cli(url, "mes", "seed", "--demo-history", *args)


def test_one_day_of_history_is_true_to_the_rules_and_the_same_for_the_same_seed(empty_database):
    first, second = empty_database(), empty_database()
    done = seeded(first, "--days", "1", "--seed", "11")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "history:" in done.stdout and "on hold: run WO-H-" in done.stdout
    played = history(first)

    runs = dict(played["runs"])
    assert len(runs) >= 8 and sum(1 for s in runs.values() if s == "COMPLETED") >= len(runs) - 3
    held = [r for r, s in runs.items() if s == "ON_HOLD"]
    reworked = [r for r, s in runs.items() if s == "CLOSED_REWORK"]
    assert len(held) == 1 and len(reworked) == 1 and runs[f"{reworked[0]}-RW1"] == "COMPLETED"
    assert ("REWORK", "REUSE_PREP") in played["mrb"]
    assert {s for _, s in played["work_orders"]} == {"COMPLETED", "IN_PROGRESS"}  # the held run's WO stays open
    units = played["units"]
    assert len(units) > 100 and {s for _, s, _, _ in units} <= {"DONE", "SCRAPPED"}
    # every board has its FAI or production tracks, and the trial boards are marked
    assert any(mode == "FAI_TRIAL" for *_, mode in played["tracks"])
    # data values spread around the target, judged
    peaks = [v for _, spec, v, _, _ in played["values"] if spec == "peak_temp_c"]
    assert len(set(peaks)) > 20 and 245 < sum(peaks) / len(peaks) < 255
    assert {judge for *_, judge in played["values"]} >= {"PASS", "NA"}
    # defects and what became of them; inspections FAI and OQC
    assert played["defects"] and {status for *_, status in played["defects"]} <= {"CLOSED", "RECORDED"}
    assert ("FAI", "PASS") in played["inspections"] and ("OQC", "FAIL") in played["inspections"]
    # the lot-recall case and the dates: all in the past, within the day played
    assert "LOT-R-002" in {lot for (lot,) in played["recall"]}
    start, end = (datetime.fromisoformat(str(t)).replace(tzinfo=timezone.utc) if not getattr(t, "tzinfo", None)
                  else t for t in played["times"])
    now = datetime.now(timezone.utc)
    assert now - timedelta(days=2) < start < end < now

    # the same seed plays the same history; a second time on one database is refused, changing nothing
    done = seeded(second, "--days", "1", "--seed", "11")
    assert done.returncode == 0, done.stderr[-2000:]
    again = history(second)
    assert {k: v for k, v in again.items() if k != "times"} == {k: v for k, v in played.items() if k != "times"}
    done = flask_cli(first, "mes", "seed", "--demo-history", "--days", "1")
    assert done.returncode == 1 and "has demo history already" in done.stderr
    assert history(first) == played


def test_the_last_day_of_history_drifts_and_raises_spc_alarms(empty_database):
    """Two days: on the last one the paste height is charted (limits frozen from the day before) and drifts
    up; run rules fire at TrackOut — OPEN alarms, the first acknowledged by quality with a reason — and
    every alarm is one the whole-series reference finds on the charted values."""
    from app.services.quality import spc_math
    url = empty_database()
    done = seeded(url, "--days", "2", "--seed", "5")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    engine = create_engine(url)
    with engine.connect() as c:
        chart = c.execute(text("SELECT c.chart_type, c.rules, c.on_alarm, c.center, c.sigma, c.baseline_points, "
                               "c.baseline_by FROM spc_chart c JOIN data_collection_spec s ON s.id = c.spec_id "
                               "WHERE s.name = 'paste_height_um'")).one()
        series = c.execute(text("SELECT v.value_number, u.sn FROM data_value v JOIN track t ON t.id = v.track_id "
                                "JOIN unit u ON u.id = t.unit_id WHERE v.spc_seq IS NOT NULL ORDER BY v.spc_seq")).all()
        alarms = c.execute(text("SELECT u.sn, a.rule, a.status, a.reason FROM spc_alarm a "
                                "JOIN unit u ON u.id = a.unit_id ORDER BY a.id")).all()
    engine.dispose()
    assert chart.chart_type == "IMR" and chart.on_alarm == "ALARM" and chart.baseline_by == "engineer"
    assert chart.baseline_points >= 20 and 140 < chart.center < 160
    rules = sorted(json.loads(chart.rules) if isinstance(chart.rules, str) else chart.rules)
    assert rules == [1, 2, 3, 5, 6]
    reference = spc_math.evaluate([v for v, _ in series], chart.center, chart.sigma, rules)
    assert sorted((sn, rule) for sn, rule, *_ in alarms) == sorted((series[i][1], rule) for i, rule in reference)
    statuses = [status for _, _, status, _ in alarms]
    assert statuses.count("ACKNOWLEDGED") == 1 and statuses.count("OPEN") >= 1
    assert alarms[0].status == "ACKNOWLEDGED" and alarms[0].reason.startswith("Paste height up")
