"""Loading verification (spec 02_rules §6): the run's slot table, reel scans, replacement during
production, slot lock after three consecutive failures and unlock with a reason."""
from __future__ import annotations

import re
from typing import Any, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import (
    FeederSlot, Line, LoadingRecord, Material, MaterialLot, Product, Run, RunSlotExpectation, SlotMaterialMapping,
    WorkOrder,
)
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, join, term
from ..platform.scope import line_filter, require_line, require_permission, require_visible
from ..platform.states import transition
from ..platform.uow import UnitOfWork, unit_of_work
from ..platform.validation import required_reason
from ..production.runs import get_run, read_run, run_missing
from . import msd
from .consumables import current_bindings

LOCK_AFTER = 3
_SEPARATORS = re.compile(r"[|:@#]")
ACTIVE_FOR_REPLACE = ("PREP", "AUTHORIZED", "IN_PROGRESS")


def _run_context(run: Run) -> tuple[Product, int]:
    wo = db.session.get(WorkOrder, run.work_order_id)
    return wo.product, wo.routing_id


# ---------------------------------------------------------------------------------------------
# Slot table
# ---------------------------------------------------------------------------------------------

def _specificity(mapping: SlotMaterialMapping, product_id: int, routing_id: Optional[int]) -> Optional[int]:
    """3 product+routing, 2 product, 1 routing, 0 generic; None when the mapping is for another."""
    if mapping.product_id not in (None, product_id) or mapping.routing_id not in (None, routing_id):
        return None
    return (2 if mapping.product_id else 0) + (1 if mapping.routing_id else 0)


def expected_for(slot: FeederSlot, product_id: int, routing_id: Optional[int]
                 ) -> Optional[tuple[Material, list[str]]]:
    """The most specific mapping set of a slot: primary = lowest-priority non-alternate, alternates =
    the rest."""
    scored = [(m, _specificity(m, product_id, routing_id)) for m in slot.mappings]
    scored = [(m, s) for m, s in scored if s is not None]
    if not scored:
        return None
    best = max(s for _, s in scored)
    chosen = sorted((m for m, s in scored if s == best), key=lambda m: (m.is_alternate, m.priority, m.id))
    primary = next((m for m in chosen if not m.is_alternate), None)
    if primary is None:
        return None
    alternates = [m.material.code for m in chosen if m is not primary and m.material_id != primary.material_id]
    return primary.material, sorted(set(alternates))


def load_slot_table(*, actor: Actor, run_no: str) -> list[RunSlotExpectation]:
    """Load the run's slot table (`loading:verify`): a PREP run, no scan yet, slots on the line, and a
    mapping for every slot."""
    require_permission(actor, "loading:verify")
    with unit_of_work(actor, "LOADING_TABLE_LOAD", "RUN", run_no) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        if run.status != "PREP":
            raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}: the slot table is loaded while it is PREP.",
                                                      run=run_no, status=term(run.status)), {"status": run.status})
        if db.session.execute(select(LoadingRecord.id).where(LoadingRecord.run_id == run.id).limit(1)).first():
            raise DomainError("LOADING_ALREADY_STARTED", M("Reels were already scanned for run {run}: continue "
                                                           "scanning, or replace a reel.", run=run_no))
        slots = db.session.execute(select(FeederSlot).where(FeederSlot.line_id == run.line_id)
                                   .order_by(FeederSlot.position, FeederSlot.slot_code)).scalars().all()
        if not slots:
            raise DomainError("FEEDER_SLOTS_NOT_FOUND", M("The line has no feeder slots."))
        product, routing_id = _run_context(run)
        expectations, missing = [], []
        for slot in slots:
            expected = expected_for(slot, product.id, routing_id)
            if expected is None:
                missing.append(slot.slot_code)
                continue
            expectations.append((slot, *expected))
        if missing:
            raise DomainError("SLOT_MAPPING_MISSING", M("No material mapping for slot(s) {slots}.", slots=join(missing)),
                              {"slots": missing})
        for old in db.session.execute(select(RunSlotExpectation).where(RunSlotExpectation.run_id == run.id)).scalars():
            uow.session.delete(old)
        uow.session.flush()
        rows = [RunSlotExpectation(run_id=run.id, slot_id=slot.id, expected_material_id=material.id,
                                   alternates=alternates, status="PENDING")
                for slot, material, alternates in expectations]
        uow.session.add_all(rows)
        uow.session.flush()
        uow.payload = {"slots": [s.slot_code for s, _, _ in expectations]}
    return rows


# ---------------------------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------------------------

