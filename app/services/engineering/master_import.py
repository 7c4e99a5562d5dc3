"""Master-data import for go-live (Engineering → Import, `flask mes import PATH [--dry-run]`), and the
column layout of the console's master-data exports — one definition, so export → import is a round trip.

A file is an XLSX workbook (one sheet per list, named after it: "Products", "Materials", …) or a CSV file
(one list; recognised by its header row, or by its file name). Headers are those of the list's export
(`SHEETS`); only the key columns are required. Rows are matched on their business key: a new key is
created, a known one updated where a cell differs, an identical one left unchanged — importing the same
file twice changes nothing the second time. An empty cell leaves the value as it is on an existing record
and takes the default on a new one.

Every row passes the same rules as the console's screens and the REST API (master_data.validate_save),
in dependency order (products and materials before BOM lines and lots, lines before stations, …); a
refused row is taken back out of the session before anything is written. The rows are written in batches
(each list is written before the next one refers to it). The whole upload — one workbook, or several CSV
files given together — is one transaction: when any row is refused nothing is written (IMPORT_REFUSED); a
dry run reports exactly what an import would do and then rolls back. Each created or updated record is audited by the session hook (platform/audit.py), as
the import's user, and the import itself by one MASTER_DATA_IMPORT event (file, SHA-256, counts)."""
from __future__ import annotations

import csv
import hashlib
import logging
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any, Callable, Iterable, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...models import (
    BomItem, DataCollectionSpec, DefectCode, Equipment, Line, Material, MaterialLot, Operation, Product, Routing,
    Station, StationGroup,
)
from ...models.master import EQUIPMENT_STATUSES, IQC_RESULTS, PROCESS_TYPES, READINESS_ITEM_TYPES, STATION_TYPES
from ...models.readiness import FeederSlot, SlotMaterialMapping
from ...models.routing import DATA_TYPES, ITEM_TYPES, LIMIT_ACTIONS, METHODS
from ..platform import audit
from ..platform.text import N_  # the sheet titles: the console shows them translated
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M, Message, join, join_messages, term
from ..platform.scope import require_permission
from ..platform.uow import begin_write_transaction
from .master_data import validate_save

log = logging.getLogger(__name__)
TEXT, INT, FLOAT, BOOL, DATE, LIST, REF, SLOT, SLOT_LINE = (
    "text", "int", "float", "bool", "date", "list", "ref", "slot", "slot_line")
TRUE_WORDS = {"yes", "y", "true", "1", "x", "active"}
FALSE_WORDS = {"no", "n", "false", "0", "inactive"}


@dataclass(frozen=True)
class Column:
    header: str
    attr: Optional[str]  # model attribute; None for the slot table's Line (part of the slot reference)
    kind: str = TEXT
    ref: Optional[type] = None  # REF: the model named by its code
    note: str = ""  # the template's hint


@dataclass(frozen=True)
class Sheet:
    name: str  # CLI / file name: "materials"
    title: str  # the sheet's and the list's title: "Materials"
    model: type
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # headers
    permission: str
    optional_key: tuple[str, ...] = ()  # key columns that may be empty (the slot table's scope)
    flush_each_row: bool = False  # a unique rule beyond the key (equipment: one per station)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The key as table columns (`material_id`, `lot_no`): the uniqueness rule the key matching covers."""
        return tuple(f"{c.attr}_id" if c.kind in (REF, SLOT) else c.attr
                     for c in (self.column(h) for h in self.key) if c.attr is not None)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, header: str) -> Column:
        return next(c for c in self.columns if c.header == header)


def _c(header: str, attr: Optional[str], kind: str = TEXT, ref: Optional[type] = None, note: str = "") -> Column:
    return Column(header, attr, kind, ref, note)


def _one_of(values: tuple[str, ...], default: str | None = None) -> str:
    return " / ".join(values) + (f" (default {default})" if default else "")


