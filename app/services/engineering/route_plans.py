"""Route plans: the frozen snapshot of an executable route version, parsed once per process.

Versions are immutable (ORM guard and database trigger), so caching the parsed plan by version id
can never serve stale data — the hot path reads the snapshot JSON once per version, not per scan.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import ExecutableRouteVersion, Routing
from ..platform.messages import M, join


@dataclass(frozen=True)
class SpecPlan:
    id: int
    name: str
    data_type: str
    enum_options: Optional[tuple[str, ...]]
    uom: Optional[str]
    lsl: Optional[float]
    target: Optional[float]
    usl: Optional[float]
    limit_action: Optional[str]
    required: bool
    item_type: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "dataType": self.data_type,
                "enumOptions": list(self.enum_options) if self.enum_options else None, "uom": self.uom,
                "lsl": self.lsl, "target": self.target, "usl": self.usl, "limitAction": self.limit_action,
                "required": self.required, "itemType": self.item_type, "method": self.method}


@dataclass(frozen=True)
class StepPlan:
    step_no: int
    operation_code: str
    operation_name: str
    consumes_material: bool
    is_key_quality: bool
    station_type: Optional[str]
    station_group_code: Optional[str]
    allowed_station_codes: Optional[frozenset[str]]
    requires_fai: bool
    is_last: bool
    specs: tuple[SpecPlan, ...]
    specs_by_name: dict[str, SpecPlan] = field(compare=False, hash=False)
    specs_by_id: dict[int, SpecPlan] = field(compare=False, hash=False)

    def accepts(self, *, station_type: str, group_code: Optional[str], station_code: str) -> bool:
        """Is a station of this type/group/code valid for the step (line and active checked by the caller)?"""
        if station_type != self.station_type:
            return False
        if self.station_group_code is not None and group_code != self.station_group_code:
            return False
        if self.allowed_station_codes is not None and station_code not in self.allowed_station_codes:
            return False
        return True

    def label(self) -> str:
        """"step 50 (AOI)": the step as messages name it."""
        return M("step {no} ({operation})", no=self.step_no, operation=self.operation_code)

    def where(self) -> str:
        """Where the step is done, as a noun phrase: "a station of group SMT-A-AOI", "station ST-AOI-01",
        "a MANUAL station"."""
        if self.allowed_station_codes:
            codes = sorted(self.allowed_station_codes)
            if self.station_group_code:
                return (M("station {station} (group {group})", station=codes[0], group=self.station_group_code)
                        if len(codes) == 1 else
                        M("one of the stations {stations} (group {group})", stations=join(codes),
                          group=self.station_group_code))
            return (M("station {station}", station=codes[0]) if len(codes) == 1
                    else M("one of the stations {stations}", stations=join(codes)))
        if self.station_group_code:
            return M("a station of group {group}", group=self.station_group_code)
        return M("a {type} station", type=self.station_type)

    def expectation(self) -> str:
        """"step 50 (AOI), done at a station of group SMT-A-AOI": a whole phrase for any sentence."""
        return M("{step}, done at {where}", step=self.label(), where=self.where())

    def to_dict(self) -> dict[str, Any]:
        return {"stepNo": self.step_no, "operationCode": self.operation_code, "operationName": self.operation_name,
                "stationType": self.station_type, "stationGroupCode": self.station_group_code,
                "allowedStationCodes": sorted(self.allowed_station_codes) if self.allowed_station_codes else None,
                "requiresFai": self.requires_fai, "isLast": self.is_last,
                "consumesMaterial": self.consumes_material, "isKeyQuality": self.is_key_quality}


@dataclass(frozen=True)
class RoutePlan:
    version_id: int
    routing_code: str
    version_no: int
    status: str
    steps: tuple[StepPlan, ...]
    by_no: dict[int, StepPlan] = field(compare=False, hash=False)

    @property
    def first(self) -> StepPlan:
        return self.steps[0]

    def step(self, step_no: Optional[int]) -> Optional[StepPlan]:
        return self.by_no.get(step_no) if step_no is not None else None

    def next_after(self, step_no: int) -> Optional[StepPlan]:
        later = [s for s in self.steps if s.step_no > step_no]
        return later[0] if later else None

    @property
    def last_fai_step_no(self) -> Optional[int]:
        fai = [s.step_no for s in self.steps if s.requires_fai]
        return max(fai) if fai else None


def _spec(raw: dict) -> SpecPlan:
    options = raw.get("enumOptions")
    return SpecPlan(id=raw["id"], name=raw["name"], data_type=raw["dataType"],
                    enum_options=tuple(options) if options else None, uom=raw.get("uom"), lsl=raw.get("lsl"),
                    target=raw.get("target"), usl=raw.get("usl"), limit_action=raw.get("limitAction"),
                    required=bool(raw.get("required")), item_type=raw.get("itemType") or "KEY",
                    method=raw.get("method") or "MANUAL")


def parse(version_id: int, routing_code: str, version_no: int, status: str, snapshot: dict) -> RoutePlan:
    steps = []
    for raw in snapshot["steps"]:
        # the order the engineer defined the specs in (their ids), not the snapshot's order by name
        specs = tuple(sorted((_spec(s) for s in raw.get("dataSpecs") or []), key=lambda spec: spec.id))
        allowed = raw.get("allowedStationCodes")
        steps.append(StepPlan(
            step_no=raw["stepNo"], operation_code=raw["operationCode"], operation_name=raw.get("operationName", ""),
            consumes_material=bool(raw.get("consumesMaterial")), is_key_quality=bool(raw.get("isKeyQuality")),
            station_type=raw.get("stationType"), station_group_code=raw.get("stationGroupCode"),
            allowed_station_codes=frozenset(allowed) if allowed else None, requires_fai=bool(raw.get("requiresFai")),
            is_last=bool(raw.get("isLast")), specs=specs, specs_by_name={s.name: s for s in specs},
            specs_by_id={s.id: s for s in specs}))
    steps.sort(key=lambda s: s.step_no)
    return RoutePlan(version_id=version_id, routing_code=routing_code, version_no=version_no, status=status,
                     steps=tuple(steps), by_no={s.step_no: s for s in steps})


_lock = threading.Lock()
_plans: dict[int, RoutePlan] = {}


def plan_for(version_id: int) -> RoutePlan:
    plan = _plans.get(version_id)
    if plan is not None:
        return plan
    row = db.session.execute(
        select(ExecutableRouteVersion.snapshot, ExecutableRouteVersion.version_no, ExecutableRouteVersion.status,
               Routing.code).join(Routing, Routing.id == ExecutableRouteVersion.routing_id)
        .where(ExecutableRouteVersion.id == version_id)).one()
    plan = parse(version_id, row.code, row.version_no, row.status, row.snapshot)
    with _lock:
        if len(_plans) > 2000:
            _plans.clear()
        _plans[version_id] = plan
    return plan


def clear_cache() -> None:
    with _lock:
        _plans.clear()
