"""Statistical process control on collected data (issue 18): which numeric specs are charted and how,
their baseline limits, and the chart of a period with its capability and the run rules that fired.

- An engineer configures a spec's chart (`data_spec:config`): I-MR, X̄-R or X̄-S with a subgroup size,
  the Nelson run rules to apply (Western Electric's: 1, 2, 5, 6 with `same_side_run` 8), and what an
  alarm does (ALARM, or HOLD the unit like a FAIL limit action). Changing the chart type or the subgroup
  size drops the baseline: limits of another chart do not apply.
- The baseline limits come from the values of a chosen period (at least MIN_BASELINE_POINTS plotted
  points, at most the period's last MAX_CHART_POINTS) and stay frozen until an engineer recomputes them; both changes are audited with before/after.
- The chart of a period (`data_spec:read`) plots the values in collection order against the frozen
  limits — or, before there is a baseline, against trial limits from the plotted values themselves
  (`limits.frozen` false) — with Cp/Cpk (within-subgroup sigma of those limits) and Pp/Ppk (overall sigma)
  against the spec's LSL/USL, and the enabled rules that fire at each point.
X̄ subgroups: a value stored while its chart was armed has its place in the series (`spc_seq`, numbered by
its TrackOut, services/quality/spc_alarms.py) and belongs to subgroup (spc_seq - 1) // n for good, whatever
the period shown; values stored before (no number) are grouped consecutively from the first one read, as
they come. A subgroup left incomplete is not plotted. The alarms raised at TrackOut are marked on their
points (`alarms`: the rules; `alarmIds`). The arithmetic is spc_math's; this module reads and writes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import DataCollectionSpec, DataValue, Operation, Run, Track, Unit
from ...models.spc import SPC_ALARM_ACTIONS, SpcAlarm, SpcChart
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, term
from ..platform.scope import line_filter, require_permission
from ..platform.uow import unit_of_work
from ..platform.validation import fields_error
from . import spc_math

MIN_BASELINE_POINTS = 20   # plotted points (individuals, or subgroups) a baseline needs
MAX_CHART_POINTS = 2000    # the most recent plotted points a chart shows


# ---------------------------------------------------------------------------------------------
# Configuration and baseline
# ---------------------------------------------------------------------------------------------

def _numeric_spec(spec_id: int) -> DataCollectionSpec:
    spec = db.session.get(DataCollectionSpec, spec_id)
    if spec is None:
        raise DomainError("SPC_SPEC_NOT_FOUND", M("No data-collection spec {id}.", id=spec_id), {"specId": spec_id})
    if spec.data_type != "NUMBER":
        raise DomainError("SPC_SPEC_NOT_NUMERIC", M("Spec {spec} collects {type} values: only NUMBER specs can be charted.",
                                                      spec=spec.name, type=term(spec.data_type)), {"specId": spec_id})
    return spec


def _chart_of(spec_id: int) -> Optional[SpcChart]:
    return db.session.execute(select(SpcChart).where(SpcChart.spec_id == spec_id)).scalar_one_or_none()


def check_config(chart_type: Any, subgroup_size: Any, rules: Any, same_side_run: Any, on_alarm: Any) -> tuple:
    """The configuration's values, normalised, or VALIDATION_ERROR naming every wrong field."""
    errors: dict[str, str] = {}
    kind = str(chart_type or "").strip().upper()
    if kind not in spc_math.CHART_TYPES:
        errors["chartType"] = f"one of {', '.join(spc_math.CHART_TYPES)}"
    size = 1
    if kind in ("XBAR_R", "XBAR_S"):
        if isinstance(subgroup_size, bool) or not isinstance(subgroup_size, int) \
                or not spc_math.MIN_SUBGROUP <= subgroup_size <= spc_math.MAX_SUBGROUP:
            errors["subgroupSize"] = f"a whole number from {spc_math.MIN_SUBGROUP} to {spc_math.MAX_SUBGROUP}"
        else:
            size = subgroup_size
    elif subgroup_size not in (None, 1):
        errors["subgroupSize"] = "1 for an I-MR chart (individual values)"
    if not isinstance(rules, list) or any(isinstance(r, bool) or r not in spc_math.RUN_RULES for r in rules):
        errors["rules"] = "a list of Nelson rule numbers 1 to 8 (may be empty)"
    run = 9 if same_side_run is None else same_side_run
    if run not in (8, 9) or isinstance(run, bool):
        errors["sameSideRun"] = "9 (Nelson) or 8 (Western Electric)"
    action = str(on_alarm or "ALARM").strip().upper()
    if action not in SPC_ALARM_ACTIONS:
        errors["onAlarm"] = "ALARM or HOLD"
    if errors:
        raise fields_error(errors)
    return kind, size, sorted(set(rules)), run, action