ACTIVE = _c("Active", "is_active", BOOL, note="yes / no (default yes)")
# In dependency order: a sheet only refers to sheets above it.
SHEETS: tuple[Sheet, ...] = (
    Sheet("products", N_("Products"), Product, (
        _c("Code", "code"), _c("Name", "name"), _c("Process", "process_type", note=_one_of(PROCESS_TYPES)),
        _c("Description", "description"), ACTIVE), ("Code",), "product:write"),
    Sheet("materials", N_("Materials"), Material, (
        _c("Code", "code"), _c("Name", "name"), _c("Category", "category"), _c("Unit", "uom", note="default PCS"),
        _c("Model", "model"), _c("MSL", "msl"),
        _c("Paste min thaw h", "paste_min_thaw_hours", FLOAT, note="solder paste only: hours out of the refrigerator"),
        _c("Paste max open h", "paste_max_open_hours", FLOAT, note="solder paste only"),
        _c("Paste max stencil h", "paste_max_stencil_hours", FLOAT, note="solder paste only"),
        ACTIVE), ("Code",), "material:write"),
    Sheet("bom-lines", N_("BOM lines"), BomItem, (
        _c("Product", "product", REF, Product), _c("Material", "material", REF, Material),
        _c("Qty per board", "qty_per", FLOAT), _c("Reference designators", "ref_designators")),
        ("Product", "Material"), "bom_item:write"),
    Sheet("material-lots", N_("Material lots"), MaterialLot, (
        _c("Material", "material", REF, Material), _c("Lot no", "lot_no"), _c("Supplier", "supplier"),
        _c("Date code", "date_code"), _c("Qty", "qty", FLOAT),
        _c("IQC result", "iqc_result", note=_one_of(IQC_RESULTS, "PENDING")),
        _c("IQC date", "iqc_date", DATE, note="YYYY-MM-DD")), ("Material", "Lot no"), "material_lot:write"),
    Sheet("lines", N_("Lines"), Line, (
        _c("Code", "code"), _c("Name", "name"), _c("Process", "process_type", note=_one_of(PROCESS_TYPES)),
        _c("Readiness items", "readiness_checks_enabled", LIST,
           note="comma-separated, among " + ", ".join(READINESS_ITEM_TYPES) + " (default all)"),
        _c("Target per hour", "target_per_hour", INT, note="boards per hour (optional)"),
        ACTIVE), ("Code",), "line:write"),
    Sheet("station-groups", N_("Station groups"), StationGroup, (
        _c("Code", "code"), _c("Name", "name"), _c("Description", "description")), ("Code",), "station_group:write"),
    Sheet("stations", N_("Stations"), Station, (
        _c("Code", "code"), _c("Name", "name"), _c("Line", "line", REF, Line),
        _c("Station group", "group", REF, StationGroup), _c("Station type", "station_type", note=_one_of(STATION_TYPES, "MANUAL")),
        ACTIVE), ("Code",), "station:write"),
    Sheet("operations", N_("Operations"), Operation, (
        _c("Code", "code"), _c("Name", "name"), _c("Default station type", "default_station_type",
                                                   note=_one_of(STATION_TYPES, "MANUAL")),
        _c("Key quality", "is_key_quality", BOOL), _c("Consumes material", "consumes_material", BOOL), ACTIVE),
        ("Code",), "operation:write"),
    Sheet("equipment", N_("Station equipment"), Equipment, (
        _c("Code", "code"), _c("Name", "name"), _c("Station", "station", REF, Station),
        _c("Status", "status", note=_one_of(EQUIPMENT_STATUSES, "NORMAL")), ACTIVE),
        ("Code",), "equipment:write", flush_each_row=True),
    Sheet("defect-codes", N_("Defect codes"), DefectCode, (
        _c("Code", "code"), _c("Name", "name"), _c("Category", "category"), ACTIVE), ("Code",), "defect_code:write"),
    Sheet("data-specs", N_("Data collection specs"), DataCollectionSpec, (
        _c("Operation", "operation", REF, Operation), _c("Name", "name"), _c("Description", "description"),
        _c("Item type", "item_type", note=_one_of(ITEM_TYPES, "KEY")),
        _c("Data type", "data_type", note=_one_of(DATA_TYPES, "NUMBER")),
        _c("Options", "enum_options", LIST, note="ENUM only, comma-separated"),
        _c("Method", "method", note=_one_of(METHODS, "MANUAL")), _c("Unit", "uom"),
        _c("LSL", "lsl", FLOAT), _c("Target", "target", FLOAT), _c("USL", "usl", FLOAT),
        _c("Limit action", "limit_action", note=_one_of(LIMIT_ACTIONS) + "; NUMBER with limits, default FAIL"),
        _c("Required", "is_required", BOOL), ACTIVE), ("Operation", "Name"), "data_spec:config"),
    Sheet("feeder-slots", N_("Feeder slots"), FeederSlot, (
        _c("Line", "line", REF, Line), _c("Slot", "slot_code"), _c("Name", "name"),
        _c("Station", "station", REF, Station), _c("Position", "position", INT)), ("Line", "Slot"), "loading:config"),
    Sheet("slot-table", N_("Slot table"), SlotMaterialMapping, (
        _c("Line", None, SLOT_LINE), _c("Slot", "slot", SLOT), _c("Material", "material", REF, Material),
        _c("Product", "product", REF, Product, note="empty: every product"),
        _c("Routing", "routing", REF, Routing, note="empty: every routing of the product"),
        _c("Priority", "priority", INT, note="1 = first choice (default 1)"),
        _c("Alternate", "is_alternate", BOOL, note="yes for an approved alternate")),
        ("Line", "Slot", "Material", "Product", "Routing"), "loading:config", ("Product", "Routing")),
)
BY_NAME = {s.name: s for s in SHEETS}
SHEET_ORDER = {s.title: i for i, s in enumerate(SHEETS)}
BY_MODEL = {s.model: s for s in SHEETS}