def barcode_parts(barcode: str) -> list[str]:
    """A reel label `MATERIAL|LOT` (also `:` `@` `#`) or a bare lot number, as its one or two parts."""
    text = (barcode or "").strip()
    parts = [p.strip() for p in _SEPARATORS.split(text)] if text else []
    if not text or len(parts) > 2 or any(not p for p in parts):
        raise DomainError("BARCODE_INVALID", M("Cannot read {text} as MATERIAL|LOT: scan the reel's lot label.",
                                               text=repr(text)),
                          {"barcode": text})
    return parts


def lot_by_number(lot_no: str) -> MaterialLot:
    """The one lot with this number (a bare lot on a label); MATERIAL_LOT_NOT_FOUND, or
    MATERIAL_LOT_AMBIGUOUS when several materials have a lot of that number."""
    lots = db.session.execute(select(MaterialLot).where(MaterialLot.lot_no == lot_no).limit(2)).scalars().all()
    if not lots:
        raise DomainError("MATERIAL_LOT_NOT_FOUND", M("No lot {lot}: give the full MATERIAL|LOT label.", lot=lot_no),
                          {"lotNo": lot_no})
    if len(lots) > 1:
        raise DomainError("MATERIAL_LOT_AMBIGUOUS", M("Lot {lot} exists for several materials: give the full "
                                                      "MATERIAL|LOT label.", lot=lot_no), {"lotNo": lot_no})
    return lots[0]


def resolve_barcode(barcode: str) -> tuple[Material, MaterialLot]:
    """`MATERIAL|LOT` (also `:` `@` `#`), or a bare lot number that resolves to exactly one lot. An
    unknown lot of a known material is created on the fly."""
    parts = barcode_parts(barcode)
    if len(parts) == 1:
        lot = lot_by_number(parts[0])
        return lot.material, lot
    material = db.session.execute(select(Material).where(Material.code == parts[0])).scalar_one_or_none()
    if material is None:
        raise DomainError("MATERIAL_LOT_NOT_FOUND", M("No material {material}.", material=parts[0]),
                          {"materialCode": parts[0]})
    lot = db.session.execute(select(MaterialLot).where(MaterialLot.material_id == material.id,
                                                       MaterialLot.lot_no == parts[1])).scalar_one_or_none()
    if lot is None:
        lot = MaterialLot(material=material, lot_no=parts[1], iqc_result="PENDING")
        db.session.add(lot)
        db.session.flush()
    return material, lot


def _slot(line_id: int, slot_code: str, uow: UnitOfWork) -> FeederSlot:
    slot = db.session.execute(uow.lock(select(FeederSlot).where(FeederSlot.line_id == line_id,
                                                                FeederSlot.slot_code == slot_code))).scalar_one_or_none()
    if slot is None:
        raise DomainError("SLOT_NOT_FOUND", M("No slot {slot} on this line: scan the slot label.", slot=slot_code),
                          {"slotCode": slot_code})
    return slot


def _expectation(run: Run, slot: FeederSlot) -> RunSlotExpectation:
    expectation = db.session.execute(select(RunSlotExpectation).where(
        RunSlotExpectation.run_id == run.id, RunSlotExpectation.slot_id == slot.id)).scalar_one_or_none()
    if expectation is None:
        raise DomainError("SLOT_EXPECTATION_MISSING", M("Slot {slot} is not in run {run}'s slot table: load the slot "
                                                        "table first.", slot=slot.slot_code, run=run.run_no))
    return expectation


