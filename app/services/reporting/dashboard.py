"""The manager's dashboard and the line board (`reports:read`; the board also `reports:board`).

The dashboard shows, for a chosen line (or every line) and period, the figures of the two reports
that matter every morning — output per bucket against the plan, WIP by step, the first-pass-yield
trend, the defect Pareto and the open holds — read by the reports' own section functions, so a
figure on a chart is the figure of its report.

The line board is what a TV beside one line shows all shift: the runs in progress, output against
plan this shift (the reports' plan: the line's target per hour over the time it had a run in
production; the shift's full target beside it), boards per station this shift and in the stations
now, the last FAILs, the open holds and the moisture-sensitive reels on the line whose floor life is
spent or ends within the warning window (MES_MSD_WARN_HOURS).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import func, select

from ...extensions import db
from ...models import Defect, Line, Run, Station, StationGroup, Track, Unit
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.scope import require_line, require_permission
from ..preparation import msd
from ..quality.spc_alarms import open_alarms_by_line
from .period import Period, period_from, plant_shifts, plant_zone
from .production import ended_units, output_section, tally, unit_counts, wip_section
from .quality import defect_pareto, first_pass_yield, open_holds
from .runs import RunCatalog, RunRef, report_options

PARETO_TOP = 10
LAST_FAILS = 8
ACTIVE_RUNS = ("AUTHORIZED", "IN_PROGRESS", "ON_HOLD")


def dashboard(*, actor: Actor, date_from: Optional[str] = None, date_to: Optional[str] = None,
              bucket: Optional[str] = None, line_code: Optional[str] = None) -> dict[str, Any]:
    catalog = RunCatalog(actor, line_code=line_code)
    period = period_from(date_from=date_from, date_to=date_to, bucket=bucket)
    ended = ended_units(catalog, period)
    output = output_section(catalog, period, ended)
    fpy = first_pass_yield(catalog, period)
    pareto = defect_pareto(catalog, period)
    holds = open_holds(catalog)
    wip = wip_section(catalog)
    rty = [r["rty"] for r in fpy["rty"]]
    return {
        "period": period.to_dict(), "filters": catalog.filters(),
        "lines": report_options(actor)["lines"],
        "kpis": {"output": output["total"], "plan": output["plan"], "scrapped": output["scrapped"],
                 "wip": wip["total"], "rty": round(min(rty), 4) if rty else None,
                 "defects": pareto["total"], "holds": len(holds["units"]) + len(holds["runs"])},
        "output": output["byBucket"], "wip": wip["byStep"], "fpyTrend": fpy["fpyTrend"], "rty": fpy["rty"],
        "pareto": pareto["byCode"][:PARETO_TOP], "holds": holds,
    }


# ---------------------------------------------------------------------------------------------
# The line board
# ---------------------------------------------------------------------------------------------

def current_shift() -> tuple[Period, str]:
    """The plant's shift now, as a period from its start to the next shift's start, and its label
    ("2026-12-03 EARLY")."""
    at, zone, shifts = now(), plant_zone(), tuple(plant_shifts())
    bucket = Period(at, at, "shift", zone, shifts).bucket_of(at)
    starts = [datetime.combine(bucket.start.date() + timedelta(days=d), s.start).replace(tzinfo=zone)
              for d in (0, 1, 2) for s in shifts]
    end = min(moment for moment in starts if moment > bucket.start)
    return Period(bucket.start.astimezone(timezone.utc), end.astimezone(timezone.utc), "hour", zone, shifts), bucket.label


BOARD_SPC_ALARMS = 20  # the newest open SPC alarms the board lists; its count shows them all


def line_board(*, actor: Actor, line_code: str) -> dict[str, Any]:
    """The board of one line (`reports:board` or `reports:read`; the line in the actor's scope)."""
    if not actor.can("reports:read"):
        require_permission(actor, "reports:board")
    line = db.session.execute(select(Line.id, Line.code, Line.name, Line.target_per_hour)
                              .where(Line.code == line_code)).first()
    if line is None:
        raise DomainError("LINE_NOT_FOUND", M("No line {code}.", code=line_code), {"lineCode": line_code})
    require_line(actor, line.id, line.code)
    catalog = RunCatalog(actor, line_code=line_code, permission=None)
    shift, label = current_shift()
    at = now()
    elapsed = Period(shift.start, min(at, shift.end), "hour", shift.zone, shift.shifts)
    ended = ended_units(catalog, elapsed)
    per_hour = output_section(catalog, elapsed, ended)
    active = catalog.load_where(Run.status.in_(ACTIVE_RUNS))
    runs = [{"runNo": r.run_no, "productCode": r.product_code, "status": r.status, "planQty": r.plan_qty}
            for r in active]
    counts = unit_counts(Unit.run_id, [r.id for r in active])
    for r, ref in zip(runs, active):
        r.update(tally(counts.get(ref.id, {})))
    spc_alarms = open_alarms_by_line([line.id]).get(line.id, [])  # newest first (at most 200 read)
    return {
        "line": {"code": line.code, "name": line.name, "targetPerHour": line.target_per_hour},
        "shift": {"label": label, "start": shift.start.isoformat(), "end": shift.end.isoformat()},
        "now": at.isoformat(), "timeZone": shift.zone.key,
        "output": {"done": per_hour["total"], "plan": per_hour["plan"],
                   "shiftPlan": round(line.target_per_hour * (shift.end - shift.start).total_seconds() / 3600)
                   if line.target_per_hour else None,
                   "perHour": [{"bucket": b["bucket"], "output": b["output"], "plan": b["plan"]}
                               for b in per_hour["byBucket"]]},
        "runs": runs,
        "stations": _stations(line.id, catalog, shift.start, active),
        "lastFails": _last_fails(catalog, at - timedelta(hours=12)),
        "holds": open_holds(catalog),
        "msdReels": msd.line_reel_alerts(line.id, at),  # spent or close to it (issue 18)
        "spcAlarms": spc_alarms[:BOARD_SPC_ALARMS], "spcAlarmCount": len(spc_alarms),
    }


def _stations(line_id: int, catalog: RunCatalog, since, runs: list[RunRef]) -> list[dict[str, Any]]:
    """Every active station of the line in process order (the route of its runs): boards out this
    shift (PASS / FAIL) and in the station now."""
    stations = db.session.execute(
        select(Station.id, Station.code, Station.name, Station.station_type, StationGroup.code.label("group_code"))
        .outerjoin(StationGroup, StationGroup.id == Station.group_id)
        .where(Station.line_id == line_id, Station.is_active.is_(True))).all()
    runs = runs or catalog.load_where(Run.line_id == line_id)[-1:]  # else the route of the line's last run
    steps = sorted({step.step_no: step for ref in runs for step in plan_for(ref.route_version_id).steps}.items())

    def place(row) -> tuple:
        for index, (_, step) in enumerate(steps):
            if step.accepts(station_type=row.station_type, group_code=row.group_code, station_code=row.code):
                return (index, row.code)
        return (len(steps), row.code)

    out_counts: dict[int, dict[str, int]] = {}
    rows = db.session.execute(select(Track.run_id, Track.station_id, Track.result, func.count())
                              .where(Track.out_at >= since).group_by(Track.run_id, Track.station_id, Track.result)).all()
    catalog.load(r[0] for r in rows)
    for run_id, station_id, result, n in rows:
        if catalog.get(run_id) is not None:
            entry = out_counts.setdefault(station_id, {"PASS": 0, "FAIL": 0})
            entry[result] = entry.get(result, 0) + n
    inside = dict(db.session.execute(select(Track.station_id, func.count()).where(Track.open_unit_id.is_not(None))
                                     .group_by(Track.station_id)).all())
    return [{"code": row.code, "name": row.name, "pass": out_counts.get(row.id, {}).get("PASS", 0),
             "fail": out_counts.get(row.id, {}).get("FAIL", 0), "inStation": inside.get(row.id, 0)}
            for row in sorted(stations, key=place)]


def _last_fails(catalog: RunCatalog, since) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Track.id, Track.run_id, Track.step_no, Track.out_at, Unit.sn, Station.code)
        .join(Unit, Unit.id == Track.unit_id).join(Station, Station.id == Track.station_id)
        .where(Track.out_at >= since, Track.result == "FAIL").order_by(Track.out_at.desc())).all()
    catalog.load(r.run_id for r in rows)
    kept = [r for r in rows if catalog.get(r.run_id) is not None][:LAST_FAILS]
    codes: dict[int, list[str]] = {}
    if kept:
        for track_id, code in db.session.execute(select(Defect.track_id, Defect.code)
                                                 .where(Defect.track_id.in_([r.id for r in kept]))):
            codes.setdefault(track_id, []).append(code)
    return [{"sn": r.sn, "station": r.code, "stepNo": r.step_no, "at": r.out_at.isoformat(),
             "defects": codes.get(r.id, [])} for r in kept]