# -- export: the values of a record in the sheet's columns -----------------------------------------

def export_value(item: Any, column: Column) -> Any:
    if column.kind == SLOT_LINE:
        return item.slot.line.code if item.slot is not None else None
    value = getattr(item, column.attr)
    if value is None:
        return None
    if column.kind == REF:
        return value.code
    if column.kind == SLOT:
        return value.slot_code
    if column.kind == BOOL:
        return "yes" if value else "no"
    if column.kind == LIST:
        return ", ".join(str(v) for v in value)
    if column.kind == DATE:
        return value.isoformat()
    if column.kind == FLOAT and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def export_rows(sheet: Sheet, items: Iterable[Any]) -> Iterable[list[Any]]:
    for item in items:
        yield [export_value(item, c) for c in sheet.columns]


# -- reading a file --------------------------------------------------------------------------------

@dataclass
class RawSheet:
    sheet: Sheet
    label: str  # the sheet's title in the workbook, or the CSV file's name
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells)
    decimal_comma: bool = False  # a semicolon-separated CSV: 4,75 is four point seven five


def _clean_header(value: Any) -> str:
    return " ".join(str(value or "").replace("\ufeff", "").split())


MAX_COLUMNS = 40  # read of a sheet's width (the widest list has 14 columns)
MAX_ROWS = 100_000  # data rows per sheet: a larger file is split (or the CLI used with several files)
FORMULA = object()  # an XLSX cell holding a formula (its value is not in the file we read)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # no tab, newline or carriage return


def _match_sheet(label: str, headers: list[str]) -> Sheet:
    """The list a sheet or CSV file holds: by its title or file name when its headers fit that list,
    else by its headers alone."""
    wanted = label.strip().lower()
    stem = PurePath(wanted).stem
    given = {h for h in headers if h}
    named = None
    for sheet in SHEETS:
        names = {sheet.title.lower(), sheet.name, sheet.name.replace("-", " "), sheet.name.replace("-", "_")}
        if wanted in names or any(stem == n or stem.startswith((n + "-", n + "_")) for n in names):
            named = sheet
            break
    if named is not None and given <= set(named.headers):
        return named
    exact = [s for s in SHEETS if set(s.headers) == given]
    if len(exact) == 1:
        return exact[0]
    fitting = [s for s in SHEETS if given <= set(s.headers) and set(s.key) - set(s.optional_key) <= given]
    if len(fitting) == 1:
        return fitting[0]
    if named is not None:  # its name says which list: the unknown columns are reported against it
        return named
    raise DomainError("IMPORT_SHEET_UNKNOWN",
                      M("{sheet}: which list is it? Name the sheet after one of {lists}, or use the template's headers.",
                        sheet=label, lists=join_messages((term(s.title) for s in SHEETS), ", ")), {"sheet": label, "headers": headers})


def _too_large(label: str) -> DomainError:
    return DomainError("IMPORT_FILE_TOO_LARGE", M("{sheet}: more than {rows} rows. Split the file.", sheet=label, rows=f"{MAX_ROWS:,}"),
                       {"sheet": label, "maxRows": MAX_ROWS})


