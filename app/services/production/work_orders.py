"""Work orders (spec 02_rules §2): receive (idempotent, logged), release to a line, closeout."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, select

from ...extensions import db
from ...models import Line, Product, Routing, Run, Unit, WorkOrder
from ..engineering.routing import latest_version, resolve_routing
from ..integration.inbox import InboundResult, receive
from ..platform.actor import Actor
from ..platform.audit import record_failure
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, term
from ..platform.inputs import Key, Whole
from ..platform.scope import line_filter, require_line, require_permission, require_visible, sees_all_lines
from ..platform.sorting import Sorting
from ..platform.states import can_transition, is_terminal, transition
from ..platform.uow import UnitOfWork, fetch_one, unit_of_work
from ..platform.validation import required_reason


def _wo_missing(wo_no: str) -> DomainError:
    return DomainError("WORK_ORDER_NOT_FOUND", M("No work order {wo}.", wo=wo_no), {"woNo": wo_no})


def get_work_order(wo_no: str, *, uow: UnitOfWork | None = None) -> WorkOrder:
    """The work order (locked for `uow`), or WORK_ORDER_NOT_FOUND."""
    return fetch_one(select(WorkOrder).where(WorkOrder.wo_no == wo_no), _wo_missing(wo_no), uow=uow)


def tally(counts: dict[str, int]) -> dict[str, int]:
    """Good (DONE), scrap (SCRAPPED) and in work (every other status) of unit counts by status."""
    good, scrap = counts.get("DONE", 0), counts.get("SCRAPPED", 0)
    return {"good": good, "scrap": scrap, "inWork": sum(counts.values()) - good - scrap, "units": sum(counts.values())}


def unit_tallies(column, ids: list[int]) -> dict[int, dict[str, int]]:
    """`tally` per work order (column Unit.work_order_id) or per run (Unit.run_id), counted from the
    units themselves: each board once, wherever it went (a reworked board is counted in the rework run
    that holds it, not again in its first run; a board tracked through a step twice is one board)."""
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    for start in range(0, len(ids), 500):
        for key, status, n in db.session.execute(select(column, Unit.status, func.count())
                                                 .where(column.in_(ids[start:start + 500]))
                                                 .group_by(column, Unit.status)):
            counts[key][status] = n
    return {key: tally(c) for key, c in counts.items()}


def short_by(wo: WorkOrder, counts: dict[str, int]) -> int:
    """How many good (DONE) units the work order lacks against its plan (0: not short)."""
    return max(0, wo.planned_qty - counts["good"])


def work_order_to_dict(wo: WorkOrder, *, with_runs: bool = False) -> dict[str, Any]:
    data = {
        "woNo": wo.wo_no, "status": wo.status, "plannedQty": wo.planned_qty,
        "product": {"code": wo.product.code, "name": wo.product.name, "processType": wo.product.process_type},
        "routingCode": wo.routing.code if wo.routing else None,
        "line": {"code": wo.line.code, "name": wo.line.name} if wo.line else None,
        "sourceSystem": wo.source_system, "dueDate": wo.due_date.isoformat() if wo.due_date else None,
        "releasedAt": wo.released_at.isoformat() if wo.released_at else None,
        "closedAt": wo.closed_at.isoformat() if wo.closed_at else None,
        "meta": wo.meta or {},
    }
    if with_runs:
        per_run = unit_tallies(Unit.run_id, [r.id for r in wo.runs])
        data["runs"] = [{"runNo": r.run_no, "status": r.status, "planQty": r.plan_qty,
                         "line": r.line.code, "parentRunNo": r.parent.run_no if r.parent else None,
                         **per_run[r.id]} for r in wo.runs]
        data["counts"] = unit_tallies(Unit.work_order_id, [wo.id])[wo.id]
        data["shortBy"] = short_by(wo, data["counts"])  # what closing now would leave unbuilt (WORK_ORDER_SHORT)
    return data


# ---------------------------------------------------------------------------------------------
# Receive
# ---------------------------------------------------------------------------------------------

class WorkOrderSchema(Schema):
    woNo = Key("wo_no", required=True)
    productCode = Key("code", required=True)
    plannedQty = Whole("quantity", required=True, strict=True)
    routingCode = Key("code", load_default=None, allow_none=True)
    dueDate = fields.Date(load_default=None, allow_none=True)
    sourceSystem = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(("MANUAL", "ERP")))

    class Meta:
        unknown = EXCLUDE


def receive_work_order(*, actor: Actor, payload: Any, create_only: bool = False) -> InboundResult:
    """`POST /integration/work-orders` (`wo:receive`, 02_rules §2): upsert by woNo. New → RECEIVED;
    existing → planned quantity, due date (kept when the message has none) and, until release,
    product and routing refreshed, status never downgraded; a COMPLETED work order is not changed;
    the planned quantity cannot drop below what the runs already plan (`QUANTITY_EXCEEDS_WORK_ORDER`).
    The same message again → `duplicate: true`. `create_only` (see `create_work_order`) refuses an
    existing woNo instead of updating it."""
    require_permission(actor, "wo:receive")
    default_source = "ERP" if actor.actor_type == "INTEGRATION" else "MANUAL"
    system = "ERP" if (isinstance(payload, dict) and (payload.get("sourceSystem") or default_source) == "ERP") else "MES"

    def handler(uow: UnitOfWork, data: dict) -> dict:
        product = db.session.execute(select(Product).where(Product.code == data["productCode"])).scalar_one_or_none()
        if product is None:
            raise DomainError("PRODUCT_NOT_FOUND", M("No product {product}.", product=data["productCode"]),
                              {"productCode": data["productCode"]})
        routing = None
        if data.get("routingCode"):
            routing = db.session.execute(select(Routing).where(Routing.code == data["routingCode"])).scalar_one_or_none()
            if routing is None:
                raise DomainError("ROUTE_NOT_FOUND", M("No routing {routing}.", routing=data["routingCode"]),
                                  {"routingCode": data["routingCode"]})
            if routing.product_id not in (None, product.id):
                raise DomainError("VALIDATION_ERROR", M("Routing {routing} is not for product {product}.",
                                                        routing=routing.code, product=product.code),
                                  {"fields": {"routingCode": "routing of another product"}})
        wo = db.session.execute(uow.lock(select(WorkOrder).where(WorkOrder.wo_no == data["woNo"]))).scalar_one_or_none()
        if wo is not None and create_only:
            raise _exists(wo)
        extras = {k: v for k, v in payload.items() if k not in WorkOrderSchema().fields}
        if wo is None:
            wo = WorkOrder(wo_no=data["woNo"], product=product, planned_qty=data["plannedQty"], routing=routing,
                           status="RECEIVED", source_system=data.get("sourceSystem") or default_source,
                           due_date=data.get("dueDate"), meta=extras or None)
            uow.session.add(wo)
            uow.action = "WORK_ORDER_RECEIVE"
            uow.diff = {"after": {"plannedQty": wo.planned_qty, "product": product.code,
                                  "routing": routing.code if routing else None}}
        else:
            if wo.status == "COMPLETED":
                raise DomainError("WORK_ORDER_COMPLETED", M("Work order {wo} is completed and cannot change.",
                                                            wo=wo.wo_no))
            before = {"plannedQty": wo.planned_qty, "dueDate": wo.due_date, "product": wo.product.code,
                      "routing": wo.routing.code if wo.routing else None}
            if wo.status != "RECEIVED" and (product.id != wo.product_id or (routing and routing.id != wo.routing_id)):
                raise DomainError("VALIDATION_ERROR", M("Work order {wo} is {status}: its product and routing can no "
                                                        "longer change.", wo=wo.wo_no, status=term(wo.status)), {"fields": {"productCode": "fixed after release"}})
            quantity = quantity_status(wo)
            if data["plannedQty"] + quantity.scrapped < quantity.in_runs:
                raise DomainError(
                    "QUANTITY_EXCEEDS_WORK_ORDER",
                    M("Work order {wo}: its runs already plan {planned} unit(s) ({scrapped} scrapped so far); "
                      "plannedQty {qty} would be below that.", wo=wo.wo_no, planned=quantity.in_runs,
                      scrapped=quantity.scrapped, qty=data["plannedQty"]) if quantity.scrapped else
                    M("Work order {wo}: its runs already plan {planned} unit(s); plannedQty {qty} would be below "
                      "that.", wo=wo.wo_no, planned=quantity.in_runs, qty=data["plannedQty"]),
                    {"plannedQty": data["plannedQty"], "alreadyPlanned": quantity.in_runs,
                     "scrapped": quantity.scrapped, "minimum": max(1, quantity.in_runs - quantity.scrapped)})
            wo.product, wo.planned_qty = product, data["plannedQty"]
            if data.get("dueDate") is not None:  # a message without a due date keeps the known one
                wo.due_date = data["dueDate"]
            if routing is not None:
                wo.routing = routing
            if extras:
                wo.meta = {**(wo.meta or {}), **extras}
            after = {"plannedQty": wo.planned_qty, "dueDate": wo.due_date, "product": product.code,
                     "routing": wo.routing.code if wo.routing else None}
            uow.action = "WORK_ORDER_UPDATE"
            uow.diff = {"before": before, "after": after}
        uow.session.flush()
        return work_order_to_dict(wo)

    return receive(actor=actor, system=system, entity_type="WORK_ORDER", action="WORK_ORDER_RECEIVE",
                   payload=payload, schema=WorkOrderSchema(), key=lambda d: d["woNo"], handler=handler)


def _exists(wo: WorkOrder) -> DomainError:
    return DomainError("WORK_ORDER_EXISTS", M("Work order {wo} already exists ({status}): open it, or use another "
                                              "number.", wo=wo.wo_no, status=term(wo.status)), {"woNo": wo.wo_no, "status": wo.status})


def create_work_order(*, actor: Actor, payload: Any) -> InboundResult:
    """A new work order entered by hand in the console (`wo:receive`): like a receive, but an
    existing woNo is refused (`WORK_ORDER_EXISTS` 409) instead of being updated — a typing mistake must
    not overwrite another order. The integration receive stays an upsert."""
    require_permission(actor, "wo:receive")
    wo_no = str(payload.get("woNo") or "").strip() if isinstance(payload, dict) else ""
    existing = db.session.execute(select(WorkOrder).where(WorkOrder.wo_no == wo_no)).scalar_one_or_none() \
        if wo_no else None
    if existing is not None:
        # refused before the receive's duplicate check, which would answer an identical earlier entry
        error = _exists(existing)
        record_failure(actor, "WORK_ORDER_RECEIVE", "WORK_ORDER", wo_no, error)
        raise error
    return receive_work_order(actor=actor, payload=payload, create_only=True)


# ---------------------------------------------------------------------------------------------
# Release and close
# ---------------------------------------------------------------------------------------------

def release(*, actor: Actor, wo_no: str, line_code: str) -> WorkOrder:
    """Release a RECEIVED work order to a line (`wo:release`): the routing is resolved and stored, a
    READY version must exist, the line's process must match the routing's."""
    require_permission(actor, "wo:release")
    with unit_of_work(actor, "WORK_ORDER_RELEASE", "WORK_ORDER", wo_no) as uow:
        wo = get_work_order(wo_no, uow=uow)
        if wo.status != "RECEIVED":
            raise DomainError("WORK_ORDER_NOT_RECEIVED", M("Work order {wo} is {status}; only a RECEIVED work order can "
                                                           "be released.", wo=wo_no, status=term(wo.status)), {"status": wo.status})
        routing = resolve_routing(wo.product, explicit=wo.routing)
        if routing is None:
            raise DomainError("ROUTE_NOT_FOUND", M("No active, effective routing for product {product}.",
                                                   product=wo.product.code),
                              {"productCode": wo.product.code})
        if latest_version(routing, status="READY") is None:
            raise DomainError("ROUTE_NOT_READY", M("Routing {routing} has no READY version: compile it first.",
                                                   routing=routing.code),
                              {"routingCode": routing.code})
        line = db.session.execute(select(Line).where(Line.code == line_code)).scalar_one_or_none()
        if line is None:
            raise DomainError("LINE_NOT_FOUND", M("No line {line}.", line=line_code), {"lineCode": line_code})
        require_line(actor, line.id, line.code)
        if line.process_type != routing.process_type:
            raise DomainError("LINE_ROUTING_PROCESS_MISMATCH", M("Line {line} is {process}, routing {routing} is "
                                                                 "{routing_process}.", line=line.code,
                                                                 process=line.process_type, routing=routing.code,
                                                                 routing_process=routing.process_type),
                              {"lineProcess": line.process_type, "routingProcess": routing.process_type})
        wo.status = transition("WORK_ORDER", wo.status, "RELEASE")
        wo.routing, wo.line, wo.released_at = routing, line, now()
        uow.diff = {"before": {"status": "RECEIVED"},
                    "after": {"status": wo.status, "line": line.code, "routing": routing.code}}
    return wo


def close(*, actor: Actor, wo_no: str, confirm_short: bool = False, reason: str | None = None) -> WorkOrder:
    """Close a work order (`wo:close`): every run must be terminal. With fewer good (DONE) units than
    planned the close is refused (WORK_ORDER_SHORT, with the numbers) unless the caller confirms it
    short with a reason, which the audit keeps. Idempotent."""
    require_permission(actor, "wo:close")
    with unit_of_work(actor, "WORK_ORDER_CLOSE", "WORK_ORDER", wo_no) as uow:
        wo = get_work_order(wo_no, uow=uow)
        if wo.status == "COMPLETED":
            uow.nothing_changed()
            return wo
        if not wo.runs:
            raise DomainError("WORK_ORDER_HAS_NO_RUNS", M("Work order {wo} has no runs.", wo=wo_no))
        open_runs = [r for r in wo.runs if not is_terminal("RUN", r.status)]
        if open_runs:
            listed = ", ".join(f"{r.run_no} ({r.status})" for r in open_runs)
            raise DomainError("WORK_ORDER_RUNS_NOT_TERMINAL", M("Runs not finished: {runs}.", runs=listed),
                              {"runs": [{"runNo": r.run_no, "status": r.status} for r in open_runs]})
        counts = unit_tallies(Unit.work_order_id, [wo.id])[wo.id]
        missing = short_by(wo, counts)
        short = missing > 0
        if short and not confirm_short:
            raise DomainError("WORK_ORDER_SHORT",
                              M("Work order {wo} has {good} good of {planned} planned ({scrap} scrapped): build the "
                                "missing {missing} in a new run, or confirm closing it short with a reason.",
                                wo=wo_no, good=counts["good"], planned=wo.planned_qty, scrap=counts["scrap"],
                                missing=missing),
                              {"plannedQty": wo.planned_qty, **counts})
        if short:
            uow.reason = required_reason(reason, M("closing work order {wo} short", wo=wo_no))
        before = wo.status
        wo.status = transition("WORK_ORDER", wo.status, "CLOSE")
        wo.closed_at = now()
        uow.diff = {"before": {"status": before}, "after": {"status": wo.status}}
        uow.payload = {"plannedQty": wo.planned_qty, "good": counts["good"], "scrap": counts["scrap"], "short": short}
    return wo


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

@dataclass
class WorkOrderQuery:
    status: str | None = None
    product_code: str | None = None
    line_code: str | None = None
    q: str | None = None
    sort: str | None = None   # a key of WORK_ORDER_SORTING (the default: newest first)
    order: str | None = None  # asc (default) or desc


def _code_of(model, key_column):
    """The code of the work order's product / routing / line, as a sort column."""
    return select(model.code).where(model.id == key_column).correlate(WorkOrder).scalar_subquery()


