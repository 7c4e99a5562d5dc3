"""Moisture-sensitive devices (issue 18, IPC/JEDEC J-STD-033): a reel's floor-life clock from its events,
and the gates that use it.

- A material's `msl` (1, 2, 2a, 3, 4, 5, 5a, 6) gives the floor life (exposure.FLOOR_LIFE_HOURS; level 6:
  the hours on the lot's label, `msd_label_hours`). Level 1, or no level, has no clock.
- A lot's events (OPENED, DRY_IN, DRY_OUT, BAKED) are recorded by people at the line (`loading:verify`)
  or by WMS (`integration:inbound`, `POST /api/v1/integration/msd-events`, deduplicated by event id), audited,
  append-only; a lot without events is still sealed.
- Loading verification refuses a reel whose floor life is spent (MSD_FLOOR_LIFE_EXPIRED: recorded and
  counted like a wrong reel) and warns when less than MES_MSD_WARN_HOURS are left; the LOADING readiness
  item fails while a loaded reel of the run is spent (a reel that ran out during production).
The clock arithmetic is exposure.py's; this module reads and writes.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Optional

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from ...extensions import db
from ...models import FeederSlot, Material, MaterialLot, MsdEvent, Run, RunSlotExpectation
from ..platform.actor import Actor
from ..platform.clock import CLOCK_SKEW, now
from ..platform.errors import DomainError
from ..platform.messages import M, join
from ..platform.scope import require_permission
from ..integration.inbox import InboundResult, receive
from ..platform.inputs import EventTime, Key
from ..platform.uow import UnitOfWork, unit_of_work
from .exposure import MSD_EVENTS, MsdClock, floor_life, msd_clock



def warn_before() -> timedelta:
    return timedelta(hours=float(current_app.config.get("MES_MSD_WARN_HOURS", 4)))


def lot_life(material: Material, lot: MaterialLot) -> Optional[timedelta]:
    """The floor life of the lot's level; None without a clock (no level, level 1, or an unknown level —
    master data validates the level, so an unknown one is old data: no gate rather than a crash)."""
    level = (material.msl or "").strip().lower()
    if not level or level == "1":
        return None
    try:
        return floor_life(level, lot.msd_label_hours)
    except ValueError:
        return None


def events_of(lot_ids: Iterable[int]) -> dict[int, list[tuple[str, datetime]]]:
    ids = sorted(set(lot_ids))
    out: dict[int, list[tuple[str, datetime]]] = {i: [] for i in ids}
    if ids:
        for lot_id, kind, at in db.session.execute(
                select(MsdEvent.lot_id, MsdEvent.kind, MsdEvent.at).where(MsdEvent.lot_id.in_(ids))
                .order_by(MsdEvent.lot_id, MsdEvent.at, MsdEvent.id)):
            out[lot_id].append((kind, at))
    return out


def lot_clock(material: Material, lot: MaterialLot, at: Optional[datetime] = None) -> Optional[MsdClock]:
    """Where the lot's clock stands (None: the material has no floor-life clock)."""
    life = lot_life(material, lot)
    if life is None:
        return None
    return msd_clock(events_of([lot.id])[lot.id], at or now(), life, warn_before())


def clock_to_dict(clock: Optional[MsdClock]) -> Optional[dict[str, Any]]:
    if clock is None:
        return None
    hours = (lambda d: None if d is None else round(d.total_seconds() / 3600, 2))
    return {"state": clock.state, "status": clock.status, "exposureHours": hours(clock.exposure),
            "floorLifeHours": hours(clock.floor_life), "remainingHours": hours(clock.remaining),
            "expiresAt": clock.expires_at.isoformat() if clock.expires_at else None}


def _check_event(kind: Any, moment: datetime, label_hours: Any) -> str:
    kind = (kind or "").strip().upper() if isinstance(kind, str) else ""
    if kind not in MSD_EVENTS:
        raise DomainError("VALIDATION_ERROR", M("kind must be one of {kinds}.", kinds=join(MSD_EVENTS)),
                          {"fields": {"kind": list(MSD_EVENTS)}})
    if moment > now() + CLOCK_SKEW:
        raise DomainError("VALIDATION_ERROR", M("The event's time is in the future."), {"fields": {"at": "not in the future"}})
    if label_hours is not None and (isinstance(label_hours, bool) or not isinstance(label_hours, (int, float))
                                    or not 0 < label_hours <= 8760):
        raise DomainError("VALIDATION_ERROR", M("labelHours must be a number of hours (0–8760]."),
                          {"fields": {"labelHours": "hours, more than 0"}})
    return kind