def _raw(label: str, rows: Iterable[Sequence[Any]]) -> Optional[RawSheet]:
    """A sheet's cells as header + numbered rows (empty rows skipped); None for an empty sheet."""
    numbered = enumerate(rows, 1)
    header_row: Sequence[Any] = ()
    for _, cells in numbered:
        if not all(_blank(v) for v in cells):
            header_row = cells
            break
    if not header_row:
        return None
    headers = [_clean_header(v) for v in header_row[:MAX_COLUMNS]]
    while headers and not headers[-1]:
        headers.pop()
    sheet = _match_sheet(label, headers)
    unknown = [h for h in headers if h and h not in sheet.headers]
    if unknown:
        raise DomainError("IMPORT_COLUMN_UNKNOWN", M("{sheet}: {columns} is not a column of {list} ({headers}).", sheet=label,
                            columns=join(unknown), list=term(sheet.title), headers=join(sheet.headers)), {"sheet": label, "columns": unknown})
    missing = [h for h in sheet.key if h not in headers and h not in sheet.optional_key]
    if missing:
        raise DomainError("IMPORT_KEY_COLUMN_MISSING", M("{sheet}: the key column {columns} is missing.", sheet=label,
                                                                columns=join(missing)),
                          {"sheet": label, "columns": missing})
    duplicates = sorted({h for h in headers if h and headers.count(h) > 1})
    if duplicates:
        raise DomainError("IMPORT_COLUMN_UNKNOWN", M("{sheet}: the column {columns} is there twice.", sheet=label,
                                                             columns=join(duplicates)),
                          {"sheet": label, "columns": duplicates})
    data = []
    for number, cells in numbered:
        cells = list(cells[:MAX_COLUMNS])
        if all(_blank(v) for v in cells):
            continue
        stray = [i for i, v in enumerate(cells) if not _blank(v) and (i >= len(headers) or not headers[i])]
        if stray:
            raise DomainError("IMPORT_COLUMN_UNKNOWN", M("{sheet} row {row}: a value in a column without a header (give the column its "
                                "header, or delete it).", sheet=label, row=number), {"sheet": label, "row": number})
        if len(data) >= MAX_ROWS:
            raise _too_large(label)
        data.append((number, cells[:len(headers)] + [None] * (len(headers) - len(cells))))
    return RawSheet(sheet, label, headers, data)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _xlsx_rows(sheet) -> Iterable[list[Any]]:
    """A worksheet's rows (read-only mode, at most MAX_COLUMNS wide and twice MAX_ROWS long — blank lines
    included —, whatever the file declares); a formula cell as FORMULA."""
    for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, max_row=2 * MAX_ROWS), 1):
        cells = [FORMULA if getattr(cell, "data_type", None) == "f" else cell.value for cell in row]
        if number == 2 * MAX_ROWS and not all(_blank(v) for v in cells):
            raise _too_large(sheet.title)  # more rows may follow that were not read: never drop them silently
        yield cells


def _delimiter(text: str) -> str:
    """The header line's most frequent of , ; and tab."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=header.count)


def _csv_rows(text: str) -> Iterable[list[str]]:
    """CSV rows, separated by the header line's delimiter; quotes are always "."""
    yield from csv.reader(io.StringIO(text), delimiter=_delimiter(text), quotechar='"')


def read_file(filename: str, content: bytes) -> list[RawSheet]:
    """The sheets of an XLSX workbook, or the one list of a CSV file."""
    name = PurePath(filename or "import").name
    if content[:4] == b"PK\x03\x04":  # a zip: XLSX
        try:
            from openpyxl import load_workbook
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip
            raise DomainError("IMPORT_FILE_UNREADABLE", M("{file}: not a readable XLSX workbook ({error}).", file=name,
                                error=exc.__class__.__name__),
                              {"file": name}) from None
        try:
            return [raw for ws in workbook.worksheets if (raw := _raw(ws.title, _xlsx_rows(ws))) is not None]
        except DomainError:
            raise
        except Exception as exc:
            raise DomainError("IMPORT_FILE_UNREADABLE", M("{file}: not a readable XLSX workbook ({error}).", file=name,
                                error=exc.__class__.__name__),
                              {"file": name}) from None
        finally:
            workbook.close()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("IMPORT_FILE_UNREADABLE", M("{file}: not UTF-8 text. Save it as \"CSV UTF-8\" or as .xlsx.", file=name),
                          {"file": name}) from None
    if "\x00" in text:
        raise DomainError("IMPORT_FILE_UNREADABLE", M("{file}: not a CSV file.", file=name), {"file": name})
    try:
        raw = _raw(name, _csv_rows(text))
    except csv.Error as exc:
        raise DomainError("IMPORT_FILE_UNREADABLE", M("{file}: not a readable CSV file ({error}).", file=name, error=str(exc)), {"file": name}) from None
    if raw is not None:
        raw.decimal_comma = _delimiter(text) == ";"
    return [raw] if raw is not None else []