WORK_ORDER_SORTING = Sorting({
    "woNo": WorkOrder.wo_no, "status": WorkOrder.status, "productCode": _code_of(Product, WorkOrder.product_id),
    "plannedQty": WorkOrder.planned_qty, "routingCode": _code_of(Routing, WorkOrder.routing_id),
    "lineCode": _code_of(Line, WorkOrder.line_id), "sourceSystem": WorkOrder.source_system,
    "dueDate": WorkOrder.due_date, "releasedAt": WorkOrder.released_at, "closedAt": WorkOrder.closed_at,
})


def list_work_orders(*, actor: Actor, query: WorkOrderQuery, page: int = 1, page_size: int = 50
                     ) -> tuple[list[WorkOrder], int]:
    """Work orders (`wo:read`); users bound to lines see the ones dispatched to their lines. Newest
    first, or by the column `query.sort` names (WORK_ORDER_SORTING; VALIDATION_ERROR for another)."""
    require_permission(actor, "wo:read")
    sort = WORK_ORDER_SORTING.resolve(query.sort, query.order)
    stmt = select(WorkOrder)
    if not sees_all_lines(actor):
        stmt = stmt.where(line_filter(actor, WorkOrder.line_id))
    if query.status:
        stmt = stmt.where(WorkOrder.status == query.status.upper())
    if query.product_code:
        stmt = stmt.join(Product, Product.id == WorkOrder.product_id).where(Product.code == query.product_code)
    if query.line_code:
        stmt = stmt.join(Line, Line.id == WorkOrder.line_id).where(Line.code == query.line_code)
    if query.q:
        stmt = stmt.where(func.lower(WorkOrder.wo_no).contains(query.q.strip().lower(), autoescape=True))
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    order_by = WORK_ORDER_SORTING.order_by(sort, default=[WorkOrder.id.desc()], tiebreak=WorkOrder.id)
    rows = db.session.execute(stmt.order_by(*order_by).limit(page_size)
                              .offset((page - 1) * page_size)).scalars().all()
    return list(rows), total


