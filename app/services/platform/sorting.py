"""Column sorting of the lists (console screens and their APIs): `sort` names a column the list offers
(its whitelist, a `Sorting`), `order` is asc or desc.

A list function takes `sort` and `order` as they came and resolves them here: an unknown column or
order is a VALIDATION_ERROR naming the columns there are (the API answers it). A console screen asks
`lenient` first, so a stale or hand-edited link shows the list in its default order instead.
Sorting in SQL puts empty values last in both directions (the same on SQLite and PostgreSQL) and breaks
ties by the list's tiebreak column (the paging stays stable)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from .errors import DomainError
from .messages import M, join

ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class Sort:
    """A resolved sort: `key` None is the list's default order."""
    key: Optional[str]
    order: str

    @property
    def descending(self) -> bool:
        return self.order == "desc"


@dataclass(frozen=True)
class Sorting:
    """A list's sortable columns: key (as the API names the field) → SQL expression, or for a list
    sorted in memory → a function of a row. `default_order` is the order a column takes when the
    request names no order."""
    columns: Mapping[str, Any]
    default_order: str = "asc"

    def resolve(self, sort: Optional[str], order: Optional[str]) -> Sort:
        """The sort a request asks for; VALIDATION_ERROR for a column or an order the list does not have."""
        key = (sort or "").strip() or None
        direction = (order or "").strip().lower() or None
        if key is not None and key not in self.columns:
            raise DomainError("VALIDATION_ERROR", M("sort must be one of {columns}, not {key}.", columns=join(self.columns), key=repr(key)),
                              {"fields": {"sort": list(self.columns)}})
        if direction is not None and direction not in ORDERS:
            raise DomainError("VALIDATION_ERROR", M("order must be asc or desc, not {order}.", order=repr(direction)),
                              {"fields": {"order": list(ORDERS)}})
        return Sort(key, direction or self.default_order)

    def lenient(self, sort: Optional[str], order: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        """(sort, order) for a console screen: what the request asks when valid, else the default (None, None)."""
        try:
            resolved = self.resolve(sort, order)
        except DomainError:
            return None, None
        return resolved.key, resolved.order if resolved.key else None

    def order_by(self, sort: Sort, *, default: list, tiebreak) -> list:
        """ORDER BY clauses: the column asked for (empty values last), then the tiebreak in the same
        direction; the default clauses when no column was asked for."""
        if sort.key is None:
            return default
        column = self.columns[sort.key]
        first = column.desc() if sort.descending else column.asc()
        return [first.nulls_last(), tiebreak.desc() if sort.descending else tiebreak.asc()]

    def sort_rows(self, rows: list, sort: Sort, *, default: Callable[[list], list] | None = None) -> list:
        """A list sorted in memory (rows the service built): by the column's function, empty values last."""
        if sort.key is None:
            return default(rows) if default else rows
        value: Callable[[Any], Any] = self.columns[sort.key]
        present = [r for r in rows if value(r) is not None]
        empty = [r for r in rows if value(r) is None]
        return sorted(present, key=value, reverse=sort.descending) + empty