@dataclass
class Upload:
    """The files of one import, read: their sheets in dependency order, names and checksums."""
    sheets: list[RawSheet]
    files: list[tuple[str, str]]  # (name, SHA-256)

    @property
    def rows(self) -> int:
        return sum(len(raw.rows) for raw in self.sheets)

    @property
    def name(self) -> str:
        return ", ".join(name for name, _ in self.files)

    @property
    def sha256(self) -> str:
        """The file's SHA-256; of several files, the SHA-256 of their `sha256  name` lines."""
        if len(self.files) == 1:
            return self.files[0][1]
        return hashlib.sha256("".join(f"{sha}  {name}\n" for name, sha in self.files).encode()).hexdigest()


def read_files(files: list[tuple[str, bytes]]) -> Upload:
    """Read the files of one import (an XLSX workbook, or CSV files of one list each): every list at most
    once, in dependency order. DomainError when one cannot be read or no file has a data row."""
    sheets: list[RawSheet] = []
    names = []
    for filename, content in files:
        name = PurePath(filename or "import").name
        names.append((name, hashlib.sha256(content).hexdigest()))
        sheets += read_file(name, content)
    seen: dict[str, str] = {}
    for raw in sheets:
        if raw.sheet.name in seen:
            raise DomainError("IMPORT_SHEET_UNKNOWN", M("{sheet} and {other} are both {list}: keep one sheet per list.", sheet=raw.label,
                                other=seen[raw.sheet.name], list=term(raw.sheet.title)), {"sheet": raw.label})
        seen[raw.sheet.name] = raw.label
    if not any(raw.rows for raw in sheets):
        raise DomainError("IMPORT_EMPTY", M("{files}: no data rows under the header row.",
                                                 files=join(n for n, _ in names)),
                          {"files": [n for n, _ in names]})
    order = {s.name: i for i, s in enumerate(SHEETS)}
    return Upload(sorted(sheets, key=lambda raw: order[raw.sheet.name]), names)


# -- the report ------------------------------------------------------------------------------------

@dataclass
class RowError:
    column: Optional[str]
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "code": self.code, "message": self.message}


@dataclass
class RowResult:
    sheet: str
    row: int
    key: str
    action: str  # CREATE, UPDATE, UNCHANGED, REFUSED
    changes: dict[str, Any] = field(default_factory=dict)  # header → new value (UPDATE)
    errors: list[RowError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "key": self.key, "action": self.action,
                "changes": self.changes, "errors": [e.to_dict() for e in self.errors]}


@dataclass
class ImportReport:
    filename: str
    sha256: str
    dry_run: bool
    applied: bool = False
    rows: list[RowResult] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.rows:
            per = out.setdefault(r.sheet, {"CREATE": 0, "UPDATE": 0, "UNCHANGED": 0, "REFUSED": 0})
            per[r.action] += 1
        return out

    @property
    def refused(self) -> list[RowResult]:
        return [r for r in self.rows if r.action == "REFUSED"]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.filename, "sha256": self.sha256, "dryRun": self.dry_run, "applied": self.applied,
                "counts": self.counts(), "rows": [r.to_dict() for r in self.rows]}


# -- applying --------------------------------------------------------------------------------------

class _CellError(Exception):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(message)
        self.error = RowError(column, code, message)


def _parse(column: Column, value: Any, decimal_comma: bool = False) -> Any:
    """A cell as the column's kind; None for an empty cell. _CellError when it is not of that kind."""
    if value is FORMULA:
        raise _CellError(column.header, "IMPORT_VALUE_INVALID", M("{column}: a formula. Copy the column and paste it as values (Paste special → Values), "
                           "then import again.", column=column.header))
    if _blank(value):
        return None
    if isinstance(value, str) and _CONTROL.search(value):
        raise _CellError(column.header, "IMPORT_VALUE_INVALID", M("{column}: control characters in {value}.", column=column.header,
                                                                   value=repr(value)))
    kind = column.kind
    if kind in (TEXT, REF, SLOT, SLOT_LINE):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a code typed as a number in a spreadsheet
        if isinstance(value, (datetime, date)):
            value = value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
        text = str(value).strip()
        if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
            text = text[1:]  # the exports' guard against formulas (web/export.py), taken off again
        return text
    if kind == BOOL:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _CellError(column.header, "IMPORT_VALUE_INVALID", M("{column}: yes or no, not {value}.", column=column.header,
                                                                   value=repr(value)))
    if kind in (INT, FLOAT):
        try:
            number = _number(value, decimal_comma) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or abs(number) > 1e12:
            raise _CellError(column.header, "IMPORT_VALUE_INVALID", M("{column}: a number, not {value}.", column=column.header,
                                                                       value=repr(value)))
        if kind == INT:
            if not number.is_integer():
                raise _CellError(column.header, "IMPORT_VALUE_INVALID",
                                 M("{column}: a whole number, not {value}.", column=column.header, value=repr(value)))
            return int(number)
        return number
    if kind == DATE:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise _CellError(column.header, "IMPORT_VALUE_INVALID",
                             M("{column}: a date YYYY-MM-DD, not {value}.", column=column.header, value=repr(value))) from None
    if kind == LIST:
        parts = [p.strip() for line in str(value).splitlines() for p in line.split(",")]
        return [p for p in dict.fromkeys(parts) if p]
    raise AssertionError(kind)  # pragma: no cover - every kind is handled above


