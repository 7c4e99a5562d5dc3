"""Parsing list filters from query strings (console screens and API alike)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from ..services.platform import audit as audit_service
from ..services.platform.errors import DomainError
from .times import local_to_utc


def parse_datetime(value: Optional[str], field: str, *, end_of_day: bool = False) -> Optional[datetime]:
    """ISO date or datetime, in UTC for the query. A value without an offset is the plant's local time
    (MES_TIMEZONE, what the screens show); a date alone means the start (or, for `to`, the end) of that
    plant day."""
    if not value:
        return None
    try:
        return local_to_utc(value, end_of_day=end_of_day)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", f"{field} is not an ISO date or date-time.",
                          {"fields": {field: "expected YYYY-MM-DD or an ISO-8601 date-time"}}) from None


MAX_PAGE = 1_000_000  # page × pageSize stays far inside a 64-bit offset


def parse_page(args, *, default_size: int = 50, max_size: int = 500) -> tuple[int, int]:
    try:
        page = max(1, int(args.get("page", 1)))
        size = min(max_size, max(1, int(args.get("pageSize", args.get("page_size", default_size)))))
        if page > MAX_PAGE:  # an offset the database cannot take (OverflowError on SQLite)
            raise ValueError(page)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", "page and pageSize must be whole numbers.",
                          {"fields": {"page": f"integer 1–{MAX_PAGE}", "pageSize": f"integer 1–{max_size}"}}) from None
    return page, size


def export_format(args) -> Optional[str]:
    """`format` of a list API: None for the JSON page (the default), "csv" or "xlsx" for every row the
    filters match as a file (the same file as the screen's export button)."""
    fmt = (args.get("format") or "json").lower()
    if fmt == "json":
        return None
    if fmt not in ("csv", "xlsx"):
        raise DomainError("VALIDATION_ERROR", f"format must be json, csv or xlsx, not {fmt!r}.",
                          {"fields": {"format": "json, csv or xlsx"}})
    return fmt


def audit_query(args) -> audit_service.AuditQuery:
    """The audit filters of the Audit Log screen and `GET /api/v1/audit-events` (camelCase or snake_case)."""
    return audit_service.AuditQuery(
        entity_type=args.get("entityType") or args.get("entity_type") or None,
        entity_key=args.get("entityKey") or args.get("entity_key") or None,
        action=args.get("action") or None,
        actor=args.get("actor") or None,
        status=args.get("status") or None,
        date_from=parse_datetime(args.get("from"), "from"),
        date_to=parse_datetime(args.get("to"), "to", end_of_day=True),
    )


def report_query(args) -> dict:
    """A report's keyword arguments from a query string (`from`, `to`, `bucket`, `lineCode`,
    `productCode`; API and console alike)."""
    return {"date_from": args.get("from") or None, "date_to": args.get("to") or None,
            "bucket": args.get("bucket") or None, "line_code": args.get("lineCode") or None,
            "product_code": args.get("productCode") or None}
