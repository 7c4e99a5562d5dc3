"""The home page's worklists: per role, what waits for the user now, each with its count and the
console screen that lists exactly those items (issue 17).

Reads only. The runs' next actions are classified for every open run of the actor's lines with a
handful of grouped queries (not one `next_action` per run): past preparation it applies
`production.runs.production_action`, the rule next_action uses, to counts read for all runs at once; the
preparation phases (readiness, loading, FAI) are mirrored step by step from grouped reads, and a test
compares the classification with next_action on every open run. The run lists a worklist links to (`/runs/?worklist=<key>`,
the Loading Terminal's `?waiting=1`) are built from the same classification, so a count is the number
of rows its screen shows.

A worklist item names its screen as data (`screen`, `params`); the console turns it into a URL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from sqlalchemy import and_, distinct, func, select

from ...extensions import db
from ...models import (
    Defect, Disposition, FeederSlot, Inspection, Line, LoadingRecord, ReadinessCheck, ReadinessItem, Run,
    RunSlotExpectation, Station, Unit, WorkOrder,
)
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform import users
from ..platform.text import N_
from ..platform.scope import line_filter, require_permission, sees_all_lines
from ..preparation.readiness import loading_applies
from ..production.runs import all_units_terminal, production_action
from ..quality.spc_alarms import open_alarm_count

OPEN_RUN_STATUSES = ("PREP", "AUTHORIZED", "IN_PROGRESS", "ON_HOLD")


# ---------------------------------------------------------------------------------------------
# What the home page shows
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkItem:
    key: str
    label: str
    count: int
    screen: str                      # runs / loading / disposition / work_orders / users
    params: dict[str, str] = field(default_factory=dict)
    hint: str = ""                   # what to do with these items


@dataclass(frozen=True)
class Worklist:
    role: str
    title: str
    items: list[WorkItem]

    @property
    def waiting(self) -> int:
        return sum(i.count for i in self.items)


# ---------------------------------------------------------------------------------------------
# The runs' next actions, for all open runs of the actor's lines at once
# ---------------------------------------------------------------------------------------------

@dataclass
class RunState:
    id: int
    run_no: str
    status: str
    line_id: int
    action: str = "NONE"             # as production.runs.next_action says ("FAI" split below)
    fai_to_sign: bool = False        # action FAI: the FAI passed and waits for its signature
    readiness_failed: bool = False   # PREP: the latest FORMAL check has FAILED items
    waiting_for_loading: bool = False  # PREP: the line's slots are not all loaded for the run
    held_units: int = 0


def _latest_ids(model, kind_col, kind: str, run_ids: list[int]):
    return (select(func.max(model.id)).where(model.run_id.in_(run_ids), kind_col == kind)
            .group_by(model.run_id))


def classify_runs(actor: Actor) -> list[RunState]:
    """Every open run (PREP, AUTHORIZED, IN_PROGRESS, ON_HOLD) of the actor's lines with its next
    action, by run id. Seven queries whatever the number of runs (plus a few per PREP rework run on a
    line with feeder slots: whether its loading applies depends on its re-entry step)."""
    rows = db.session.execute(
        select(Run.id, Run.run_no, Run.status, Run.line_id, Run.route_version_id, Run.fai_waived, Run.parent_run_id,
               Run.plan_qty)
        .where(Run.status.in_(OPEN_RUN_STATUSES), line_filter(actor, Run.line_id)).order_by(Run.id)).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    prep = [r for r in rows if r.status == "PREP"]
    prep_ids = [r.id for r in prep]
    states = {r.id: RunState(r.id, r.run_no, r.status, r.line_id) for r in rows}

    counts: dict[int, dict[str, int]] = {}
    for run_id, status, n in db.session.execute(
            select(Unit.run_id, Unit.status, func.count()).where(Unit.run_id.in_(ids))
            .group_by(Unit.run_id, Unit.status)):
        counts.setdefault(run_id, {})[status] = n

    formal: dict[int, tuple[str, int]] = {}
    loading: dict[int, dict[str, int]] = {}
    fai: dict[int, tuple[str, Optional[str]]] = {}
    lines_with_slots: set[int] = set()
    if prep_ids:
        failed_items = func.count(ReadinessItem.id)
        for run_id, status, failed in db.session.execute(
                select(ReadinessCheck.run_id, ReadinessCheck.status, failed_items)
                .outerjoin(ReadinessItem, and_(ReadinessItem.check_id == ReadinessCheck.id,
                                               ReadinessItem.status == "FAILED"))
                .where(ReadinessCheck.id.in_(_latest_ids(ReadinessCheck, ReadinessCheck.kind, "FORMAL", prep_ids)))
                .group_by(ReadinessCheck.run_id, ReadinessCheck.status)):
            formal[run_id] = (status, failed)
        lines_with_slots = set(db.session.execute(
            select(FeederSlot.line_id).distinct().where(FeederSlot.line_id.in_({r.line_id for r in prep}))).scalars())
        for run_id, status, n in db.session.execute(
                select(RunSlotExpectation.run_id, RunSlotExpectation.status, func.count())
                .where(RunSlotExpectation.run_id.in_(prep_ids))
                .group_by(RunSlotExpectation.run_id, RunSlotExpectation.status)):
            loading.setdefault(run_id, {})[status] = n
        for run_id, status, signed_by in db.session.execute(
                select(Inspection.run_id, Inspection.status, Inspection.signed_by)
                .where(Inspection.id.in_(_latest_ids(Inspection, Inspection.type, "FAI", prep_ids)))):
            fai[run_id] = (status, signed_by)

    finished = [r.id for r in rows if r.status == "IN_PROGRESS" and all_units_terminal(counts.get(r.id, {}))]
    open_oqc = set(db.session.execute(select(Inspection.run_id).where(
        Inspection.open_key.in_([Inspection.open_key_for(i, "OQC") for i in finished])) ).scalars()) if finished else set()

    for r in rows:
        state = states[r.id]
        unit_counts = counts.get(r.id, {})
        state.held_units = unit_counts.get("ON_HOLD", 0)
        if r.status == "PREP":
            check = formal.get(r.id)
            state.readiness_failed = check is not None and check[1] > 0
            applies = r.line_id in lines_with_slots and (
                r.parent_run_id is None or loading_applies(db.session.get(Run, r.id), plan_for(r.route_version_id)))
            slots = loading.get(r.id, {})
            state.waiting_for_loading = applies and (not slots or slots.get("LOADED", 0) < sum(slots.values()))
            if check is None or check[0] != "PASSED":
                state.action = "READINESS"
            elif state.waiting_for_loading:
                state.action = "LOADING"
            elif _fai_current(r, fai.get(r.id)):
                state.action = "FAI"
                latest = fai.get(r.id)
                state.fai_to_sign = latest is not None and latest[0] == "PASS" and not latest[1]
            else:
                state.action = "AUTHORIZE"
        else:  # past preparation: the run detail's own rule, with the OQCs read for all runs at once
            state.action = production_action(r.status, unit_counts, r.plan_qty, lambda run_id=r.id: run_id in open_oqc)["action"]
    return [states[i] for i in ids]


def _fai_current(row, latest: Optional[tuple[str, Optional[str]]]) -> bool:
    """The FAI phase of a PREP run is CURRENT (quality's fai_phase): the route has an FAI step, the
    FAI is not waived, and there is none yet, it is open or failed, or it passed unsigned."""
    if plan_for(row.route_version_id).last_fai_step_no is None or row.fai_waived:
        return False
    if latest is None:
        return True
    status, signed_by = latest
    return status != "PASS" or not signed_by


# The run lists a worklist links to: key -> (title, which runs)
RUN_LISTS: dict[str, tuple[str, Callable[[RunState], bool]]] = {
    "fai-to-run": (N_("FAIs to create, start or inspect"), lambda s: s.action == "FAI" and not s.fai_to_sign),
    "fai-to-sign": (N_("FAIs passed, waiting for a signature"), lambda s: s.action == "FAI" and s.fai_to_sign),
    "oqc": (N_("OQC inspections waiting"), lambda s: s.action == "OQC"),
    "mrb": (N_("Runs on hold: the MRB decides"), lambda s: s.action == "MRB"),
    "readiness-failed": (N_("Runs with failed readiness items"), lambda s: s.readiness_failed),
    "held-units": (N_("Runs with boards on hold"), lambda s: s.held_units > 0),
    "prepare": (N_("Runs in preparation (readiness, loading, FAI)"), lambda s: s.action in ("READINESS", "LOADING", "FAI")),
    "authorize": (N_("Runs prepared: authorize them"), lambda s: s.action == "AUTHORIZE"),
    "running": (N_("Runs in production"), lambda s: s.action in ("BUILD", "DISPOSITION")),
    "close": (N_("Runs finished: close them"), lambda s: s.action == "CLOSE"),
    "loading": (N_("Runs waiting for loading"), lambda s: s.waiting_for_loading),
}


def run_list_title(key: str) -> str:
    if key not in RUN_LISTS:
        raise DomainError("VALIDATION_ERROR", M("Unknown worklist {key}: open it from the home page.", key=key),
                          {"fields": {"worklist": sorted(RUN_LISTS)}})
    return RUN_LISTS[key][0]


def worklist_runs(*, actor: Actor, key: str, page: int = 1, page_size: int = 50) -> tuple[list[Run], int]:
    """The runs of one run worklist (`run:read`), newest first like the run list, one page of them."""
    require_permission(actor, "run:read")
    run_list_title(key)
    wanted = RUN_LISTS[key][1]
    ids = sorted((s.id for s in classify_runs(actor) if wanted(s)), reverse=True)
    chosen = ids[(page - 1) * page_size: page * page_size]
    runs = {r.id: r for r in db.session.execute(select(Run).where(Run.id.in_(chosen))).scalars()} if chosen else {}
    return [runs[i] for i in chosen], len(ids)


def runs_waiting_for_loading(actor: Actor) -> set[str]:
    """The run numbers of the material's worklist (the Loading Terminal's `?waiting=1`)."""
    return {s.run_no for s in classify_runs(actor) if s.waiting_for_loading}


# ---------------------------------------------------------------------------------------------
# The other counts
# ---------------------------------------------------------------------------------------------

def _disposition_counts(actor: Actor) -> dict[str, int]:
    """Boards of the Defects & Disposition queue by what they wait for (the queue's own condition,
    services/quality/defects.py `defect_queue`): DISPOSITION (OUT_FAILED) and RELEASE (ON_HOLD)."""
    held = (Defect.status == "DISPOSITIONED") & (Unit.status == "ON_HOLD") & (Disposition.type == "HOLD") \
        & Disposition.released_at.is_(None)
    rows = db.session.execute(
        select(Unit.status, func.count(distinct(Unit.id))).select_from(Defect)
        .join(Unit, Unit.id == Defect.unit_id).join(Run, Run.id == Unit.run_id)
        .outerjoin(Disposition, Disposition.defect_id == Defect.id)
        .where(line_filter(actor, Run.line_id), (Defect.status == "RECORDED") | held,
               Unit.status.in_(("OUT_FAILED", "ON_HOLD")))
        .group_by(Unit.status)).all()
    by_status = dict(rows)
    return {"DISPOSITION": by_status.get("OUT_FAILED", 0), "RELEASE": by_status.get("ON_HOLD", 0)}


def _work_order_counts(actor: Actor) -> dict[str, int]:
    """Work orders RECEIVED (to release) and RELEASED (no run yet), as the work-order list filters them."""
    stmt = select(WorkOrder.status, func.count()).where(WorkOrder.status.in_(("RECEIVED", "RELEASED")))
    if not sees_all_lines(actor):
        stmt = stmt.where(line_filter(actor, WorkOrder.line_id))
    return dict(db.session.execute(stmt.group_by(WorkOrder.status)).all())


def locked_slots(actor: Actor) -> list[dict[str, Any]]:
    """Feeder slots locked after failed scans on the actor's lines, with the run of their last scan
    (its Loading Terminal page has the Unlock form) while that run is still being prepared or built."""
    locked = select(FeederSlot.id).where(FeederSlot.is_locked.is_(True))
    last = (select(LoadingRecord.slot_id, func.max(LoadingRecord.id).label("record_id"))
            .where(LoadingRecord.slot_id.in_(locked)).group_by(LoadingRecord.slot_id).subquery())
    rows = db.session.execute(
        select(FeederSlot.slot_code, FeederSlot.locked_at, FeederSlot.locked_reason, FeederSlot.failed_attempts,
               Line.code, Station.code, Run.run_no, Run.status)
        .join(Line, Line.id == FeederSlot.line_id).outerjoin(Station, Station.id == FeederSlot.station_id)
        .outerjoin(last, last.c.slot_id == FeederSlot.id).outerjoin(LoadingRecord, LoadingRecord.id == last.c.record_id)
        .outerjoin(Run, Run.id == LoadingRecord.run_id)
        .where(FeederSlot.is_locked.is_(True), line_filter(actor, FeederSlot.line_id))
        .order_by(Line.code, FeederSlot.slot_code)).all()
    return [{"line_code": line, "slot_code": slot, "station": station, "locked_at": at, "reason": reason,
             "failed_attempts": attempts,
             "run_no": run_no if status in ("PREP", "AUTHORIZED", "IN_PROGRESS") else None}
            for slot, at, reason, attempts, line, station, run_no, status in rows]


def _locked_slot_count(actor: Actor) -> int:
    return db.session.execute(select(func.count()).select_from(FeederSlot).where(
        FeederSlot.is_locked.is_(True), line_filter(actor, FeederSlot.line_id))).scalar_one()


def _locked_account_count(actor: Actor) -> int:
    """Accounts locked now that the actor may unlock (platform/users.py: the one lockout rule and scope)."""
    return len(users.locked_users(actor=actor))


# ---------------------------------------------------------------------------------------------
# Per role
# ---------------------------------------------------------------------------------------------

ROLE_TITLES = {"Quality": N_("Quality: waiting for you"), "Leader": N_("Line leader: waiting on your lines"),
               "Planner": N_("Planner: work orders and runs by next action"),
               "Material": N_("Material: waiting for you")}


def worklists_for(actor: Actor) -> list[Worklist]:
    """The worklists of the actor's roles (Quality, Leader, Planner, Material), in that order; an item
    only where the actor holds the permission its screen needs. Empty lists are returned too: the home
    page says "Nothing waiting"."""
    roles = [r for r in ROLE_TITLES if r in actor.roles]
    if not roles:
        return []
    cache: dict[str, Any] = {}

    def runs_where(key: str) -> int:
        if "runs" not in cache:
            cache["runs"] = classify_runs(actor)
        return sum(1 for s in cache["runs"] if RUN_LISTS[key][1](s))

    def once(name: str, compute: Callable[[], Any]) -> Any:
        if name not in cache:
            cache[name] = compute()
        return cache[name]

    def run_item(key: str, label: str, hint: str) -> WorkItem:
        return WorkItem(key, label, runs_where(key), "runs", {"worklist": key}, hint)

    def dispositions() -> dict[str, int]:
        return once("dispositions", lambda: _disposition_counts(actor))

    def work_orders() -> dict[str, int]:
        return once("work_orders", lambda: _work_order_counts(actor))

    builders: dict[str, list[tuple[str, Callable[[], WorkItem]]]] = {
        "Quality": [
            ("quality:fai", lambda: run_item("fai-to-run", N_("FAIs to run"), N_("Create, start or inspect the FAI."))),
            ("quality:fai_sign", lambda: run_item("fai-to-sign", N_("FAIs to sign"), N_("The FAI passed: sign it."))),
            ("quality:oqc", lambda: run_item("oqc", N_("OQCs waiting"), N_("Inspect the OQC sample and decide."))),
            ("quality:disposition", lambda: WorkItem(
                "disposition", N_("Boards to disposition"), dispositions()["DISPOSITION"], "disposition",
                {"action": "DISPOSITION"}, N_("Decide REWORK, SCRAP or HOLD."))),
            ("quality:disposition", lambda: WorkItem(
                "holds", N_("Boards on hold"), dispositions()["RELEASE"], "disposition", {"action": "RELEASE"},
                N_("Release the hold when the board may continue."))),
            ("quality:mrb", lambda: run_item("mrb", N_("MRB pending"), N_("A failed OQC holds the run: decide."))),
            ("data_spec:read", lambda: WorkItem(
                "spc-alarms", N_("Open SPC alarms"), once("spc", lambda: open_alarm_count(actor)), "spc_alarms",
                {"status": "OPEN"}, N_("Check the chart and the process, then acknowledge with a reason."))),
        ],
        "Leader": [
            ("loading:unlock", lambda: WorkItem(
                "locked-slots", N_("Locked feeder slots"), once("slots", lambda: _locked_slot_count(actor)), "loading",
                {"locked": "1"}, N_("Check the reel, then unlock with a reason."))),
            ("user:unlock", lambda: WorkItem(
                "locked-accounts", N_("Locked accounts"), once("accounts", lambda: _locked_account_count(actor)), "users",
                {}, N_("Too many wrong passwords: check who it is, then unlock (or wait a few minutes)."))),
            ("run:read", lambda: run_item("readiness-failed", N_("Runs with failed readiness items"),
                                          N_("Fix the failed items, then run the FORMAL check again."))),
            ("run:read", lambda: run_item("mrb", N_("Runs on hold"), N_("Quality's MRB decides."))),
            ("run:read", lambda: run_item("held-units", N_("Runs with boards on hold"),
                                          N_("Quality releases or disposes the held boards."))),
        ],
        "Planner": [
            ("wo:release", lambda: WorkItem("wo-release", N_("Work orders to release"), work_orders().get("RECEIVED", 0),
                                            "work_orders", {"status": "RECEIVED"}, N_("Release each to a line."))),
            ("run:create", lambda: WorkItem("wo-create-run", N_("Work orders to create a run for"),
                                            work_orders().get("RELEASED", 0), "work_orders", {"status": "RELEASED"},
                                            N_("Create the run on the released line."))),
            ("run:read", lambda: run_item("prepare", N_("Runs in preparation"),
                                          N_("Readiness, loading and FAI are under way."))),
            ("run:authorize", lambda: run_item("authorize", N_("Runs to authorize"), N_("Prepared: authorize them."))),
            ("run:read", lambda: run_item("running", N_("Runs in production"), N_("Boards are being built."))),
            ("run:close", lambda: run_item("close", N_("Runs to close"), N_("Every board is finished: close the run."))),
        ],
        "Material": [
            ("loading:verify", lambda: WorkItem("loading", N_("Runs waiting for loading"), runs_where("loading"), "loading",
                                                {"waiting": "1"}, N_("Load the slot table and scan every reel."))),
        ],
    }
    out = []
    for role in roles:
        items = [build() for permission, build in builders[role] if permission is None or actor.can(permission)]
        out.append(Worklist(role, ROLE_TITLES[role], items))
    return out
