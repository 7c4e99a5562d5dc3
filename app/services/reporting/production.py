"""Production report (`reports:read`, spec 06 "Reports"): output, scrap, plan against actual, WIP.

Definitions (the tests compute each with plain SQL and compare):
- **Output**: units DONE now whose last TrackOut (`unit.ended_at`) falls in the period, per line,
  product and bucket. A board MRB later scrapped counts as scrap (at the MRB decision), one an MRB
  rework sent back counts again when it finishes in the rework run.
- **Scrapped**: units SCRAPPED now whose scrap (`unit.ended_at`) falls in the period.
- **Plan** of a bucket: each covered line's target per hour (Line.target_per_hour) times the hours of
  the bucket its runs were in production (first TrackIn to the run's end; see `Plan`).
- **Plan against actual** per run (runs in production during the period — started before its end and
  not ended before its start — and runs with output or scrap in it) and per work order of those runs:
  planned quantity, DONE, SCRAPPED and in-work units of all time, and the output in the period.
- **WIP**: units not DONE or SCRAPPED (`ended_at` NULL) now, by line and current step, by status.

Speed (1M units): output and scrap read the index ix_unit_ended (ended_at, run_id, status) over the period
only; WIP reads its NULL entries (the units in work); the per-run counts read ix_unit_run_status.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import Run, Track, Unit, WorkOrder
from ..platform.actor import Actor
from ..platform.clock import now
from .period import Period, period_from
from .runs import RunCatalog, RunRef

WIP_STATUSES = ("QUEUED", "IN_STATION", "OUT_FAILED", "ON_HOLD")
Ended = tuple[RunRef, Any, str, int]  # (run, slot, DONE|SCRAPPED, units)


def production_report(*, actor: Actor, date_from: Optional[str] = None, date_to: Optional[str] = None,
                      bucket: Optional[str] = None, line_code: Optional[str] = None,
                      product_code: Optional[str] = None) -> dict[str, Any]:
    catalog = RunCatalog(actor, line_code=line_code, product_code=product_code)
    period = period_from(date_from=date_from, date_to=date_to, bucket=bucket)
    ended = ended_units(catalog, period)
    return {"period": period.to_dict(), "filters": catalog.filters(),
            "output": output_section(catalog, period, ended),
            "plan": plan_section(catalog, period, ended),
            "wip": wip_section(catalog)}


# ---------------------------------------------------------------------------------------------
# Output and scrap
# ---------------------------------------------------------------------------------------------

def ended_units(catalog: RunCatalog, period: Period) -> list[Ended]:
    """(run, slot, DONE|SCRAPPED, units) of the units that ended in the period (`Period.slot_sql`)."""
    slot = period.slot_sql(Unit.ended_at, db.engine.dialect.name).label("slot")
    rows = db.session.execute(
        select(Unit.run_id, slot, Unit.status, func.count())
        .where(Unit.ended_at >= period.start, Unit.ended_at < period.end)
        .group_by(Unit.run_id, slot, Unit.status)).all()
    catalog.load(r[0] for r in rows)
    kept = []
    for run_id, slot_no, status, count in rows:
        ref = catalog.get(run_id)
        if ref is not None and status in ("DONE", "SCRAPPED"):
            kept.append((ref, slot_no, status, count))
    return kept


class Plan:
    """The planned output of the covered lines: each line's target per hour (Line.target_per_hour) over
    the time it had a run in production — from the run's first TrackIn to its end (completion, MRB
    decision; for a run waiting on hold, its last TrackOut), never after now. A line without a target
    has no plan; with a product filter only that product's runs count."""

    def __init__(self, catalog: RunCatalog, period: Period) -> None:
        at = now()
        targets = {line_id: target for line_id, _, target in catalog.lines() if target}
        runs = [r for r in catalog.load_where(Run.started_at.is_not(None), Run.started_at < period.end,
                                              or_(Run.ended_at.is_(None), Run.ended_at > period.start))
                if r.line_id in targets]
        waiting = [r.id for r in runs if r.ended_at is None and r.status not in ("AUTHORIZED", "IN_PROGRESS")]
        last_out = dict(db.session.execute(select(Track.run_id, func.max(Track.out_at))
                                           .where(Track.run_id.in_(waiting)).group_by(Track.run_id)).all()) if waiting else {}
        spans: dict[int, list[list[datetime]]] = defaultdict(list)
        for ref in sorted(runs, key=lambda r: r.started_at):
            end = ref.ended_at or (last_out.get(ref.id) or ref.started_at if ref.id in waiting else at)
            start, end = max(ref.started_at, period.start), min(end, period.end, at)
            if end <= start:
                continue
            merged = spans[ref.line_id]
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.targets, self.spans, self.none = targets, spans, not targets

    def between(self, start: datetime, end: datetime) -> Optional[float]:
        """The planned output between start and end (None: no line has a target)."""
        if self.none:
            return None
        total = 0.0
        for line_id, spans in self.spans.items():
            hours = sum(max((min(b, end) - max(a, start)).total_seconds(), 0) for a, b in spans) / 3600
            total += self.targets[line_id] * hours
        return round(total, 1)