def _number(text: str, decimal_comma: bool = False) -> float:
    """A number as people type it. In a file whose values are separated by semicolons (a European
    spreadsheet's CSV) the comma is the decimal mark and dots group thousands: 4,75 · 1.234,5. Otherwise
    the dot is the decimal mark; a comma before exactly three digits groups thousands (5,000 · 1,234.5),
    except after a leading 0 (0,125 is 0.125), and any other single comma is a decimal comma (4,75)."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if decimal_comma:
        return float(text.replace(".", "").replace(",", "."))
    if re.fullmatch(r"[-+]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    elif text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)


class _References:
    """Records named by code (and feeder slots by line and slot code), from the database and from the
    rows this import created before."""

    def __init__(self) -> None:
        self.by_model: dict[type, dict[str, Any]] = {}
        self.slots: Optional[dict[tuple[str, str], FeederSlot]] = None

    def code(self, model: type, code: str) -> Any:
        if model not in self.by_model:
            self.by_model[model] = {r.code: r for r in db.session.execute(select(model)).scalars()}
        return self.by_model[model].get(code)

    def slot(self, line_code: str, slot_code: str) -> Optional[FeederSlot]:
        if self.slots is None:
            rows = db.session.execute(select(FeederSlot).options(selectinload(FeederSlot.line))).scalars()
            self.slots = {(s.line.code, s.slot_code): s for s in rows}
        return self.slots.get((line_code, slot_code))

    def created(self, item: Any) -> None:
        if isinstance(item, FeederSlot) and self.slots is not None:
            self.slots[(item.line.code, item.slot_code)] = item
        elif hasattr(item, "code") and type(item) in self.by_model:
            self.by_model[type(item)][item.code] = item


def _key_of(sheet: Sheet, item: Any) -> tuple:
    return tuple(export_value(item, sheet.column(h)) for h in sheet.key)


def _load_options(sheet: Sheet) -> list:
    """Eager loads of the records a sheet's columns name (no query per row)."""
    options = []
    for column in sheet.columns:
        if column.kind == REF:
            options.append(selectinload(getattr(sheet.model, column.attr)))
        elif column.kind == SLOT:
            options.append(selectinload(getattr(sheet.model, column.attr)).selectinload(FeederSlot.line))
    return options


def preload(sheet: Sheet, items: list[Any]) -> list[Any]:
    """Load the related records of `items` (the list screens' export) in a few queries."""
    ids = [item.id for item in items]
    for start in range(0, len(ids), 1000):
        db.session.execute(select(sheet.model).where(sheet.model.id.in_(ids[start:start + 1000]))
                           .options(*_load_options(sheet))).scalars().all()
    return items


def _existing(sheet: Sheet) -> dict[tuple, Any]:
    rows = db.session.execute(select(sheet.model).options(*_load_options(sheet))).scalars()
    return {_key_of(sheet, item): item for item in rows}


def _defaults(model: type) -> dict[str, Any]:
    """The columns' scalar defaults (PCS, MANUAL, PENDING, priority 1, active, …): a new record gets them
    before the rules check it, as the model would give them on insert."""
    out = {}
    for column in model.__table__.columns:
        default = column.default
        if default is not None and default.is_scalar and column.key not in ("id",):
            out[column.key] = default.arg
    return out