def _apply_event(uow: UnitOfWork, actor: Actor, material_code: str, lot_no: str, kind: str, moment: datetime,
                 source: str, label_hours: Optional[float]) -> dict[str, Any]:
    """The event on the lot, in the caller's unit of work: the one place an MSD event is written."""
    lot = db.session.execute(uow.lock(
        select(MaterialLot).join(Material, Material.id == MaterialLot.material_id)
        .where(Material.code == material_code, MaterialLot.lot_no == lot_no))).scalar_one_or_none()
    if lot is None:
        raise DomainError("MATERIAL_LOT_NOT_FOUND", M("No lot {lot} of material {material}.", lot=lot_no,
                                                      material=material_code),
                          {"materialCode": material_code, "lotNo": lot_no})
    material = db.session.get(Material, lot.material_id)
    if label_hours is not None and (material.msl or "").strip() == "6":
        lot.msd_label_hours = float(label_hours)
    if lot_life(material, lot) is None:
        raise DomainError("MSD_NOT_MOISTURE_SENSITIVE", M("Material {material} has no floor-life clock (moisture "
                                                          "sensitivity level {msl}).", material=material_code,
                                                          msl=material.msl or M("not set")),
                          {"materialCode": material_code, "msl": material.msl})
    db.session.add(MsdEvent(lot_id=lot.id, kind=kind, at=moment, source=source, recorded_by=actor.username))
    db.session.flush()
    clock = clock_to_dict(lot_clock(material, lot))
    uow.diff = {"after": {"kind": kind, "clock": clock}}
    return {"materialCode": material_code, "lotNo": lot_no, "kind": kind, "at": moment.isoformat(),
            "msl": material.msl, "clock": clock}


def record_event(*, actor: Actor, material_code: str, lot_no: str, kind: str, at: Optional[datetime] = None,
                 label_hours: Optional[float] = None) -> dict[str, Any]:
    """Record a clock event of a lot at the line (`loading:verify`), audited; answers the lot's clock
    after it. `label_hours` sets an MSL 6 lot's floor life from its label."""
    require_permission(actor, "loading:verify")
    moment = at or now()
    kind = _check_event(kind, moment, label_hours)
    with unit_of_work(actor, "MSD_EVENT", "MATERIAL_LOT", f"{material_code}|{lot_no}",
                      payload={"kind": kind, "at": moment.isoformat(), "source": "MANUAL"}) as uow:
        return _apply_event(uow, actor, material_code, lot_no, kind, moment, "MANUAL", label_hours)


class MsdEventSchema(Schema):
    """WMS's message: `{eventId, eventTime, materialCode, lotNo, kind, labelHours?}`."""
    eventId = Key("event_id", required=True)
    eventTime = EventTime(required=True)
    materialCode = Key("code", required=True)
    lotNo = Key("lot_no", required=True)
    kind = fields.String(required=True, validate=validate.OneOf(MSD_EVENTS))
    labelHours = fields.Float(load_default=None, allow_none=True)

    class Meta:
        unknown = EXCLUDE


def receive_event(*, actor: Actor, payload: Any) -> InboundResult:
    """A clock event from WMS (`integration:inbound`): logged and deduplicated by event id like every
    inbound message (integration/inbox.py), applied like one recorded at the line."""
    require_permission(actor, "integration:inbound")

    def handler(uow: UnitOfWork, data: dict) -> dict:
        kind = _check_event(data["kind"], data["eventTime"], data["labelHours"])
        return {"eventId": data["eventId"], **_apply_event(uow, actor, data["materialCode"], data["lotNo"], kind,
                                                             data["eventTime"], "WMS", data["labelHours"])}

    return receive(actor=actor, system="WMS", entity_type="MSD_EVENT", action="MSD_EVENT_RECORD", payload=payload,
                   schema=MsdEventSchema(), key=lambda d: f"{d['materialCode']}|{d['lotNo']}", handler=handler,
                   event_id=lambda d: d["eventId"])