def bucket_end(period: Period, index: int, buckets: list) -> datetime:
    """Where bucket `index` ends: the next bucket's start, or the period's end."""
    return buckets[index + 1].start if index + 1 < len(buckets) else period.end


def output_section(catalog: RunCatalog, period: Period, ended: list[Ended]) -> dict[str, Any]:
    by_bucket: dict[str, dict[str, int]] = defaultdict(lambda: {"DONE": 0, "SCRAPPED": 0})
    rows: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: {"DONE": 0, "SCRAPPED": 0})
    by_line: dict[str, dict[str, int]] = defaultdict(lambda: {"DONE": 0, "SCRAPPED": 0})
    by_product: dict[str, dict[str, int]] = defaultdict(lambda: {"DONE": 0, "SCRAPPED": 0})
    for ref, slot_no, status, count in ended:
        bucket = period.bucket_of_slot(slot_no)
        key = bucket.start.isoformat()
        by_bucket[key][status] += count
        rows[(key, ref.line_code, ref.product_code)][status] += count
        by_line[ref.line_code][status] += count
        by_product[ref.product_code][status] += count
    buckets = period.buckets()
    labels = {b.start.isoformat(): b.label for b in buckets}
    plan = Plan(catalog, period)
    series = []
    for i, b in enumerate(buckets):
        counts = by_bucket.get(b.start.isoformat(), {"DONE": 0, "SCRAPPED": 0})
        series.append({"bucket": b.label, "start": b.start.isoformat(), "output": counts["DONE"],
                       "scrapped": counts["SCRAPPED"],
                       "plan": plan.between(b.start, bucket_end(period, i, buckets))})
    return {
        "total": sum(c["DONE"] for c in by_line.values()),
        "scrapped": sum(c["SCRAPPED"] for c in by_line.values()),
        "plan": plan.between(period.start, period.end),
        "byBucket": series,
        "byLine": [{"lineCode": k, "output": c["DONE"], "scrapped": c["SCRAPPED"]} for k, c in sorted(by_line.items())],
        "byProduct": [{"productCode": k, "output": c["DONE"], "scrapped": c["SCRAPPED"]}
                      for k, c in sorted(by_product.items())],
        "rows": [{"bucket": labels.get(key, key), "start": key, "lineCode": line, "productCode": product,
                  "output": c["DONE"], "scrapped": c["SCRAPPED"]}
                 for (key, line, product), c in sorted(rows.items())],
    }


# ---------------------------------------------------------------------------------------------
# Plan against actual, per run and work order
# ---------------------------------------------------------------------------------------------