def _resolve(column: Column, value: Any, row: dict[str, Any], refs: _References) -> Any:
    if value is None or column.kind not in (REF, SLOT):
        return value
    if column.kind == SLOT:
        line = row.get("Line")
        found = refs.slot(line or "", value)
        if found is None:
            raise _CellError(column.header, "IMPORT_REFERENCE_NOT_FOUND",
                             (M("Slot: no feeder slot {slot} on line {line}.", slot=value, line=line) if line
                              else M("Slot: no feeder slot {slot} on line (no line given).", slot=value)))
        return found
    found = refs.code(column.ref, value)
    if found is None:
        label = column.header.lower()
        raise _CellError(column.header, "IMPORT_REFERENCE_NOT_FOUND", M("{column}: no {kind} {value}.", column=column.header,
                                                                                 kind=label, value=value))
    return found


def _header_of(sheet: Sheet, attr: str) -> Optional[str]:
    for column in sheet.columns:
        if column.attr == attr or (column.attr and f"{column.attr}_id" == attr):
            return column.header
    return None


def _rule_errors(sheet: Sheet, error: DomainError) -> list[RowError]:
    """A rule's refusal as row errors on the columns it names."""
    details = error.details or {}
    fields = details.get("fields")
    if isinstance(fields, dict) and fields:
        codes = details.get("codes") or {}  # a field that broke the input discipline: its INPUT_… code
        return [RowError(_header_of(sheet, name), codes.get(name, error.code),
                         M("{field}: {problem}", field=_header_of(sheet, name) or name, problem=message))
                for name, message in fields.items()]
    if isinstance(fields, list) and fields:
        return [RowError(_header_of(sheet, fields[0]), error.code, error.message)]
    return [RowError(_header_of(sheet, details.get("field", "")), error.code, error.message)]


def _display(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, date):
        return value.isoformat()
    return getattr(value, "code", None) or getattr(value, "slot_code", None) or value


def _apply_row(raw: RawSheet, number: int, cells: list[Any], existing: dict[tuple, Any], seen: dict[tuple, int],
               refs: _References) -> RowResult:
    sheet = raw.sheet
    row: dict[str, Any] = {}
    errors: list[RowError] = []
    for header, cell in zip(raw.headers, cells):
        if not header:
            continue
        try:
            row[header] = _parse(sheet.column(header), cell, raw.decimal_comma)
        except _CellError as failure:
            errors.append(failure.error)
    key = tuple(row.get(h) for h in sheet.key)
    key_text = " / ".join(str(k) for k in key if k is not None) or "(no key)"
    result = RowResult(sheet.title, number, key_text, "REFUSED", errors=errors)
    if errors:
        return result
    if sheet.model is SlotMaterialMapping and row.get("Routing") and not row.get("Product"):
        routing = refs.code(Routing, row["Routing"])  # a routing of a product scopes the line to it
        if routing is not None and routing.product is not None:
            row["Product"] = routing.product.code
    key = tuple(row.get(h) for h in sheet.key)
    missing = [h for h in sheet.key if row.get(h) is None and h not in sheet.optional_key]
    if missing:
        result.errors = [RowError(h, "VALIDATION_ERROR", M("{column}: required (it says which record the row is).", column=h))
                         for h in missing]
        return result
    if key in seen:
        result.errors = [RowError(sheet.key[0], "IMPORT_ROW_DUPLICATE",
                                  M("The same {list} record as row {row}.", list=sheet.title.lower(),
                                    row=seen[key]))]
        return result
    seen[key] = number
    values: dict[str, Any] = {}
    for header, value in row.items():
        column = sheet.column(header)
        if column.attr is None or value is None:
            continue
        try:
            values[column.attr] = _resolve(column, value, row, refs)
        except _CellError as failure:
            errors.append(failure.error)
    if errors:
        return result
    item = existing.get(key)
    is_new = item is None
    changes = {}
    if not is_new:
        for attr, value in values.items():
            current = getattr(item, attr)
            if current != value and not (isinstance(current, float) and isinstance(value, float)
                                         and math.isclose(current, value, rel_tol=1e-12)):
                changes[attr] = value
        if not changes:
            result.action = "UNCHANGED"
            return result
    if is_new:
        item = sheet.model()
        for attr, value in {**_defaults(sheet.model), **values}.items():
            setattr(item, attr, value)
    else:
        before = {attr: getattr(item, attr) for attr in changes}
        for attr, value in changes.items():
            setattr(item, attr, value)
    try:
        with db.session.no_autoflush:
            validate_save(item, is_new=is_new, unique_checked=sheet.key_columns)
    except DomainError as error:
        if is_new:  # leave no trace in the related records' collections (back_populates)
            for attr, value in values.items():
                if getattr(value, "_sa_instance_state", None) is not None:
                    setattr(item, attr, None)
        else:
            for attr, value in before.items():
                setattr(item, attr, value)
        result.errors = _rule_errors(sheet, error)
        return result
    if is_new:
        db.session.add(item)
    if sheet.flush_each_row:
        _flush(sheet.title, number)
    if is_new:
        existing[key] = item
        refs.created(item)
        result.action = "CREATE"
    else:
        result.action = "UPDATE"
        result.changes = {_header_of(sheet, a) or a: _display(v) for a, v in changes.items()}
    return result


