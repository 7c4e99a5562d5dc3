"""Quality report (`reports:read`, spec 06 "Reports"): first-pass yield, rolled throughput yield,
defect Pareto, scrap and rework, open holds, OQC results and MRB decisions.

Definitions (the tests compute each with plain SQL and compare):
- **First-pass yield** of a step on a line: among the units whose first TrackOut at that step falls in
  the period, the share whose first TrackOut there was PASS. A track knows whether it was the unit's
  first TrackOut at its step (`track.first_out`, written by the TrackOut itself); trial boards of an
  FAI count like any other board. Steps are grouped by line, step number and operation.
- **Rolled throughput yield** of a line: the product of its steps' first-pass yields.
- **Defect Pareto**: the defects recorded in the period (their quantity), by code, by line and step,
  and by line, largest first, with each entry's share and the cumulative share.
- **Scrap**: units SCRAPPED in the period; **rework**: rework decisions taken in the period (one per
  REWORK disposition of a unit: its rework task).
- **Open holds** (now, whatever the period): units ON_HOLD with the HOLD disposition that holds them,
  since when and for how long; runs ON_HOLD (OQC failed, waiting for MRB) since their OQC's decision.
- **OQC** inspections decided in the period and **MRB** decisions taken in it.

Speed (5M tracks): first-pass yield reads the summary of closed hours (summary.py) and the covering
index ix_track_out (out_at, run_id, step_no, first_out, result) for the rest of the period; defects ix_defect_created; the rest are small tables.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import func, select

from ...extensions import db
from ...models import Defect, Disposition, Inspection, MrbDecision, ReworkTask, Run, Unit
from ..platform.actor import Actor
from ..platform.clock import now
from .period import Period, period_from
from .runs import RunCatalog
from .summary import first_outs


def quality_report(*, actor: Actor, date_from: Optional[str] = None, date_to: Optional[str] = None,
                   bucket: Optional[str] = None, line_code: Optional[str] = None,
                   product_code: Optional[str] = None) -> dict[str, Any]:
    catalog = RunCatalog(actor, line_code=line_code, product_code=product_code)
    period = period_from(date_from=date_from, date_to=date_to, bucket=bucket)
    fpy = first_pass_yield(catalog, period)
    return {"period": period.to_dict(), "filters": catalog.filters(), **fpy,
            "pareto": defect_pareto(catalog, period),
            "scrapRework": scrap_and_rework(catalog, period),
            "holds": open_holds(catalog),
            "oqc": oqc_results(catalog, period),
            "mrb": mrb_decisions(catalog, period)}


def _share(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def _age_hours(since: Optional[datetime], at: datetime) -> Optional[float]:
    return round((at - since).total_seconds() / 3600, 1) if since is not None else None


# ---------------------------------------------------------------------------------------------
# First-pass yield and rolled throughput yield
# ---------------------------------------------------------------------------------------------

def first_pass_yield(catalog: RunCatalog, period: Period) -> dict[str, Any]:
    rows = first_outs(period)
    catalog.load(r.run_id for r in rows)
    steps: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])  # (line, step, op) -> [first, pass]
    trend: dict[tuple[str, str], dict[tuple[int, str], list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    labels: dict[str, str] = {}
    starts: dict = {}  # bucket -> its start as text (once per bucket, not per row)
    for row in rows:
        ref = catalog.get(row.run_id)
        if ref is None:
            continue
        key = (ref.line_code, row.step_no, ref.operation(row.step_no))
        steps[key][0] += row.first
        steps[key][1] += row.passed
        start = starts.get(row.bucket)
        if start is None:
            start = starts[row.bucket] = row.bucket.start.isoformat()
            labels[start] = row.bucket.label
        cell = trend[(start, ref.line_code)][(row.step_no, key[2])]
        cell[0] += row.first
        cell[1] += row.passed
    by_step = [{"lineCode": line, "stepNo": step_no, "operationCode": op, "firstTrackOuts": first,
                "firstPass": passed, "fpy": _share(passed, first)}
               for (line, step_no, op), (first, passed) in sorted(steps.items())]
    rty: dict[str, float] = defaultdict(lambda: 1.0)
    for (line, _, _), (first, passed) in steps.items():
        rty[line] *= passed / first
    return {"fpy": by_step,
            "rty": [{"lineCode": line, "rty": round(value, 4)} for line, value in sorted(rty.items())],
            "fpyTrend": [{"bucket": labels[start], "start": start, "lineCode": line,
                          "rty": round(_product(cells.values()), 4),
                          "firstTrackOuts": sum(c[0] for c in cells.values())}
                         for (start, line), cells in sorted(trend.items())]}


def _product(cells) -> float:
    value = 1.0
    for first, passed in cells:
        value *= passed / first
    return value


# ---------------------------------------------------------------------------------------------
# Defect Pareto
# ---------------------------------------------------------------------------------------------

def _pareto(totals: dict, make) -> list[dict[str, Any]]:
    whole = sum(totals.values())
    out, running = [], 0
    for key, qty in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        running += qty
        out.append({**make(key), "qty": qty, "share": _share(qty, whole), "cumulativeShare": _share(running, whole)})
    return out


def defect_pareto(catalog: RunCatalog, period: Period) -> dict[str, Any]:
    rows = db.session.execute(
        select(Unit.run_id, Defect.code, Defect.step_no, func.sum(Defect.qty))
        .join(Unit, Unit.id == Defect.unit_id)
        .where(Defect.created_at >= period.start, Defect.created_at < period.end)
        .group_by(Unit.run_id, Defect.code, Defect.step_no)).all()
    catalog.load(r[0] for r in rows)
    by_code: dict[str, int] = defaultdict(int)
    by_step: dict[tuple[str, int, str], int] = defaultdict(int)
    by_line: dict[str, int] = defaultdict(int)
    for run_id, code, step_no, qty in rows:
        ref = catalog.get(run_id)
        if ref is None:
            continue
        qty = int(qty or 0)
        by_code[code] += qty
        by_step[(ref.line_code, step_no if step_no is not None else 0, ref.operation(step_no))] += qty
        by_line[ref.line_code] += qty
    return {"total": sum(by_code.values()),
            "byCode": _pareto(by_code, lambda code: {"code": code}),
            "byStep": _pareto(by_step, lambda k: {"lineCode": k[0], "stepNo": k[1], "operationCode": k[2]}),
            "byLine": _pareto(by_line, lambda line: {"lineCode": line})}


# ---------------------------------------------------------------------------------------------
# Scrap and rework
# ---------------------------------------------------------------------------------------------

def scrap_and_rework(catalog: RunCatalog, period: Period) -> dict[str, Any]:
    scrapped: dict[str, int] = defaultdict(int)
    rows = db.session.execute(  # the covering index ix_unit_ended (ended_at, run_id, status)
        select(Unit.run_id, func.count())
        .where(Unit.ended_at >= period.start, Unit.ended_at < period.end, Unit.status == "SCRAPPED")
        .group_by(Unit.run_id)).all()
    catalog.load(r[0] for r in rows)
    for run_id, count in rows:
        ref = catalog.get(run_id)
        if ref is not None:
            scrapped[ref.line_code] += count
    rows = db.session.execute(
        select(Unit.run_id, func.count()).select_from(ReworkTask).join(Unit, Unit.id == ReworkTask.unit_id)
        .where(ReworkTask.created_at >= period.start, ReworkTask.created_at < period.end)
        .group_by(Unit.run_id)).all()
    catalog.load(r[0] for r in rows)
    reworked: dict[str, int] = defaultdict(int)
    for run_id, count in rows:
        ref = catalog.get(run_id)
        if ref is not None:
            reworked[ref.line_code] += count
    lines = sorted(set(scrapped) | set(reworked))
    return {"scrapped": sum(scrapped.values()), "reworked": sum(reworked.values()),
            "byLine": [{"lineCode": line, "scrapped": scrapped.get(line, 0), "reworked": reworked.get(line, 0)}
                       for line in lines]}


# ---------------------------------------------------------------------------------------------
# Open holds
# ---------------------------------------------------------------------------------------------

def open_holds(catalog: RunCatalog) -> dict[str, Any]:
    at = now()
    rows = db.session.execute(
        select(Unit.id, Unit.sn, Unit.run_id, Unit.current_step_no, Defect.code, Disposition.decided_at,
               Disposition.decided_by, Disposition.reason)
        .join(Defect, Defect.id == Disposition.defect_id).join(Unit, Unit.id == Defect.unit_id)
        .where(Disposition.type == "HOLD", Disposition.released_at.is_(None), Unit.status == "ON_HOLD")
        .order_by(Disposition.decided_at, Defect.id)).all()
    catalog.load(r.run_id for r in rows)
    units: dict[int, dict[str, Any]] = {}
    for row in rows:
        ref = catalog.get(row.run_id)
        if ref is None:
            continue
        entry = units.get(row.id)
        if entry is None:
            entry = units[row.id] = {
                "sn": row.sn, "runNo": ref.run_no, "lineCode": ref.line_code, "productCode": ref.product_code,
                "stepNo": row.current_step_no, "operationCode": ref.operation(row.current_step_no),
                "defectCodes": [], "since": _iso(row.decided_at), "ageHours": _age_hours(row.decided_at, at),
                "decidedBy": row.decided_by, "reason": row.reason}
        if row.code not in entry["defectCodes"]:
            entry["defectCodes"].append(row.code)
    runs = []
    for ref in catalog.load_where(Run.status == "ON_HOLD"):
        oqc = db.session.execute(select(Inspection.id, Inspection.decided_at, Inspection.failed_qty).where(
            Inspection.run_id == ref.id, Inspection.type == "OQC", Inspection.status == "FAIL")
            .order_by(Inspection.id.desc()).limit(1)).first()
        since = oqc.decided_at if oqc is not None else None
        runs.append({"runNo": ref.run_no, "woNo": ref.wo_no, "lineCode": ref.line_code, "productCode": ref.product_code,
                     "oqcId": oqc.id if oqc is not None else None,
                     "oqcFailed": oqc.failed_qty if oqc is not None else None,
                     "since": _iso(since), "ageHours": _age_hours(since, at)})
    return {"units": list(units.values()), "runs": sorted(runs, key=lambda r: r["since"] or "")}


# ---------------------------------------------------------------------------------------------
# OQC and MRB in the period
# ---------------------------------------------------------------------------------------------

def oqc_results(catalog: RunCatalog, period: Period) -> dict[str, Any]:
    rows = db.session.execute(
        select(Inspection.id, Inspection.run_id, Inspection.status, Inspection.sample_qty, Inspection.passed_qty,
               Inspection.failed_qty, Inspection.decided_by, Inspection.decided_at)
        .where(Inspection.type == "OQC", Inspection.decided_at >= period.start, Inspection.decided_at < period.end)
        .order_by(Inspection.decided_at, Inspection.id)).all()
    catalog.load(r.run_id for r in rows)
    out = []
    for row in rows:
        ref = catalog.get(row.run_id)
        if ref is not None:
            out.append({"id": row.id, "runNo": ref.run_no, "lineCode": ref.line_code, "productCode": ref.product_code,
                        "status": row.status, "sampleQty": row.sample_qty, "passedQty": row.passed_qty,
                        "failedQty": row.failed_qty, "decidedBy": row.decided_by, "decidedAt": _iso(row.decided_at)})
    passed = sum(1 for r in out if r["status"] == "PASS")
    return {"inspections": len(out), "passed": passed, "failed": len(out) - passed,
            "acceptanceRate": _share(passed, len(out)), "rows": out}


def mrb_decisions(catalog: RunCatalog, period: Period) -> dict[str, Any]:
    rows = db.session.execute(
        select(MrbDecision.id, MrbDecision.run_id, MrbDecision.decision, MrbDecision.reason, MrbDecision.rework_type,
               MrbDecision.rework_run_id, MrbDecision.decided_by, MrbDecision.decided_at)
        .where(MrbDecision.decided_at >= period.start, MrbDecision.decided_at < period.end)
        .order_by(MrbDecision.decided_at, MrbDecision.id)).all()
    catalog.load([r.run_id for r in rows] + [r.rework_run_id for r in rows if r.rework_run_id])
    out, counts = [], defaultdict(int)
    for row in rows:
        ref = catalog.get(row.run_id)
        if ref is None:
            continue
        rework = catalog.get(row.rework_run_id) if row.rework_run_id else None
        counts[row.decision] += 1
        out.append({"id": row.id, "runNo": ref.run_no, "lineCode": ref.line_code, "productCode": ref.product_code,
                    "decision": row.decision, "reason": row.reason, "reworkType": row.rework_type,
                    "reworkRunNo": rework.run_no if rework is not None else None,
                    "decidedBy": row.decided_by, "decidedAt": _iso(row.decided_at)})
    return {"decisions": len(out), "byDecision": dict(sorted(counts.items())), "rows": out}
