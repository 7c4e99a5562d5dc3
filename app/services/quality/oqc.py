"""OQC (spec 02_rules §9, closeout in §3): the OQC inspection created at closeout, and its decision.

- **Closeout** (`oqc_closeout`, a CLOSEOUT_HOOKS entry of production): when a sampling rule matches
  the run (services/engineering/oqc_rules.py) and the sample size is above 0, an OQC inspection is
  created with a random sample of DONE SNs (or the open one is reused) and the closeout answers
  `OQC_REQUIRED` with `inspectionId` and `sampledSns`; the run stays IN_PROGRESS. The manual close and
  the automatic closeout after the last TrackOut both go through it.
- **Items** only for sampled units (`item_rule`); start and items are the shared ones of
  services/quality/inspections.py.
- **Complete** (`complete_oqc`, the OQC's completer in inspections.COMPLETERS): PASS needs an item for
  every sampled SN and no FAIL item; FAIL needs a FAIL item or a remark. PASS → run COMPLETED; FAIL →
  run ON_HOLD (the MRB decides, services/quality/mrb.py) and every FAIL item records a defect on its
  unit, which stays DONE (01_domain_model §7).
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import Defect, ExecutableRouteVersion, Inspection, Run, Unit, WorkOrder
from ..engineering.oqc_rules import match_rule, sample_size
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M, join, term
from ..platform.uow import UnitOfWork
from .numbering import next_seq
from ..production.extension_points import CloseoutOutcome
from ..production.runs import all_units_terminal, complete_run, hold_run, unit_counts

_random: random.Random = random.SystemRandom()


@contextmanager
def seeded_sampling(seed: int) -> Iterator[None]:
    """Within the block, OQC samples come from a seeded generator: only the demo-history generator
    (seed/history.py) uses it, so the same seed plays the same history. Everywhere else the sample is
    drawn by the system's random source, which nobody can predict."""
    global _random
    previous, _random = _random, random.Random(seed)
    try:
        yield
    finally:
        _random = previous


def latest_oqc(run_id: int) -> Optional[Inspection]:
    return db.session.execute(select(Inspection).where(Inspection.run_id == run_id, Inspection.type == "OQC")
                              .order_by(Inspection.id.desc()).limit(1)).scalar_one_or_none()


def rule_for(run: Run):
    """The sampling rule of a run: matched on the run's product, line and routing."""
    product_id, routing_id = db.session.execute(
        select(WorkOrder.product_id, ExecutableRouteVersion.routing_id).select_from(Run)
        .join(WorkOrder, WorkOrder.id == Run.work_order_id)
        .join(ExecutableRouteVersion, ExecutableRouteVersion.id == Run.route_version_id)
        .where(Run.id == run.id)).one()
    return match_rule(product_id=product_id, line_id=run.line_id, routing_id=routing_id)


# ---------------------------------------------------------------------------------------------
# Closeout hook: create (or reuse) the OQC
# ---------------------------------------------------------------------------------------------

def _required(inspection: Inspection, run: Run, *, created: bool) -> CloseoutOutcome:
    sns = list(inspection.sampled_sns or [])
    details = {"inspectionId": inspection.id, "inspectionNo": inspection.number, "sampledSns": sns, "runNo": run.run_no}
    error = DomainError("OQC_REQUIRED", M("Run {run} needs its OQC before it completes: quality inspects "
                                          "{sns} ({inspection}, {status}).", run=run.run_no, sns=join(sns),
                                          inspection=inspection.number, status=term(inspection.status)), details)
    return CloseoutOutcome(False, error, details, changed=created)