def _record(run: Run, slot: FeederSlot, expectation: RunSlotExpectation, barcode: str, material: Material,
            lot: MaterialLot, actor: Actor) -> LoadingRecord:
    """Judge one reel for a slot and record it (PASS / WARNING load the slot; FAIL counts)."""
    expected = expectation.expected_material
    clock = msd.lot_clock(material, lot)
    if lot.iqc_result == "REJECTED":
        verdict, reason = "FAIL", "MATERIAL_LOT_REJECTED"
    elif clock is not None and clock.status == "EXPIRED":
        verdict, reason = "FAIL", "MSD_FLOOR_LIFE_EXPIRED"
    elif material.id == expected.id:
        verdict, reason = "PASS", None
    elif material.code in (expectation.alternates or []):
        verdict, reason = "WARNING", None
    else:
        verdict, reason = "FAIL", "MATERIAL_MISMATCH"
    at = now()
    record = LoadingRecord(run_id=run.id, slot_id=slot.id, lot_id=lot.id, barcode=barcode,
                           expected_material_code=expected.code, scanned_material_code=material.code,
                           verify_result=verdict, fail_reason=reason, loaded_by=actor.username, loaded_at=at,
                           status="LOADED" if verdict != "FAIL" else None)
    db.session.add(record)
    if verdict == "FAIL":
        expectation.status = transition("SLOT_EXPECTATION", expectation.status, "MISMATCH")
        slot.failed_attempts = (slot.failed_attempts or 0) + 1
        if slot.failed_attempts >= LOCK_AFTER:
            slot.is_locked, slot.locked_at = True, at
            slot.locked_reason = f"{slot.failed_attempts} consecutive failed scans (last: {material.code}|{lot.lot_no})"
    else:
        expectation.status = transition("SLOT_EXPECTATION", expectation.status, "LOAD")
        expectation.loaded_material_id, expectation.loaded_lot_id = material.id, lot.id
        expectation.loaded_at, expectation.loaded_by = at, actor.username
        slot.failed_attempts, slot.current_lot_id = 0, lot.id
    db.session.flush()
    record.msd = msd.clock_to_dict(clock)  # for the answer: the reel's floor life, when it has a clock
    return record


def _recheck_floor_life(run: Run, slot: FeederSlot, material: Material, lot: MaterialLot,
                        current: LoadingRecord) -> None:
    """A re-scan of the reel already loaded on the slot checks its floor life like a first scan: a reel
    that ran out on the line is refused (MSD_FLOOR_LIFE_EXPIRED, audited; the slot stays loaded and the
    LOADING readiness item fails until the reel is replaced), one close to it answers its clock."""
    clock = msd.lot_clock(material, lot)
    if clock is not None and clock.status == "EXPIRED":
        raise DomainError("MSD_FLOOR_LIFE_EXPIRED", M("{reel} on slot {slot} has spent its floor life on the line: "
                                                      "replace the reel (Replace mode) and have it baked.",
                                                      reel=f"{material.code}|{lot.lot_no}", slot=slot.slot_code),
                          {"slotCode": slot.slot_code, "materialCode": material.code, "lotNo": lot.lot_no,
                           "runNo": run.run_no, "msd": msd.clock_to_dict(clock)})
    current.msd = msd.clock_to_dict(clock)  # for the answer, like a first scan's


def verify(*, actor: Actor, run_no: str, slot_code: str, barcode: str) -> dict[str, Any]:
    """Scan a reel onto a slot (`loading:verify`): PASS, WARNING (an alternate) or FAIL with a reason
    (HTTP 200 either way); the same reel again on a loaded slot is idempotent."""
    require_permission(actor, "loading:verify")
    with unit_of_work(actor, "LOADING_VERIFY", "RUN", run_no) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        if run.status not in ACTIVE_FOR_REPLACE:
            raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}.", run=run_no, status=term(run.status)),
                              {"status": run.status})
        material, lot = resolve_barcode(barcode)
        slot = _slot(run.line_id, slot_code, uow)
        if slot.is_locked:
            raise DomainError("SLOT_LOCKED", M("Slot {slot} is locked after {count} failed scans: call the line leader to "
                                               "unlock it.", slot=slot_code, count=slot.failed_attempts),
                              {"slotCode": slot_code})
        expectation = _expectation(run, slot)
        if expectation.status == "LOADED":
            current = db.session.execute(select(LoadingRecord).where(
                LoadingRecord.run_id == run.id, LoadingRecord.slot_id == slot.id, LoadingRecord.status == "LOADED")
                .order_by(LoadingRecord.id.desc()).limit(1)).scalar_one_or_none()
            if current is not None and current.lot_id == lot.id:
                _recheck_floor_life(run, slot, material, lot, current)
                uow.nothing_changed()
                return record_to_dict(current, slot, idempotent=True)
            raise DomainError("SLOT_ALREADY_LOADED", M("Slot {slot} is already loaded for run {run}: use replace to "
                                                       "change the reel.", slot=slot_code, run=run_no),
                              {"slotCode": slot_code})
        record = _record(run, slot, expectation, barcode, material, lot, actor)
        uow.payload = {"slot": slot_code, "barcode": barcode, "verifyResult": record.verify_result,
                       "failReason": record.fail_reason, "locked": slot.is_locked}
        if record.verify_result == "FAIL":
            uow.refused(record.fail_reason)  # recorded (the slot counts it) and audited as the refusal it is
        return record_to_dict(record, slot)


