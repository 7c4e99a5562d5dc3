"""What the reports know about the runs their rows belong to: line, product, work order, route.

The report queries group by run (a few hundred groups at most) and never join the big tables to the
master data; `RunCatalog` loads the runs those groups name (one query per batch of ids, kept for the
request) and says which of them the report keeps: in the actor's lines and matching the `lineCode` /
`productCode` filters.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import Line, Product, Run, WorkOrder
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.scope import in_line_scope, require_line, require_permission


@dataclass(frozen=True)
class RunRef:
    id: int
    run_no: str
    status: str
    plan_qty: int
    line_id: int
    line_code: str
    product_id: int
    product_code: str
    work_order_id: int
    wo_no: str
    route_version_id: int
    started_at: Optional[datetime]
    ended_at: Optional[datetime]

    def operation(self, step_no: Optional[int]) -> str:
        """The operation of a step of the run's frozen route ("" when the route has no such step)."""
        step = plan_for(self.route_version_id).step(step_no) if step_no is not None else None
        return step.operation_code if step is not None else ""


_COLUMNS = (Run.id, Run.run_no, Run.status, Run.plan_qty, Run.line_id, Line.code, WorkOrder.product_id, Product.code,
            Run.work_order_id, WorkOrder.wo_no, Run.route_version_id, Run.started_at, Run.ended_at)


def _runs_query():
    return (select(*_COLUMNS).join(Line, Line.id == Run.line_id).join(WorkOrder, WorkOrder.id == Run.work_order_id)
            .join(Product, Product.id == WorkOrder.product_id))


class RunCatalog:
    """The runs of one report request, with the actor's scope and the report's filters."""

    def __init__(self, actor: Actor, *, line_code: Optional[str] = None, product_code: Optional[str] = None,
                 permission: Optional[str] = "reports:read") -> None:
        if permission:
            require_permission(actor, permission)
        self.actor = actor
        self.line_id = self.product_id = None
        self.line_code = (line_code or "").strip() or None
        self.product_code = (product_code or "").strip() or None
        if self.line_code:
            self.line_id = db.session.execute(select(Line.id).where(Line.code == self.line_code)).scalar()
            if self.line_id is None:
                raise DomainError("LINE_NOT_FOUND", M("No line {code}.", code=self.line_code), {"lineCode": self.line_code})
            require_line(actor, self.line_id, self.line_code)
        if self.product_code:
            self.product_id = db.session.execute(select(Product.id).where(Product.code == self.product_code)).scalar()
            if self.product_id is None:
                raise DomainError("PRODUCT_NOT_FOUND", M("No product {code}.", code=self.product_code),
                                  {"productCode": self.product_code})
        self._runs: dict[int, RunRef] = {}

    def filters(self) -> dict:
        return {"lineCode": self.line_code, "productCode": self.product_code}

    def load(self, run_ids: Iterable[int]) -> None:
        missing = sorted({i for i in run_ids if i not in self._runs})
        for start in range(0, len(missing), 500):
            for row in db.session.execute(_runs_query().where(Run.id.in_(missing[start:start + 500]))):
                self._runs[row[0]] = RunRef(*row)

    def load_where(self, *conditions) -> list[RunRef]:
        """Runs matching SQL conditions (e.g. a status), loaded and filtered."""
        query = _runs_query().where(*conditions)
        if self.line_id is not None:
            query = query.where(Run.line_id == self.line_id)
        if self.product_id is not None:
            query = query.where(WorkOrder.product_id == self.product_id)
        refs = []
        for row in db.session.execute(query.order_by(Run.id)):
            ref = self._runs.setdefault(row[0], RunRef(*row))
            if self.keeps(ref):
                refs.append(ref)
        return refs

    def get(self, run_id: int) -> Optional[RunRef]:
        """The run if the report keeps it (scope and filters), else None."""
        if run_id not in self._runs:
            self.load([run_id])
        ref = self._runs.get(run_id)
        return ref if ref is not None and self.keeps(ref) else None

    def keeps(self, ref: RunRef) -> bool:
        return ((self.line_id is None or ref.line_id == self.line_id)
                and (self.product_id is None or ref.product_id == self.product_id)
                and in_line_scope(self.actor, ref.line_id))

    def lines(self) -> list[tuple[int, str, Optional[int]]]:
        """(id, code, target per hour) of the lines the report covers: the filter's, else every active
        line in scope."""
        query = select(Line.id, Line.code, Line.target_per_hour).order_by(Line.code)
        query = query.where(Line.id == self.line_id) if self.line_id is not None else query.where(Line.is_active.is_(True))
        return [tuple(r) for r in db.session.execute(query) if in_line_scope(self.actor, r[0])]


def report_options(actor: Actor) -> dict[str, list[str]]:
    """The choices of the reports' filter bars: the active lines in the actor's scope, the active products."""
    lines = [code for line_id, code in db.session.execute(select(Line.id, Line.code).where(Line.is_active.is_(True))
                                                          .order_by(Line.code)) if in_line_scope(actor, line_id)]
    products = db.session.execute(select(Product.code).where(Product.is_active.is_(True))
                                  .order_by(Product.code)).scalars().all()
    return {"lines": lines, "products": list(products)}