def lot_state(*, actor: Actor, material_code: str, lot_no: str) -> dict[str, Any]:
    """A lot's clock and its events (`loading:verify` or `trace:read`)."""
    if not (actor.can("loading:verify") or actor.can("trace:read")):
        require_permission(actor, "trace:read")
    row = db.session.execute(
        select(MaterialLot, Material).join(Material, Material.id == MaterialLot.material_id)
        .where(Material.code == material_code, MaterialLot.lot_no == lot_no)).first()
    if row is None:
        raise DomainError("MATERIAL_LOT_NOT_FOUND", M("No lot {lot} of material {material}.", lot=lot_no,
                                                      material=material_code),
                          {"materialCode": material_code, "lotNo": lot_no})
    lot, material = row
    events = db.session.execute(select(MsdEvent).where(MsdEvent.lot_id == lot.id)
                                .order_by(MsdEvent.at, MsdEvent.id)).scalars()
    return {"materialCode": material_code, "lotNo": lot_no, "msl": material.msl,
            "labelHours": lot.msd_label_hours, "clock": clock_to_dict(lot_clock(material, lot)),
            "events": [{"kind": e.kind, "at": e.at.isoformat(), "source": e.source, "recordedBy": e.recorded_by}
                       for e in events]}


def clocks_of(lots: Iterable[tuple[Material, MaterialLot]], at: Optional[datetime] = None
              ) -> dict[int, MsdClock]:
    """The clocks of (material, lot) pairs `at`, by lot id, with one read of the events; lots without a
    floor-life clock are left out."""
    pairs = [(m, lot) for m, lot in lots if lot_life(m, lot) is not None]
    moment = at or now()
    events = events_of(lot.id for _, lot in pairs)
    return {lot.id: msd_clock(events[lot.id], moment, lot_life(material, lot), warn_before()) for material, lot in pairs}


def spent_reels(lots: Iterable[tuple[Material, MaterialLot]], at: Optional[datetime] = None) -> list[dict[str, Any]]:
    """Of (material, lot) pairs, those whose floor life is spent `at` (the readiness item's check)."""
    pairs = list(lots)
    clocks = clocks_of(pairs, at)
    return [{"reel": f"{material.code}|{lot.lot_no}", "clock": clock_to_dict(clocks[lot.id])}
            for material, lot in pairs if lot.id in clocks and clocks[lot.id].status == "EXPIRED"]


# Runs whose loaded reels sit on the line's feeders (the line board's reel clocks)
ON_THE_LINE = ("PREP", "AUTHORIZED", "IN_PROGRESS", "ON_HOLD")


def line_reel_alerts(line_id: int, at: Optional[datetime] = None) -> list[dict[str, Any]]:
    """The line board's reels: every moisture-sensitive reel loaded on a slot of a run on the line
    (PREP … ON_HOLD) whose floor life is spent (EXPIRED) or ends within MES_MSD_WARN_HOURS (WARN), the
    spent first, then the shortest time left. A reel loaded for two runs counts once."""
    rows = db.session.execute(
        select(Material, MaterialLot, FeederSlot.slot_code, Run.run_no)
        .join(MaterialLot, MaterialLot.material_id == Material.id)
        .join(RunSlotExpectation, RunSlotExpectation.loaded_lot_id == MaterialLot.id)
        .join(FeederSlot, FeederSlot.id == RunSlotExpectation.slot_id)
        .join(Run, Run.id == RunSlotExpectation.run_id)
        .where(Run.line_id == line_id, Run.status.in_(ON_THE_LINE), RunSlotExpectation.status == "LOADED")
        .order_by(FeederSlot.position, FeederSlot.slot_code, Run.id.desc())).all()
    clocks = clocks_of(((m, lot) for m, lot, _, _ in rows), at)
    alerts, seen = [], set()
    for material, lot, slot_code, run_no in rows:
        clock = clocks.get(lot.id)
        if clock is None or clock.status == "OK" or (slot_code, lot.id) in seen:
            continue
        seen.add((slot_code, lot.id))
        alerts.append({"slotCode": slot_code, "runNo": run_no, "materialCode": material.code, "lotNo": lot.lot_no,
                       "msl": material.msl, "clock": clock_to_dict(clock)})
    return sorted(alerts, key=lambda a: (a["clock"]["status"] != "EXPIRED", a["clock"]["remainingHours"]))