def replace(*, actor: Actor, run_no: str, slot_code: str, barcode: str, reason: str) -> dict[str, Any]:
    """Replace the reel of a loaded slot (`loading:verify`) — also during production: the old record
    becomes REPLACED, the new reel is verified like a scan."""
    require_permission(actor, "loading:verify")
    with unit_of_work(actor, "LOADING_REPLACE", "RUN", run_no, reason=reason) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        reason = required_reason(reason, M("replacing the reel (e.g. reel empty)"))
        if run.status not in ACTIVE_FOR_REPLACE:
            raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}.", run=run_no, status=term(run.status)),
                              {"status": run.status})
        material, lot = resolve_barcode(barcode)
        slot = _slot(run.line_id, slot_code, uow)
        if slot.is_locked:
            raise DomainError("SLOT_LOCKED", M("Slot {slot} is locked: call the line leader to unlock it.", slot=slot_code))
        expectation = _expectation(run, slot)
        current = db.session.execute(select(LoadingRecord).where(
            LoadingRecord.run_id == run.id, LoadingRecord.slot_id == slot.id, LoadingRecord.status == "LOADED")
            .order_by(LoadingRecord.id.desc()).limit(1)).scalar_one_or_none()
        if expectation.status != "LOADED" or current is None:
            raise DomainError("SLOT_NOT_LOADED", M("Slot {slot} is not loaded: scan the reel (verify) instead.",
                                                   slot=slot_code))
        at = now()
        current.status, current.unloaded_at, current.unloaded_by = "REPLACED", at, actor.username
        current.replace_reason = reason
        expectation.status = transition("SLOT_EXPECTATION", expectation.status, "REPLACE")
        db.session.flush()
        record = _record(run, slot, expectation, barcode, material, lot, actor)
        record.replace_reason = reason
        uow.payload = {"slot": slot_code, "old": current.barcode, "new": barcode, "verifyResult": record.verify_result,
                       "failReason": record.fail_reason}
        if record.verify_result == "FAIL":
            uow.refused(record.fail_reason)
        return record_to_dict(record, slot)


def unlock(*, actor: Actor, line_code: str, slot_code: str, reason: str) -> FeederSlot:
    """Clear a slot's lock and failure counter (`loading:unlock`); the audit event keeps the history."""
    require_permission(actor, "loading:unlock")
    with unit_of_work(actor, "SLOT_UNLOCK", "FEEDER_SLOT", f"{line_code}/{slot_code}", reason=reason) as uow:
        line = db.session.execute(select(Line).where(Line.code == line_code)).scalar_one_or_none()
        if line is None:
            raise DomainError("LINE_NOT_FOUND", M("No line {line}.", line=line_code))
        require_line(actor, line.id, line.code)
        slot = _slot(line.id, slot_code, uow)
        required_reason(reason, M("unlocking the slot"))
        uow.diff = {"before": {"locked": slot.is_locked, "failedAttempts": slot.failed_attempts,
                               "lockedReason": slot.locked_reason},
                    "after": {"locked": False, "failedAttempts": 0}}
        slot.is_locked, slot.failed_attempts, slot.locked_at, slot.locked_reason = False, 0, None, None
    return slot


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def record_to_dict(record: LoadingRecord, slot: FeederSlot, *, idempotent: bool = False) -> dict[str, Any]:
    return {"id": record.id, "slotCode": slot.slot_code, "barcode": record.barcode,
            "materialCode": record.scanned_material_code, "lotNo": record.lot.lot_no if record.lot else None,
            "expectedMaterialCode": record.expected_material_code, "verifyResult": record.verify_result,
            "failReason": record.fail_reason, "status": record.status, "loadedBy": record.loaded_by,
            "loadedAt": record.loaded_at.isoformat(), "replaceReason": record.replace_reason,
            "locked": slot.is_locked, "failedAttempts": slot.failed_attempts, "idempotent": idempotent,
            "msd": getattr(record, "msd", None)}