def configure(*, actor: Actor, spec_id: int, chart_type: Any, subgroup_size: Any = None, rules: Any = (),
              same_side_run: Any = None, on_alarm: Any = None, is_active: bool = True) -> SpcChart:
    """Create or change a spec's chart (`data_spec:config`), audited with before/after."""
    require_permission(actor, "data_spec:config")
    rules = list(rules) if isinstance(rules, (list, tuple)) else rules
    kind, size, rule_list, run, action = check_config(chart_type, subgroup_size, rules, same_side_run, on_alarm)
    with unit_of_work(actor, "SPC_CHART_CONFIG", "DATA_SPEC", str(spec_id)) as uow:
        _numeric_spec(spec_id)
        chart = _chart_of(spec_id)
        before = chart_config(chart) if chart else None
        if chart is None:
            chart = SpcChart(spec_id=spec_id)
            db.session.add(chart)
        elif (chart.chart_type, chart.subgroup_size) != (kind, size):
            _clear_baseline(chart)  # another chart's limits do not apply
        chart.chart_type, chart.subgroup_size, chart.rules = kind, size, rule_list
        chart.same_side_run, chart.on_alarm, chart.is_active = run, action, bool(is_active)
        db.session.flush()
        uow.diff = {"before": before, "after": chart_config(chart)}
        return chart


def _clear_baseline(chart: SpcChart) -> None:
    for column in ("center", "lcl", "ucl", "sigma", "dispersion_center", "dispersion_lcl", "dispersion_ucl",
                   "sigma_within", "baseline_points", "baseline_from", "baseline_to", "baseline_by", "baseline_at"):
        setattr(chart, column, None)