def read_work_order(*, actor: Actor, wo_no: str) -> WorkOrder:
    """A work order the actor may see (`wo:read`): released to one of their lines (or any, for ALL).
    One they may not see is WORK_ORDER_NOT_FOUND like an unknown one (platform/scope.py)."""
    require_permission(actor, "wo:read")
    wo = get_work_order(wo_no)
    if wo.line_id is None and not sees_all_lines(actor):
        raise _wo_missing(wo_no)
    require_visible(actor, wo.line_id, _wo_missing(wo_no))
    return wo


@dataclass(frozen=True)
class WorkOrderQuantity:
    """A work order's quantity budget (02_rules §3): its runs (not cancelled, not rework) may plan up
    to planned_qty + the units scrapped so far (which are to be replaced)."""
    planned_qty: int
    in_runs: int
    scrapped: int

    @property
    def remaining(self) -> int:
        """What new runs may still plan (0 when the budget is used up)."""
        return max(0, self.planned_qty + self.scrapped - self.in_runs)


def quantity_status(wo: WorkOrder) -> WorkOrderQuantity:
    """The one computation of a work order's remaining quantity, used by run creation, the receive
    (a lowered planned quantity) and the console."""
    in_runs = db.session.execute(select(func.coalesce(func.sum(Run.plan_qty), 0)).where(
        Run.work_order_id == wo.id, Run.status != "CANCELLED", Run.parent_run_id.is_(None))).scalar_one()
    scrapped = db.session.execute(select(func.count()).select_from(Unit).where(
        Unit.work_order_id == wo.id, Unit.status == "SCRAPPED")).scalar_one()
    return WorkOrderQuantity(planned_qty=wo.planned_qty, in_runs=int(in_runs), scrapped=int(scrapped))


def release_line_options(wo: WorkOrder) -> list[dict[str, Any]]:
    """Every active line for the release dialog, those matching the process type of the routing the
    release would use (else the product's) first, each marked `compatible`."""
    routing = resolve_routing(wo.product, explicit=wo.routing)
    process = routing.process_type if routing is not None else wo.product.process_type
    lines = db.session.execute(select(Line).where(Line.is_active.is_(True)).order_by(Line.code)).scalars().all()
    options = [{"code": ln.code, "name": ln.name, "processType": ln.process_type,
                "compatible": ln.process_type == process} for ln in lines]
    return sorted(options, key=lambda o: not o["compatible"])  # stable: by code within each group


def available_actions(wo: WorkOrder, actor: Actor) -> list[str]:
    """The work-order actions the state machine allows now and the actor's permissions grant."""
    actions = []
    if can_transition("WORK_ORDER", wo.status, "RELEASE") and actor.can("wo:release"):
        actions.append("RELEASE")
    if wo.status in ("RELEASED", "IN_PROGRESS") and actor.can("run:create"):
        actions.append("CREATE_RUN")
    if wo.status == "IN_PROGRESS" and actor.can("wo:close"):
        actions.append("CLOSE")
    return actions