def unit_counts(column, ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for start in range(0, len(ids), 500):
        for key, status, n in db.session.execute(select(column, Unit.status, func.count())
                                                 .where(column.in_(ids[start:start + 500]))
                                                 .group_by(column, Unit.status)):
            counts[key][status] = n
    return counts


def tally(counts: dict[str, int]) -> dict[str, int]:
    return {"done": counts.get("DONE", 0), "scrapped": counts.get("SCRAPPED", 0),
            "wip": sum(counts.get(s, 0) for s in WIP_STATUSES)}


def plan_section(catalog: RunCatalog, period: Period, ended: list[Ended]) -> dict[str, Any]:
    active = catalog.load_where(Run.started_at.is_not(None), Run.started_at < period.end,
                                or_(Run.ended_at.is_(None), Run.ended_at >= period.start))
    in_period: dict[int, int] = defaultdict(int)
    runs: dict[int, RunRef] = {ref.id: ref for ref in active}
    for ref, _, status, count in ended:
        runs.setdefault(ref.id, ref)
        if status == "DONE":
            in_period[ref.id] += count
    ordered = sorted(runs.values(), key=lambda r: (r.line_code, r.started_at or period.end, r.run_no))
    run_counts = unit_counts(Unit.run_id, [r.id for r in ordered])
    wo_ids = sorted({r.work_order_id for r in ordered})
    wo_counts = unit_counts(Unit.work_order_id, wo_ids)
    wo_rows = {row.id: row for row in db.session.execute(
        select(WorkOrder.id, WorkOrder.wo_no, WorkOrder.planned_qty, WorkOrder.status).where(WorkOrder.id.in_(wo_ids)))}
    run_rows = []
    for ref in ordered:
        totals = tally(run_counts.get(ref.id, {}))
        run_rows.append({"runNo": ref.run_no, "woNo": ref.wo_no, "lineCode": ref.line_code,
                         "productCode": ref.product_code, "status": ref.status, "planQty": ref.plan_qty, **totals,
                         "outputInPeriod": in_period.get(ref.id, 0),
                         "achievement": round(totals["done"] / ref.plan_qty, 4) if ref.plan_qty else None,
                         "startedAt": ref.started_at.isoformat() if ref.started_at else None,
                         "endedAt": ref.ended_at.isoformat() if ref.ended_at else None})
    wo_out = []
    by_wo: dict[int, list[RunRef]] = defaultdict(list)
    for ref in ordered:
        by_wo[ref.work_order_id].append(ref)
    for wo_id in sorted(by_wo, key=lambda i: wo_rows[i].wo_no):
        wo = wo_rows[wo_id]
        totals = tally(wo_counts.get(wo_id, {}))
        wo_out.append({"woNo": wo.wo_no, "productCode": by_wo[wo_id][0].product_code, "status": wo.status,
                       "plannedQty": wo.planned_qty, **totals,
                       "outputInPeriod": sum(in_period.get(r.id, 0) for r in by_wo[wo_id]),
                       "achievement": round(totals["done"] / wo.planned_qty, 4) if wo.planned_qty else None,
                       "runs": [r.run_no for r in by_wo[wo_id]]})
    return {"runs": run_rows, "workOrders": wo_out}


# ---------------------------------------------------------------------------------------------
# WIP
# ---------------------------------------------------------------------------------------------

def wip_rows(catalog: RunCatalog) -> list[tuple[RunRef, str, Optional[int], int]]:
    """(run, status, current step, units) of the units in work now."""
    rows = db.session.execute(select(Unit.run_id, Unit.status, Unit.current_step_no, func.count())
                              .where(Unit.ended_at.is_(None))
                              .group_by(Unit.run_id, Unit.status, Unit.current_step_no)).all()
    catalog.load(r[0] for r in rows)
    kept = []
    for run_id, status, step_no, count in rows:
        ref = catalog.get(run_id)
        if ref is not None and status in WIP_STATUSES:
            kept.append((ref, status, step_no, count))
    return kept


def wip_section(catalog: RunCatalog) -> dict[str, Any]:
    steps: dict[tuple[str, int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(WIP_STATUSES, 0))
    for ref, status, step_no, count in wip_rows(catalog):
        steps[(ref.line_code, step_no if step_no is not None else 0, ref.operation(step_no))][status] += count
    by_line: dict[str, int] = defaultdict(int)
    rows = []
    for (line, step_no, operation), counts in sorted(steps.items()):
        total = sum(counts.values())
        by_line[line] += total
        rows.append({"lineCode": line, "stepNo": step_no, "operationCode": operation, "queued": counts["QUEUED"],
                     "inStation": counts["IN_STATION"], "outFailed": counts["OUT_FAILED"],
                     "onHold": counts["ON_HOLD"], "total": total})
    return {"total": sum(by_line.values()),
            "byLine": [{"lineCode": k, "wip": v} for k, v in sorted(by_line.items())],
            "byStep": rows}
