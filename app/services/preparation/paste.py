"""Solder-paste timers (issue 18): the windows of a paste material and the times of the jar bound to a line.

- A solder-paste material (category SOLDER_PASTE, engineering/master_data.is_solder_paste) may set its
  windows in hours: the minimum thaw time out of the refrigerator, the maximum open time and the maximum
  time on the stencil (exposure.paste_clock does the arithmetic). A window left empty does not apply.
- The paste lot bound to a line (LineSolderPaste) is a lot of that material when a material lot with its
  number exists (the first paste material by code, should two share a lot number); a lot number master
  data does not know has no windows — the timers are opt-in per material, as a plant registers its pastes.
- The binding records three times: THAW_START (out of the refrigerator), OPENED, ON_STENCIL. People at
  the line record them on the Loading Terminal (`line_consumables:bind`, now or a time they type), WMS
  through `POST /api/v1/integration/solder-paste-events` (`integration:inbound`, deduplicated by event id).
  Both are audited and follow the same rules: a jar is not opened or put on the stencil before its thaw
  is complete (PASTE_THAW_INCOMPLETE), nor put on the stencil once its open time is over
  (PASTE_OPEN_EXPIRED); putting paste on the stencil opens a jar not yet recorded as opened. A new thaw
  start after the jar's other times is a new jar: the opened and stencil times before it are cleared. A
  time recorded again replaces the earlier one (a correction). The times belong to the binding: bind the
  lot first (a thaw started before binding is recorded afterwards with its real time).
- The SOLDER_PASTE readiness item fails while the paste is outside its windows (thaw not complete, open
  or stencil time over), and the Loading Terminal's paste check refuses it with the same codes; inside
  the windows both show the time left.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from ...extensions import db
from ...models import Line, LineSolderPaste, Material, MaterialLot
from ..engineering.master_data import is_solder_paste
from ..integration.inbox import InboundResult, receive
from ..platform.actor import Actor
from ..platform.clock import CLOCK_SKEW, now
from ..platform.errors import DomainError
from ..platform.inputs import EventTime, Key
from ..platform.messages import M, Message, join
from ..platform.scope import require_line, require_permission
from ..platform.uow import UnitOfWork, unit_of_work
from .exposure import PasteClock, PasteWindows, paste_clock

PASTE_EVENTS = ("THAW_START", "OPENED", "ON_STENCIL")
_COLUMNS = {"THAW_START": "thaw_started_at", "OPENED": "opened_at", "ON_STENCIL": "on_stencil_at"}


def paste_material(lot_no: str) -> Optional[Material]:
    """The solder-paste material of a lot number (None: master data knows no paste lot by that number)."""
    materials = db.session.execute(select(Material).join(MaterialLot, MaterialLot.material_id == Material.id)
                                   .where(MaterialLot.lot_no == lot_no).order_by(Material.code)).scalars()
    return next((m for m in materials if is_solder_paste(m.category)), None)


def windows_of(material: Optional[Material]) -> PasteWindows:
    hours = (lambda h: None if h is None else timedelta(hours=h))
    if material is None:
        return PasteWindows(None, None, None)
    return PasteWindows(hours(material.paste_min_thaw_hours), hours(material.paste_max_open_hours),
                        hours(material.paste_max_stencil_hours))


def _has_windows(windows: PasteWindows) -> bool:
    return any(w is not None for w in (windows.min_thaw, windows.max_open, windows.max_stencil))


def clock_of(binding: LineSolderPaste, windows: PasteWindows, at: datetime) -> PasteClock:
    return paste_clock(windows, at, thaw_started_at=binding.thaw_started_at, opened_at=binding.opened_at,
                       on_stencil_at=binding.on_stencil_at)


def duration_text(span: timedelta) -> Message:
    """A time left as people read it: "2 h 05 min", "45 min" (a Message: "2 小时 05 分钟" in Chinese)."""
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes >= 60:
        return M("{hours} h {minutes} min", hours=minutes // 60, minutes=f"{minutes % 60:02d}")
    return M("{minutes} min", minutes=minutes)


def failure(lot_no: str, clock: PasteClock) -> Optional[tuple[str, Message]]:
    """(code, reason) when the paste is outside its windows; None inside them. The reason is a Message (the
    English sentence, shown in the reader's language; the readiness item stores its template too)."""
    if clock.status == "NOT_THAWED":
        return ("PASTE_THAW_INCOMPLETE", M("Solder paste {lot}: no thaw start is recorded — record when the jar "
                                           "left the refrigerator, then wait for its thaw time.", lot=lot_no))
    if clock.status == "THAWING":
        return ("PASTE_THAW_INCOMPLETE", M("Solder paste {lot} is still thawing: {left} left before the jar may be "
                                           "opened.", lot=lot_no, left=duration_text(clock.remaining)))
    if clock.status == "EXPIRED" and clock.reason == "open":
        return ("PASTE_OPEN_EXPIRED", M("Solder paste {lot} has been open longer than its maximum open time: "
                                        "take it off the line and use a new jar.", lot=lot_no))
    if clock.status == "EXPIRED":
        return ("PASTE_STENCIL_EXPIRED", M("Solder paste {lot} has been on the stencil longer than its maximum "
                                           "time: remove it, clean the stencil and apply fresh paste.", lot=lot_no))
    return None


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def _hours(span: Optional[timedelta]) -> Optional[float]:
    return None if span is None else round(span.total_seconds() / 3600, 2)


def state_of(binding: LineSolderPaste, at: Optional[datetime] = None) -> dict[str, Any]:
    """The binding's times, its material's windows and where the clock stands `at` (the readiness evidence,
    the Loading Terminal's paste panel). `remainingMinutes`: until usable (THAWING) or until the first
    window closes (OK); `until`: that moment."""
    moment = at or now()
    material = paste_material(binding.lot_no)
    windows = windows_of(material)
    clock = clock_of(binding, windows, moment)
    refused = failure(binding.lot_no, clock) if _has_windows(windows) else None
    remaining = clock.remaining if clock.status in ("THAWING", "OK") else None
    return {
        "lotNo": binding.lot_no, "materialCode": material.code if material else None,
        "windows": {"minThawHours": _hours(windows.min_thaw), "maxOpenHours": _hours(windows.max_open),
                    "maxStencilHours": _hours(windows.max_stencil)},
        "thawStartedAt": _iso(binding.thaw_started_at), "openedAt": _iso(binding.opened_at),
        "onStencilAt": _iso(binding.on_stencil_at),
        "clock": {"status": clock.status if _has_windows(windows) else "NO_WINDOWS", "window": clock.reason,
                  "remainingMinutes": None if remaining is None else int(remaining.total_seconds() // 60),
                  "until": _iso(moment + remaining) if remaining is not None else None},
        "usable": refused is None, "failCode": refused[0] if refused else None,
        "failReason": refused[1] if refused else None,
    }


def readiness_failure(binding: LineSolderPaste, at: datetime) -> tuple[Optional[tuple[str, str]], dict[str, Any]]:
    """The SOLDER_PASTE readiness item's timer check: (code, reason) or None, and the evidence (the times,
    the windows, the clock)."""
    state = state_of(binding, at)
    evidence = {k: state[k] for k in ("materialCode", "windows", "thawStartedAt", "openedAt", "onStencilAt", "clock")}
    return ((state["failCode"], state["failReason"]) if state["failCode"] else None), evidence


def _current(line_code: str, lock=None) -> tuple[Line, Optional[LineSolderPaste]]:
    line = db.session.execute(select(Line).where(Line.code == line_code)).scalar_one_or_none()
    if line is None:
        raise DomainError("LINE_NOT_FOUND", M("No line {line}.", line=line_code), {"lineCode": line_code})
    query = select(LineSolderPaste).where(LineSolderPaste.current_line_id == line.id)
    return line, db.session.execute(lock(query) if lock else query).scalar_one_or_none()


def _bound(line: Line, binding: Optional[LineSolderPaste], lot_no: str) -> LineSolderPaste:
    if binding is None or binding.lot_no != lot_no:
        raise DomainError("PASTE_LOT_NOT_BOUND",
                          M("Solder paste {lot} is not the lot bound to {line} (bound: {bound}).", lot=lot_no,
                            line=line.code, bound=binding.lot_no) if binding else
                          M("Solder paste {lot} is not the lot bound to {line} (no paste is bound).", lot=lot_no,
                            line=line.code),
                          {"lineCode": line.code, "lotNo": lot_no, "boundLotNo": binding.lot_no if binding else None})
    return binding


def _check_kind(kind: Any) -> str:
    kind = kind.strip().upper() if isinstance(kind, str) else ""
    if kind not in PASTE_EVENTS:
        raise DomainError("VALIDATION_ERROR", M("kind must be one of {kinds}.", kinds=join(PASTE_EVENTS)),
                          {"fields": {"kind": list(PASTE_EVENTS)}})
    return kind


def _refuse_outside(binding: LineSolderPaste, windows: PasteWindows, moment: datetime, *, with_open: bool) -> None:
    """Opening or stencilling needs a complete thaw; stencilling, an open time not over (`with_open`)."""
    clock = paste_clock(windows, moment, thaw_started_at=binding.thaw_started_at,
                        opened_at=binding.opened_at if with_open else None)
    refused = failure(binding.lot_no, clock)
    if refused:
        raise DomainError(refused[0], refused[1], {"lotNo": binding.lot_no, "status": clock.status,
                                                   "remainingMinutes": int(clock.remaining.total_seconds() // 60)
                                                   if clock.remaining is not None else None})


def _apply(uow: UnitOfWork, binding: LineSolderPaste, kind: str, moment: datetime) -> dict[str, Any]:
    """The time on the binding, in the caller's unit of work: the one place a paste time is written."""
    before = {k: _iso(getattr(binding, c)) for k, c in _COLUMNS.items()}
    windows = windows_of(paste_material(binding.lot_no))
    if kind == "THAW_START":
        binding.thaw_started_at = moment
        for column in ("opened_at", "on_stencil_at"):  # times before a new thaw start were another jar's
            if getattr(binding, column) is not None and getattr(binding, column) < moment:
                setattr(binding, column, None)
    else:
        if binding.thaw_started_at is not None and moment < binding.thaw_started_at:
            raise DomainError("VALIDATION_ERROR", M("The time is before the jar's thaw start."),
                              {"fields": {"at": "after the thaw start"}})
        _refuse_outside(binding, windows, moment, with_open=kind == "ON_STENCIL")
        if kind == "OPENED":
            binding.opened_at = moment
            if binding.on_stencil_at is not None and binding.on_stencil_at < moment:
                binding.on_stencil_at = None
        else:
            binding.on_stencil_at = moment
            if binding.opened_at is None or binding.opened_at > moment:
                binding.opened_at = moment  # on the stencil means open
    db.session.flush()
    uow.diff = {"before": before, "after": {k: _iso(getattr(binding, c)) for k, c in _COLUMNS.items()}}
    return {"kind": kind, "at": moment.isoformat(), **state_of(binding)}


def record_time(*, actor: Actor, line_code: str, lot_no: str, kind: str, at: Optional[datetime] = None) -> dict[str, Any]:
    """Record a time of the paste bound to a line (`line_consumables:bind`), at the line: `at` defaults
    to now. The scanned `lot_no` must be the bound lot. Answers the paste's state after it."""
    require_permission(actor, "line_consumables:bind")
    moment = at or now()
    kind = _check_kind(kind)
    if moment > now() + CLOCK_SKEW:
        raise DomainError("VALIDATION_ERROR", M("The time is in the future."), {"fields": {"at": "not in the future"}})
    lot_no = (lot_no or "").strip()
    with unit_of_work(actor, "SOLDER_PASTE_TIME", "LINE", line_code,
                      payload={"lotNo": lot_no, "kind": kind, "at": moment.isoformat(), "source": "MANUAL"}) as uow:
        line, binding = _current(line_code, uow.lock)
        require_line(actor, line.id, line.code)
        return {"lineCode": line.code, **_apply(uow, _bound(line, binding, lot_no), kind, moment)}


class PasteEventSchema(Schema):
    """WMS's message: `{eventId, eventTime, lineCode, lotNo, kind}` (eventTime: when it happened)."""
    eventId = Key("event_id", required=True)
    eventTime = EventTime(required=True)
    lineCode = Key("code", required=True)
    lotNo = Key("lot_no", required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PASTE_EVENTS))

    class Meta:
        unknown = EXCLUDE


def receive_event(*, actor: Actor, payload: Any) -> InboundResult:
    """A paste time from WMS (`integration:inbound`): logged and deduplicated by event id like every inbound
    message (integration/inbox.py), applied like one recorded at the line (refused by the same rules)."""
    require_permission(actor, "integration:inbound")

    def handler(uow: UnitOfWork, data: dict) -> dict:
        line, binding = _current(data["lineCode"], uow.lock)
        result = _apply(uow, _bound(line, binding, data["lotNo"]), data["kind"], data["eventTime"])
        uow.entity_type, uow.entity_key = "LINE", line.code
        return {"eventId": data["eventId"], "lineCode": line.code, **result}

    return receive(actor=actor, system="WMS", entity_type="SOLDER_PASTE_EVENT", action="SOLDER_PASTE_TIME_RECORD",
                   payload=payload, schema=PasteEventSchema(), key=lambda d: f"{d['lineCode']}|{d['lotNo']}",
                   handler=handler, event_id=lambda d: d["eventId"])


def line_paste(*, actor: Actor, line_code: str) -> dict[str, Any]:
    """The paste bound to a line with its times and clock (`loading:verify`, `line_consumables:bind` or
    `run:read`); `binding` None when no paste is bound."""
    if not (actor.can("loading:verify") or actor.can("line_consumables:bind")):
        require_permission(actor, "run:read")
    line, binding = _current(line_code)
    require_line(actor, line.id, line.code)
    return {"lineCode": line.code, "binding": state_of(binding) if binding else None}


def verify(*, actor: Actor, line_code: str, lot_no: str) -> dict[str, Any]:
    """The Loading Terminal's paste check before use (`loading:verify` or `line_consumables:bind`): the
    scanned jar must be the lot bound to the line and inside its windows, else the window's code."""
    if not actor.can("line_consumables:bind"):
        require_permission(actor, "loading:verify")
    line, binding = _current(line_code)
    require_line(actor, line.id, line.code)
    binding = _bound(line, binding, (lot_no or "").strip())
    state = state_of(binding)
    if state["failCode"]:
        raise DomainError(state["failCode"], state["failReason"], {"lotNo": binding.lot_no, "clock": state["clock"]})
    return {"lineCode": line.code, **state}