def oqc_closeout(uow: UnitOfWork, run: Run, plan, actor: Actor) -> Optional[CloseoutOutcome]:
    """CLOSEOUT_HOOKS entry (02_rules §3): an open OQC keeps the run open; else, when a rule matches
    and the sample size is above 0, create the OQC with a random sample of DONE SNs and keep the run
    IN_PROGRESS; otherwise (no rule, size 0, or an OQC already passed) let the run complete."""
    key = Inspection.open_key_for(run.id, "OQC")
    open_oqc = db.session.execute(select(Inspection).where(Inspection.open_key == key)).scalar_one_or_none()
    if open_oqc is not None:
        return _required(open_oqc, run, created=False)
    latest = latest_oqc(run.id)
    if latest is not None and latest.status == "PASS":
        return None
    rule = rule_for(run)
    if rule is None:
        return None
    done = list(db.session.execute(select(Unit.sn).where(Unit.run_id == run.id, Unit.status == "DONE")
                                   .order_by(Unit.sn)).scalars())
    size = sample_size(rule.sampling_type, rule.sample_value, len(done))
    if size == 0:
        return None
    sampled = sorted(_random.sample(done, size))
    inspection = Inspection(run_id=run.id, type="OQC", seq=next_seq(uow, "OQC"), status="PENDING", open_key=key, sample_qty=size,
                            sampled_sns=sampled, sampling_rule_id=rule.id, created_by=actor.username)
    uow.session.add(inspection)
    uow.session.flush()
    uow.audit("OQC_CREATE", "INSPECTION", str(inspection.id),
              payload={"runNo": run.run_no, "inspectionNo": inspection.number, "ruleId": rule.id, "ruleName": rule.name, "doneUnits": len(done),
                       "sampleQty": size, "sampledSns": sampled})
    return _required(inspection, run, created=True)


# ---------------------------------------------------------------------------------------------
# Items and decision (the OQC's entries in inspections.ITEM_RULES and COMPLETERS)
# ---------------------------------------------------------------------------------------------

def item_rule(inspection: Inspection, unit: Unit) -> None:
    """An OQC item is for a sampled unit (`UNIT_NOT_IN_SAMPLE`)."""
    if unit.sn not in (inspection.sampled_sns or []):
        raise DomainError("UNIT_NOT_IN_SAMPLE", M("Unit {sn} is not in this OQC's sample: inspect {sns}.",
                                                     sn=unit.sn, sns=join(inspection.sampled_sns or [])), {"sampledSns": inspection.sampled_sns or []})


def complete_oqc(uow: UnitOfWork, inspection: Inspection, decision: str, remark: Optional[str],
                 per_sn: dict[str, list[str]], failed_sns: set[str], actor: Actor) -> None:
    """PASS needs an item for every sampled SN and no FAIL item (`OQC_ITEMS_MISSING`); FAIL needs a
    FAIL item or a remark (`INVALID_OQC_DECISION`). Every unit of the run is finished
    (`RUN_UNITS_NOT_TERMINAL`). PASS → run COMPLETED; FAIL → run ON_HOLD."""
    failed = sorted(failed_sns)
    sampled = list(inspection.sampled_sns or [])
    if decision == "PASS":
        missing = [sn for sn in sampled if sn not in per_sn]
        if missing or failed:
            if missing:
                message = M("{inspection} cannot pass: no item yet for {sns}.", inspection=inspection.number,
                            sns=join(missing))
            elif len(failed) == 1:
                message = M("{inspection} cannot pass: {sns} has a FAIL item: decide FAIL.",
                            inspection=inspection.number, sns=join(failed))
            else:
                message = M("{inspection} cannot pass: {sns} have a FAIL item: decide FAIL.",
                            inspection=inspection.number, sns=join(failed))
            raise DomainError("OQC_ITEMS_MISSING", message,
                              {"missing": missing, "failItems": failed})
    elif not failed and not remark:
        raise DomainError("INVALID_OQC_DECISION", M("A FAIL decision needs a FAIL item or a remark saying why."))
    run = db.session.execute(uow.lock(select(Run).where(Run.id == inspection.run_id))).scalar_one()
    counts = unit_counts(run.id)
    if not all_units_terminal(counts):
        raise DomainError("RUN_UNITS_NOT_TERMINAL", M("Run {run} has units not DONE or SCRAPPED: finish or "
                                                         "disposition them before the OQC decision.", run=run.run_no), {"counts": counts})
    if decision == "PASS":
        complete_run(uow, run, payload={"oqcId": inspection.id})
        return
    hold_run(uow, run, reason=remark, payload={"oqcId": inspection.id, "failItems": failed})
    # an OQC FAIL item records a defect on its unit, which stays DONE: the MRB decides (01 §7)
    units = {u.sn: u for u in db.session.execute(select(Unit).where(Unit.sn.in_(failed))).scalars()} if failed else {}
    for item in inspection.items:
        if item.result != "FAIL" or item.unit_sn not in units:
            continue
        unit = units[item.unit_sn]
        uow.session.add(Defect(unit_id=unit.id, step_no=unit.current_step_no, code=item.defect_code,
                               description=f"{inspection.number}: {item.item_name}"
                               + (f" ({item.actual_value})" if item.actual_value else ""),
                               qty=1, status="RECORDED", source="MANUAL"))