def recompute_baseline(*, actor: Actor, spec_id: int, date_from: Optional[datetime],
                       date_to: Optional[datetime]) -> SpcChart:
    """Freeze new limits from the values collected in [date_from, date_to) (`data_spec:config`)."""
    require_permission(actor, "data_spec:config")
    # read before the write transaction (on SQLite the write lock holds every TrackOut while it is held);
    # at most the period's last MAX_CHART_POINTS plotted points
    configured = _chart_of(spec_id)
    size = configured.subgroup_size if configured else 1
    read = [row.value for group in _subgroups(_values(spec_id, date_from, date_to, MAX_CHART_POINTS * size, actor), size)
            for row in group]  # grouped as the chart groups them
    with unit_of_work(actor, "SPC_BASELINE", "DATA_SPEC", str(spec_id)) as uow:
        _numeric_spec(spec_id)
        chart = _chart_of(spec_id)
        if chart is None:
            raise DomainError("SPC_CHART_NOT_CONFIGURED", M("Spec {id} has no SPC chart yet.", id=spec_id), {"specId": spec_id})
        values = read if chart.subgroup_size == size else []  # changed meanwhile: too short, try again
        points = len(values) // chart.subgroup_size
        if points < MIN_BASELINE_POINTS:
            raise DomainError("SPC_BASELINE_TOO_SHORT",
                              M("The period holds {points} plotted point(s) ({values} value(s)); a baseline "
                                "needs at least {needed}.", points=points, values=len(values), needed=MIN_BASELINE_POINTS),
                              {"specId": spec_id, "points": points, "needed": MIN_BASELINE_POINTS})
        before = baseline_to_dict(chart)
        lim = spc_math.limits(chart.chart_type, values, chart.subgroup_size)
        if lim.sigma_within <= 0:
            raise DomainError("SPC_BASELINE_NO_SPREAD",
                              M("Every value of the period is the same ({value}): no limits can be computed "
                                "from it.", value=f"{values[0]:g}"), {"specId": spec_id, "points": points})
        chart.center, chart.lcl, chart.ucl, chart.sigma = lim.center, lim.lcl, lim.ucl, lim.sigma
        chart.dispersion_center, chart.dispersion_lcl = lim.dispersion_center, lim.dispersion_lcl
        chart.dispersion_ucl, chart.sigma_within, chart.baseline_points = lim.dispersion_ucl, lim.sigma_within, lim.points
        chart.baseline_from, chart.baseline_to = date_from, date_to
        chart.baseline_by, chart.baseline_at = actor.username, now()
        uow.diff = {"before": before, "after": baseline_to_dict(chart)}
        return chart


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def _values(spec_id: int, date_from: Optional[datetime], date_to: Optional[datetime], limit: Optional[int],
            actor: Actor):
    """The spec's numeric values in collection order (the most recent `limit` when given), with their unit —
    of the runs on the actor's lines only (platform/scope.py), like every other read of production data."""
    dv, track = DataValue.__table__, Track.__table__
    stmt = (select(dv.c.value_number.label("value"), dv.c.collected_at.label("at"), dv.c.track_id,
                   Unit.__table__.c.sn, dv.c.spc_seq)
            .join(track, track.c.id == dv.c.track_id)
            .join(Unit.__table__, Unit.__table__.c.id == track.c.unit_id)
            .join(Run.__table__, Run.__table__.c.id == track.c.run_id)
            .where(dv.c.spec_id == spec_id, dv.c.value_number.is_not(None), line_filter(actor, Run.__table__.c.line_id)))
    if date_from is not None:
        stmt = stmt.where(dv.c.collected_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(dv.c.collected_at < date_to)
    if limit is None:
        return db.session.execute(stmt.order_by(dv.c.collected_at, dv.c.id)).all()
    rows = db.session.execute(stmt.order_by(dv.c.collected_at.desc(), dv.c.id.desc()).limit(limit)).all()
    return rows[::-1]


def chart(*, actor: Actor, spec_id: int, date_from: Optional[datetime] = None,
          date_to: Optional[datetime] = None) -> dict[str, Any]:
    """The chart of a spec over a period (`data_spec:read`): points, limits, capability, rule hits."""
    require_permission(actor, "data_spec:read")
    spec = _numeric_spec(spec_id)
    config = _chart_of(spec_id)
    kind = config.chart_type if config else "IMR"
    size = config.subgroup_size if config else 1
    read = _values(spec_id, date_from, date_to, MAX_CHART_POINTS * size, actor)
    rows = [row for group in _subgroups(read, size) for row in group]  # complete subgroups, in order
    values = [row.value for row in rows]
    frozen = config is not None and config.center is not None
    limits = _frozen_limits(config) if frozen else _trial_limits(kind, values, size)
    plotted, spread = spc_math.plotted(kind, values, size)
    raised = _alarms_by_track(config, [row.track_id for row in rows])
    hits: dict[int, list[int]] = {}
    if frozen:  # run rules judge against a baseline only, never against limits from the points themselves
        for index, rule in spc_math.evaluate(plotted, limits["center"], limits["sigma"], config.rules,
                                             config.same_side_run):
            hits.setdefault(index, []).append(rule)
    points = []
    for i, value in enumerate(plotted):
        members = rows[i * size:(i + 1) * size]
        if kind == "IMR":  # a moving range from the second individual on
            dispersion = spread[i - 1] if i > 0 else None
        else:
            dispersion = spread[i]
        alarms = raised.get(members[-1].track_id, [])
        points.append({"index": i, "value": value, "dispersion": dispersion, "at": members[-1].at.isoformat(),
                       "sns": [m.sn for m in members], "trackIds": [m.track_id for m in members],
                       "rules": hits.get(i, []), "alarms": [rule for _, rule in alarms],
                       "alarmIds": [alarm_id for alarm_id, _ in alarms]})
    capability, everything = None, [row.value for row in read]
    if len(everything) >= 2 and limits is not None:
        cap = spc_math.capability(everything, limits["sigmaWithin"], spec.lsl, spec.usl)
        capability = {"n": len(everything), "mean": cap.mean, "sigmaWithin": cap.sigma_within,
                      "sigmaOverall": cap.sigma_overall, "cp": cap.cp, "cpk": cap.cpk, "pp": cap.pp, "ppk": cap.ppk}
    return {"spec": {"id": spec.id, "name": spec.name, "uom": spec.uom, "lsl": spec.lsl, "target": spec.target,
                     "usl": spec.usl},
            "chart": chart_config(config) if config else None,
            "baseline": baseline_to_dict(config) if frozen else None,
            "limits": limits, "points": points, "capability": capability,
            "rules": {str(n): r.text for n, r in spc_math.RUN_RULES.items()}}


def _subgroups(rows: list, size: int) -> list[list]:
    """The complete subgroups of the rows read (module docstring): numbered values by their number —
    whatever unnumbered rows lie between them (values stored while the chart was not armed), so a subgroup
    is the one the TrackOut judged — unnumbered ones consecutively. A subgroup stands where its first
    value does."""
    if size == 1:
        return [[row] for row in rows]
    groups, chunk, keyed = [], [], {}
    for row in rows:
        if row.spc_seq is None:
            chunk.append(row)
            if len(chunk) == size:
                groups.append(chunk)
                chunk = []
            continue
        if chunk:  # a numbered value ends a run of unnumbered ones (incomplete: dropped below)
            groups.append(chunk)
            chunk = []
        key = (row.spc_seq - 1) // size
        if key not in keyed:
            keyed[key] = []
            groups.append(keyed[key])
        keyed[key].append(row)
    if chunk:
        groups.append(chunk)
    return [group for group in groups if len(group) == size]


def _alarms_by_track(config: Optional[SpcChart], track_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """The alarms raised on the chart at these tracks: track id → [(alarm id, rule)]."""
    if config is None or not track_ids:
        return {}
    found: dict[int, list[tuple[int, int]]] = {}
    for start in range(0, len(track_ids), 900):  # stay under the database's bound-parameter limits
        for alarm_id, track_id, rule in db.session.execute(
                select(SpcAlarm.id, SpcAlarm.track_id, SpcAlarm.rule)
                .where(SpcAlarm.chart_id == config.id, SpcAlarm.track_id.in_(track_ids[start:start + 900]))
                .order_by(SpcAlarm.id)).all():
            found.setdefault(track_id, []).append((alarm_id, rule))
    return found


def overview(*, actor: Actor) -> list[dict[str, Any]]:
    """Every active NUMBER spec with its chart, if any (`data_spec:read`): the SPC screen's list."""
    require_permission(actor, "data_spec:read")
    rows = db.session.execute(
        select(DataCollectionSpec, Operation.code, SpcChart)
        .join(Operation, Operation.id == DataCollectionSpec.operation_id)
        .outerjoin(SpcChart, SpcChart.spec_id == DataCollectionSpec.id)
        .where(DataCollectionSpec.data_type == "NUMBER", DataCollectionSpec.is_active.is_(True))
        .order_by(Operation.code, DataCollectionSpec.name)).all()
    return [{"specId": spec.id, "name": spec.name, "operationCode": operation, "uom": spec.uom,
             "lsl": spec.lsl, "usl": spec.usl, "chart": chart_config(chart) if chart else None,
             "baseline": baseline_to_dict(chart) if chart else None} for spec, operation, chart in rows]


def _frozen_limits(config: SpcChart) -> dict[str, Any]:
    return {"frozen": True, "center": config.center, "lcl": config.lcl, "ucl": config.ucl, "sigma": config.sigma,
            "dispersionCenter": config.dispersion_center, "dispersionLcl": config.dispersion_lcl,
            "dispersionUcl": config.dispersion_ucl, "sigmaWithin": config.sigma_within}


def _trial_limits(kind: str, values: list[float], size: int) -> Optional[dict[str, Any]]:
    try:
        lim = spc_math.limits(kind, values, size)
    except ValueError:  # too few values to compute limits
        return None
    return {"frozen": False, "center": lim.center, "lcl": lim.lcl, "ucl": lim.ucl, "sigma": lim.sigma,
            "dispersionCenter": lim.dispersion_center, "dispersionLcl": lim.dispersion_lcl,
            "dispersionUcl": lim.dispersion_ucl, "sigmaWithin": lim.sigma_within}


def chart_config(chart: SpcChart) -> dict[str, Any]:
    return {"specId": chart.spec_id, "chartType": chart.chart_type, "subgroupSize": chart.subgroup_size,
            "rules": list(chart.rules or []), "sameSideRun": chart.same_side_run, "onAlarm": chart.on_alarm,
            "isActive": chart.is_active}


def baseline_to_dict(chart: SpcChart) -> Optional[dict[str, Any]]:
    if chart.center is None:
        return None
    return {"center": chart.center, "lcl": chart.lcl, "ucl": chart.ucl, "sigma": chart.sigma,
            "dispersionCenter": chart.dispersion_center, "dispersionLcl": chart.dispersion_lcl,
            "dispersionUcl": chart.dispersion_ucl, "sigmaWithin": chart.sigma_within,
            "points": chart.baseline_points,
            "from": chart.baseline_from.isoformat() if chart.baseline_from else None,
            "to": chart.baseline_to.isoformat() if chart.baseline_to else None,
            "by": chart.baseline_by, "at": chart.baseline_at.isoformat() if chart.baseline_at else None}
