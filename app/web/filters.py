"""Parsing list filters from query strings (console screens and API alike)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Optional

from ..services.platform import audit as audit_service
from ..services.platform.clock import CLOCK_SKEW, now
from ..services.platform.errors import DomainError
from .times import local_to_utc, plant_zone

_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


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


def parse_recent_time(value: Optional[str], field: str) -> Optional[datetime]:
    """A moment a person at the line reports: an ISO date-time (as `parse_datetime`), or a plant clock time
    "HH:MM" — the latest moment with that time on the plant's clock not after now (09:30 typed at 08:00
    is yesterday's 09:30), give or take CLOCK_SKEW: 14:05 typed at 14:03 by a clock a little fast is today's
    14:05, not yesterday's. None when empty."""
    match = _CLOCK_TIME.match((value or "").strip())
    if not match:
        return parse_datetime(value, field)
    local_now = now().astimezone(plant_zone())
    moment = local_now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
    if moment > local_now + CLOCK_SKEW:
        moment -= timedelta(days=1)
    return moment.astimezone(timezone.utc)


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
