"""SPC alarms (issue 18): the run rules of an armed chart judged at the TrackOut that stores a value of its
spec, the alarms they raise, holding the unit when the chart says so, and acknowledging an alarm.

A chart is *armed* when it is active, has frozen baseline limits and at least one enabled rule. Only then
does a TrackOut pay anything for SPC:
- The scan's one query (execution.SCAN) carries the SCAN_FLAG "spc": the spec ids of the armed charts, as
  one string (a tiny table). A TrackOut whose numeric values have no armed chart stops there: no
  statement more than without SPC.
- Otherwise, per armed chart of a value: the chart row (locked FOR UPDATE on PostgreSQL, so TrackOuts of one
  charted spec number their values one after the other), then the chart's last points from the index
  (spec_id, spc_seq) — the longest enabled rule's window, times the subgroup size — never the whole series.
  The new value gets the next `spc_seq` (stored with it, in the TrackOut's one data insert): its place in
  the series, which fixes its X̄ subgroup for good, `(spc_seq - 1) // n`; a subgroup is judged when its
  n-th value arrives.
- The rules that the newest point completes (spc_math.fired_at_last, the same arithmetic as the whole-chart
  reference spc_math.evaluate) each insert one OPEN alarm (one statement, audited as SPC_ALARM events in the
  TrackOut's own audit insert). A chart set to HOLD holds a unit that passed: it goes ON_HOLD (at its next
  step) with a defect SPC_ALARM dispositioned HOLD, so quality releases it like any held unit (Defects &
  Disposition → Release); a unit that failed already waits for quality.

Acknowledging (`quality:disposition`) records who, when and why; it does not release a held unit (that is
the hold's own release, with its own reason)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from sqlalchemy import String, bindparam, cast, func, insert, select

from ...extensions import db
from ...models import DataCollectionSpec, DataValue, Defect, Disposition, Line, Operation, Run, Track, Unit
from ...models.spc import SPC_ALARM_STATUSES, SpcAlarm, SpcChart
from ..platform.actor import SYSTEM, Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.scope import line_filter, require_line, require_permission
from ..platform.uow import unit_of_work
from ..platform.validation import fields_error, required_reason
from . import spc_math

SPC_HOLD_DEFECT = "SPC_ALARM"   # the defect code of a unit held by an SPC alarm (a system defect code)

_chart, _dv = SpcChart.__table__, DataValue.__table__
_ARMED = (_chart.c.is_active.is_(True), _chart.c.center.is_not(None), _chart.c.sigma > 0,
          cast(_chart.c.rules, String) != "[]")


def armed_specs_flag(unit, track):
    """SCAN_FLAGS "spc": the spec ids of the armed charts, comma-separated (NULL: none)."""
    return (select(func.aggregate_strings(cast(_chart.c.spec_id, String), ","))
            .where(*_ARMED).scalar_subquery())


ARMED_CHARTS = (select(_chart.c.id, _chart.c.spec_id, _chart.c.chart_type, _chart.c.subgroup_size, _chart.c.rules,
                       _chart.c.same_side_run, _chart.c.on_alarm, _chart.c.center, _chart.c.sigma)
                .where(_chart.c.spec_id.in_(bindparam("spec_ids", expanding=True)), *_ARMED)
                .order_by(_chart.c.spec_id))
LAST_POINTS = (select(_dv.c.spc_seq, _dv.c.value_number)
               .where(_dv.c.spec_id == bindparam("spec_id"), _dv.c.spc_seq.is_not(None))
               .order_by(_dv.c.spc_seq.desc()).limit(bindparam("n")))
INSERT_ALARM = insert(SpcAlarm.__table__)
INSERT_DEFECT = insert(Defect.__table__)
INSERT_DISPOSITION = insert(Disposition.__table__)


def longest_window(rules: Sequence[int], same_side_run: int) -> int:
    """The points the enabled rules need at most (a rule's pattern ends at the newest point)."""
    return max((spc_math.rule_window(r, same_side_run) for r in rules), default=1)


def newest_points(chart_type: str, size: int, previous: Sequence[tuple[int, float]], seq: int,
                  value: float) -> Optional[list[float]]:
    """The chart's points ending with the one `value` (numbered `seq`) completes, from the `previous`
    (seq, value) pairs before it in series order — or None when it completes no point (an X̄ subgroup that
    is not full yet). X̄ points are the means of complete subgroups `(seq - 1) // size` (a subgroup left
    incomplete by a change of chart is skipped, as the whole-chart view skips it)."""
    if chart_type == "IMR":
        return [v for _, v in previous] + [value]
    if seq % size:
        return None
    groups: dict[int, list[float]] = {}
    for s, v in [*previous, (seq, value)]:
        groups.setdefault((s - 1) // size, []).append(v)
    return [sum(g) / size for _, g in sorted(groups.items()) if len(g) == size]


def evaluate_at_track_out(uow, scan, values: list) -> None:
    """TRACK_OUT_DATA_HOOKS: number the TrackOut's values of armed charts in their series, judge the enabled
    run rules at the point they complete, insert an alarm per rule that fires and hold a passed unit when
    the chart's on_alarm is HOLD (module docstring)."""
    numeric = {v.spec.id: v for v in values if v.columns.get("value_number") is not None}
    if not numeric:
        return
    if scan.flags is not None:  # the scan read the armed charts: nothing to do for the others
        armed = {int(s) for s in (scan.flags.get("spc") or "").split(",") if s}
        if not armed.intersection(numeric):
            return
    alarms, at = [], now()
    for chart in uow.execute(uow.lock(ARMED_CHARTS), {"spec_ids": sorted(numeric)}).all():
        value = numeric[chart.spec_id]
        window = longest_window(chart.rules, chart.same_side_run) * chart.subgroup_size
        previous = uow.execute(LAST_POINTS, {"spec_id": chart.spec_id, "n": max(window - 1, 1)}).all()[::-1]
        seq = (previous[-1].spc_seq if previous else 0) + 1
        value.spc_seq = seq
        number = value.columns["value_number"]
        points = newest_points(chart.chart_type, chart.subgroup_size,
                               [(p.spc_seq, p.value_number) for p in previous[-(window - 1):]] if window > 1 else [],
                               seq, number)
        if points is None:
            continue
        for rule in spc_math.fired_at_last(points, chart.center, chart.sigma, chart.rules, chart.same_side_run):
            alarms.append({"chart": chart, "spec": value.spec, "rule": rule, "value": points[-1], "seq": seq})
    if not alarms:
        return
    uow.execute(INSERT_ALARM, [
        {"chart_id": a["chart"].id, "rule": a["rule"], "unit_id": scan.unit.id, "track_id": scan.track_id,
         "value": a["value"], "status": "OPEN", "created_at": at, "updated_at": at} for a in alarms])
    for a in alarms:
        uow.audit("SPC_ALARM", "DATA_SPEC", str(a["spec"].id), payload={
            "sn": scan.unit.sn, "spec": a["spec"].name, "rule": a["rule"], "value": a["value"], "seq": a["seq"],
            "onAlarm": a["chart"].on_alarm, "runNo": scan.run.run_no, "stepNo": scan.step.step_no})
    holding = [a for a in alarms if a["chart"].on_alarm == "HOLD"]
    scan.extra["alarms"] = [{"spec": a["spec"].name, "specId": a["spec"].id, "rule": a["rule"], "value": a["value"],
                             "text": spc_math.RUN_RULES[a["rule"]].text, "hold": a["chart"].on_alarm == "HOLD"}
                            for a in alarms]
    if holding and scan.result == "PASS":
        _hold(uow, scan, holding, at)


def _hold(uow, scan, holding: list[dict[str, Any]], at) -> None:
    """The unit goes ON_HOLD (execution._move_unit reads `scan.hold_by`) with a defect SPC_ALARM dispositioned
    HOLD: Defects & Disposition releases it, with a reason, like any held unit. The hold is the chart's
    decision, not the operator's: it is recorded as decided by SYSTEM (the TrackOut's audit names the operator)."""
    what = "; ".join(f"{a['spec'].name} rule {a['rule']} ({spc_math.RUN_RULES[a['rule']].text})" for a in holding)
    scan.hold_by = SPC_HOLD_DEFECT
    defect_id = uow.execute(INSERT_DEFECT, {
        "unit_id": scan.unit.id, "track_id": scan.track_id, "step_no": scan.step.step_no, "code": SPC_HOLD_DEFECT,
        "location": None, "description": f"SPC alarm: {what}", "qty": 1, "status": "DISPOSITIONED",
        "source": "SPC", "created_at": at, "updated_at": at}).inserted_primary_key[0]
    uow.execute(INSERT_DISPOSITION, {"defect_id": defect_id, "type": "HOLD", "reason": f"SPC alarm: {what}",
                                     "to_step_no": None, "decided_by": SYSTEM.username, "decided_at": at})
    uow.audit("UNIT_HOLD", "UNIT", scan.unit.sn, payload={"by": SPC_HOLD_DEFECT, "defectId": defect_id},
              diff={"before": {"status": "IN_STATION"}, "after": {"status": "ON_HOLD"}})


# ---------------------------------------------------------------------------------------------
# Reading and acknowledging
# ---------------------------------------------------------------------------------------------

def _alarm_query():
    return (select(SpcAlarm, SpcChart.spec_id, DataCollectionSpec.name.label("spec_name"),
                   DataCollectionSpec.uom, Operation.code.label("operation_code"), Unit.sn, Unit.status.label("unit_status"),
                   Run.run_no, Run.line_id, Line.code.label("line_code"), Track.step_no)
            .join(SpcChart, SpcChart.id == SpcAlarm.chart_id)
            .join(DataCollectionSpec, DataCollectionSpec.id == SpcChart.spec_id)
            .join(Operation, Operation.id == DataCollectionSpec.operation_id)
            .join(Unit, Unit.id == SpcAlarm.unit_id)
            .join(Run, Run.id == Unit.run_id)
            .join(Line, Line.id == Run.line_id)
            .outerjoin(Track, Track.id == SpcAlarm.track_id))


def alarm_to_dict(row) -> dict[str, Any]:
    alarm = row.SpcAlarm
    return {"id": alarm.id, "status": alarm.status, "rule": alarm.rule, "ruleText": spc_math.RUN_RULES[alarm.rule].text,
            "value": alarm.value, "specId": row.spec_id, "specName": row.spec_name, "uom": row.uom,
            "operationCode": row.operation_code, "sn": row.sn, "unitStatus": row.unit_status, "runNo": row.run_no,
            "lineCode": row.line_code, "stepNo": row.step_no, "trackId": alarm.track_id,
            "raisedAt": alarm.created_at.isoformat(), "acknowledgedBy": alarm.acknowledged_by,
            "acknowledgedAt": alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else None,
            "reason": alarm.reason}


def list_alarms(*, actor: Actor, status: Optional[str] = None, line_code: Optional[str] = None,
                spec_id: Optional[int] = None, run_id: Optional[int] = None, limit: int = 500) -> list[dict[str, Any]]:
    """SPC alarms of the actor's lines (`data_spec:read`): OPEN first, newest first; filtered by status
    (OPEN / ACKNOWLEDGED), line code, spec and run."""
    require_permission(actor, "data_spec:read")
    status = (status or "").strip().upper() or None
    if status is not None and status not in SPC_ALARM_STATUSES:
        raise fields_error({"status": "OPEN or ACKNOWLEDGED"})
    stmt = _alarm_query().where(line_filter(actor, Run.line_id))
    if status:
        stmt = stmt.where(SpcAlarm.status == status)
    if line_code:
        stmt = stmt.where(Line.code == line_code.strip())
    if spec_id is not None:
        stmt = stmt.where(SpcChart.spec_id == spec_id)
    if run_id is not None:
        stmt = stmt.where(Unit.run_id == run_id)
    stmt = stmt.order_by((SpcAlarm.status == "OPEN").desc(), SpcAlarm.id.desc()).limit(limit)
    return [alarm_to_dict(row) for row in db.session.execute(stmt).all()]


def open_alarm_count(actor: Actor) -> int:
    """OPEN alarms of the actor's lines: the quality worklist's count (the SPC Alarms screen with
    status=OPEN lists the same rows)."""
    return db.session.execute(select(func.count()).select_from(SpcAlarm).join(Unit, Unit.id == SpcAlarm.unit_id)
                              .join(Run, Run.id == Unit.run_id)
                              .where(SpcAlarm.status == "OPEN", line_filter(actor, Run.line_id))).scalar_one()


def alarm_lines(*, actor: Actor) -> list[str]:
    """The codes of the actor's lines (the SPC Alarms screen's line filter)."""
    return list(db.session.execute(select(Line.code).where(line_filter(actor, Line.id)).order_by(Line.code)).scalars())


def open_alarms_of_run(run_id: int) -> list[dict[str, Any]]:
    """The OPEN alarms raised on the run's boards (Run Detail; the caller read the run in the actor's scope)."""
    rows = db.session.execute(_alarm_query().where(SpcAlarm.status == "OPEN", Unit.run_id == run_id)
                              .order_by(SpcAlarm.id.desc()).limit(200)).all()
    return [alarm_to_dict(row) for row in rows]


def open_alarms_by_line(line_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The OPEN alarms of these lines (the line board; the caller checked the scope)."""
    if not line_ids:
        return {}
    rows = db.session.execute(_alarm_query().where(SpcAlarm.status == "OPEN", Run.line_id.in_(list(line_ids)))
                              .order_by(SpcAlarm.id.desc()).limit(200)).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.line_id, []).append(alarm_to_dict(row))
    return out


def acknowledge(*, actor: Actor, alarm_id: int, reason: Optional[str]) -> dict[str, Any]:
    """Acknowledge an OPEN alarm with a reason (`quality:disposition`), audited: SPC_ALARM_NOT_FOUND,
    SPC_ALARM_ALREADY_ACKNOWLEDGED, REASON_REQUIRED. It does not release a held unit."""
    require_permission(actor, "quality:disposition")
    with unit_of_work(actor, "SPC_ALARM_ACKNOWLEDGE", "SPC_ALARM", str(alarm_id)) as uow:
        row = db.session.execute(_alarm_query().where(SpcAlarm.id == alarm_id)).first()
        if row is None:
            raise DomainError("SPC_ALARM_NOT_FOUND", M("No SPC alarm {alarm}.", alarm=alarm_id), {"alarmId": alarm_id})
        require_line(actor, row.line_id, row.line_code)
        alarm = db.session.execute(uow.lock(select(SpcAlarm).where(SpcAlarm.id == alarm_id))).scalar_one()
        if alarm.status != "OPEN":
            raise DomainError("SPC_ALARM_ALREADY_ACKNOWLEDGED",
                              M("SPC alarm {alarm} was acknowledged by {user}.", alarm=alarm_id,
                                user=alarm.acknowledged_by),
                              {"alarmId": alarm_id, "acknowledgedBy": alarm.acknowledged_by})
        reason = required_reason(reason, M("acknowledging the SPC alarm"))
        alarm.status, alarm.acknowledged_by, alarm.acknowledged_at, alarm.reason = (
            "ACKNOWLEDGED", actor.username, now(), reason)
        uow.session.flush()
        uow.reason = reason
        uow.diff = {"before": {"status": "OPEN"}, "after": {"status": "ACKNOWLEDGED"}}
        uow.payload = {"sn": row.sn, "spec": row.spec_name, "rule": alarm.rule}
        result = alarm_to_dict(db.session.execute(_alarm_query().where(SpcAlarm.id == alarm_id)).first())
    return result