def trace_run_loading(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Run trace: every scan of the run's slot table (passes, failures, replacements), in order."""
    rows = db.session.execute(select(LoadingRecord, FeederSlot).join(FeederSlot, FeederSlot.id == LoadingRecord.slot_id)
                              .where(LoadingRecord.run_id == context["runId"])
                              .order_by(LoadingRecord.loaded_at, LoadingRecord.id)).all()
    trace["loadingRecords"] = [record_to_dict(record, slot) for record, slot in rows]


def loading_state(*, actor: Actor, run_no: str) -> dict[str, Any]:
    """`GET /runs/{runNo}/loading`: the run's expectations and every scan."""
    run = read_run(actor=actor, run_no=run_no)
    rows = db.session.execute(select(RunSlotExpectation, FeederSlot).join(FeederSlot, FeederSlot.id == RunSlotExpectation.slot_id)
                              .where(RunSlotExpectation.run_id == run.id)
                              .order_by(FeederSlot.position, FeederSlot.slot_code)).all()
    expectations = [{
        "slotCode": slot.slot_code, "station": slot.station.code if slot.station else None,
        "expectedMaterialCode": e.expected_material.code, "alternates": e.alternates or [], "status": e.status,
        "loadedMaterialCode": e.loaded_material.code if e.loaded_material else None,
        # an alternate reel loaded (a WARNING scan): the slot runs on another material than the BOM's
        "alternate": e.loaded_material is not None and e.loaded_material.id != e.expected_material.id,
        "loadedLotNo": e.loaded_lot.lot_no if e.loaded_lot else None, "loadedBy": e.loaded_by,
        "loadedAt": e.loaded_at.isoformat() if e.loaded_at else None,
        "locked": slot.is_locked, "failedAttempts": slot.failed_attempts} for e, slot in rows]
    _add_reel_clocks(expectations, [e for e, _ in rows])
    records = db.session.execute(select(LoadingRecord).where(LoadingRecord.run_id == run.id)
                                 .order_by(LoadingRecord.id)).scalars().all()
    return {"runNo": run.run_no, "runStatus": run.status, "expectations": expectations,
            "records": [record_to_dict(r, r.slot) for r in records],
            "msdAlerts": [{"slotCode": x["slotCode"], "materialCode": x["loadedMaterialCode"], "lotNo": x["loadedLotNo"],
                           "msl": x["msl"], **x["msd"]} for x in expectations if x["msd"] and x["msd"]["status"] != "OK"],
            "summary": {s: sum(1 for e in expectations if e["status"] == s) for s in ("PENDING", "LOADED", "MISMATCH")}}


def _add_reel_clocks(expectations: list[dict[str, Any]], rows: list[RunSlotExpectation]) -> None:
    """Each loaded slot's reel clock (`msd`: None for a reel without a floor-life clock), read live: a
    reel that runs out during production shows on Run Detail and the Loading Terminal as it happens."""
    clocks = msd.clocks_of((e.loaded_material, e.loaded_lot) for e in rows
                           if e.status == "LOADED" and e.loaded_lot is not None)
    for shown, e in zip(expectations, rows):
        clock = clocks.get(e.loaded_lot_id) if e.status == "LOADED" else None
        shown["msd"] = msd.clock_to_dict(clock)
        shown["msl"] = e.loaded_material.msl if clock is not None else None


# ---------------------------------------------------------------------------------------------
# The Loading Terminal: which runs and lines it offers, and the run it opens
# ---------------------------------------------------------------------------------------------

_LINES_WITH_SLOTS = select(FeederSlot.line_id).distinct()


def terminal_runs(actor: Actor) -> list[dict[str, Any]]:
    """Runs to load or reload (PREP, AUTHORIZED, IN_PROGRESS) on the actor's lines with feeder slots."""
    rows = db.session.execute(
        select(Run.run_no, Run.status, Line.code, WorkOrder.wo_no)
        .join(Line, Line.id == Run.line_id).join(WorkOrder, WorkOrder.id == Run.work_order_id)
        .where(Run.status.in_(ACTIVE_FOR_REPLACE), Run.line_id.in_(_LINES_WITH_SLOTS), line_filter(actor, Run.line_id))
        .order_by(Line.code, Run.id.desc())).all()
    return [{"run_no": run_no, "status": status, "line_code": line, "wo_no": wo_no} for run_no, status, line, wo_no in rows]


def terminal_lines(actor: Actor) -> list[dict[str, Any]]:
    """The actor's lines with feeder slots, with their current stencil and solder paste."""
    lines = db.session.execute(select(Line).where(Line.id.in_(_LINES_WITH_SLOTS), line_filter(actor, Line.id))
                               .order_by(Line.code)).scalars().all()
    return [{"code": ln.code, "name": ln.name, **current_bindings(ln.id)} for ln in lines]


def terminal_run(*, actor: Actor, run_no: str) -> dict[str, Any]:
    """The run a Loading Terminal opens (`loading:verify`): it exists and is on one of the actor's
    lines (otherwise RUN_NOT_FOUND either way: the answer does not tell that it exists)."""
    require_permission(actor, "loading:verify")
    run = get_run(run_no)
    require_visible(actor, run.line_id, run_missing(run_no))
    return {"run_no": run.run_no, "status": run.status, "line_code": run.line.code}