BATCH = 500  # rows written per flush (the audit hook's events go in one multi-row insert)


def _flush(sheet: str, last_row: int) -> None:
    """Write the pending rows; a database that refuses them (a constraint the rules did not foresee, a lock
    held too long) refuses the whole upload, never a 500."""
    try:
        db.session.flush()
    except SQLAlchemyError as error:
        raise _database_refused(error, M("writing {sheet} up to row {row}", sheet=term(sheet), row=last_row)) from None


def _database_refused(error: SQLAlchemyError, doing: Message) -> DomainError:
    busy = isinstance(error, OperationalError)
    why = M("the database was busy (another write held it too long): try again in a quiet moment") if busy else \
        M("the database refused a row (a rule the import does not know)")
    return DomainError("IMPORT_REFUSED", M("While {doing}, {why}: nothing was imported ({error}).", doing=doing, why=why,
                                           error=error.__class__.__name__), {"error": error.__class__.__name__})


def import_file(*, actor: Actor, filename: str, content: bytes, dry_run: bool = False) -> ImportReport:
    """Import (or, with `dry_run`, try) one file (the console's upload)."""
    return import_upload(actor=actor, upload=read_files([(filename, content)]), dry_run=dry_run)


def import_upload(*, actor: Actor, upload: Upload, dry_run: bool = False,
                  progress: Optional[Callable[[int], None]] = None) -> ImportReport:
    """Import (or, with `dry_run`, try) the files read by `read_files`, in one transaction: the report of
    every row. A file with refused rows is reported and nothing is written (a FAIL audit event with
    IMPORT_REFUSED records the attempt); `progress(n)` is called as rows are done (the CLI's bar)."""
    report = ImportReport(upload.name, upload.sha256, dry_run)
    for raw in upload.sheets:
        require_permission(actor, raw.sheet.permission)
    session = db.session
    session.info["uow_actor"] = actor  # the session hook audits every created/updated record as the importer
    try:
        try:
            begin_write_transaction()
        except SQLAlchemyError as error:
            raise _database_refused(error, M("starting")) from None
        refs = _References()
        for raw in upload.sheets:
            existing, seen = _existing(raw.sheet), {}
            for index, (number, cells) in enumerate(raw.rows, 1):
                report.rows.append(_apply_row(raw, number, cells, existing, seen, refs))
                if index % BATCH == 0:
                    _flush(raw.sheet.title, number)
                if progress:
                    progress(1)
            if raw.rows:  # the next sheets refer to this one's new records (persistent, with ids)
                _flush(raw.sheet.title, raw.rows[-1][0])
        if dry_run or report.refused:
            session.rollback()
        else:
            audit.write_event(session, actor, "MASTER_DATA_IMPORT", "MASTER_DATA_IMPORT", upload.name,
                              payload={"files": [{"file": n, "sha256": h} for n, h in upload.files],
                                       "sha256": upload.sha256, "counts": report.counts()})
            try:
                session.commit()
            except SQLAlchemyError as error:
                raise _database_refused(error, M("committing")) from None
            report.applied = True
    except DomainError as error:
        session.rollback()
        session.info.pop("uow_actor", None)
        if not dry_run:
            _record_failure(actor, upload, error)
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop("uow_actor", None)
    if report.refused and not dry_run:
        _record_failure(actor, upload, DomainError(
            "IMPORT_REFUSED", M("{count} rows refused: nothing was imported.", count=len(report.refused)),
            {"refused": [{"sheet": r.sheet, "row": r.row, "errors": [e.to_dict() for e in r.errors]}
                         for r in report.refused[:50]]}))
    return report


def _record_failure(actor: Actor, upload: Upload, error: DomainError) -> None:
    """The FAIL audit event of a refused import; a database too busy for it too is logged instead (the
    refusal itself reaches the user either way)."""
    try:
        audit.record_failure(actor, "MASTER_DATA_IMPORT", "MASTER_DATA_IMPORT", upload.name, error,
                             payload={"sha256": upload.sha256})
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not audit the refused import of %s (%s): %s", upload.name, upload.sha256, error.code)
