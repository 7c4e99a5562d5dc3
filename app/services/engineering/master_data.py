"""Master-data rules (spec 02_rules §0), shared by the console's CRUD screens and the REST APIs.

Flask-AppBuilder writes master data through its own interface; these checks run before it does
(pre_add / pre_update / pre_delete), so a duplicate code, an invalid value or a delete of a row that
others reference is refused with a clear code — never a 500, never raw SQL — and nothing is written.
The change itself is audited by the session hook (services/platform/audit.py).

`validate_save` checks what every record has (code, name, choices, references, uniqueness) and then the
record's own rule from `ENTITY_RULES`. The rules of records with a module of their own (data-collection
specs, OQC sampling rules) live in that module and are registered by services/wiring.py, so this module
imports none of them. Also here: the one active-defect-code check of every context.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from sqlalchemy import Boolean, Float, Integer, String, exists, inspect, select
from sqlalchemy import Text as SaText
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import MANYTOONE
from sqlalchemy.orm.attributes import get_history

from ...extensions import db
from ...models import (
    BomItem, DataCollectionSpec, DefectCode, Equipment, Line, Material, MaterialLot, Model, Operation, Product,
    Routing, Station, StationGroup,
)
from ...models.master import (
    EQUIPMENT_STATUSES, IQC_RESULTS, MSL_LEVELS, PROCESS_TYPES, READINESS_ITEM_TYPES, STATION_TYPES,
)
from ...models.quality import SAMPLING_TYPES, OqcSamplingRule
from ...models.readiness import FeederSlot, SlotMaterialMapping
from ..platform.clock import now
from ..platform import inputs
from ..platform.errors import DomainError
from ..platform.messages import M, join
from ..platform.validation import fields_error

ENTITY_NAMES: dict[type, str] = {
    Product: "PRODUCT", Material: "MATERIAL", BomItem: "BOM_ITEM", MaterialLot: "MATERIAL_LOT",
    Line: "LINE", StationGroup: "STATION_GROUP", Station: "STATION", Operation: "OPERATION",
    Equipment: "EQUIPMENT", DefectCode: "DEFECT_CODE", DataCollectionSpec: "DATA_SPEC", Routing: "ROUTING",
    FeederSlot: "FEEDER_SLOT", SlotMaterialMapping: "SLOT_MAPPING", OqcSamplingRule: "OQC_SAMPLING_RULE",
}

# (columns, error code, field named in the error) — checked before every insert/update.
UNIQUE_RULES: dict[type, list[tuple[tuple[str, ...], str, str]]] = {
    BomItem: [(("product_id", "material_id"), "BOM_ITEM_DUPLICATE", "material")],
    MaterialLot: [(("material_id", "lot_no"), "MATERIAL_LOT_DUPLICATE", "lot_no")],
    Equipment: [(("code",), "EQUIPMENT_CODE_DUPLICATE", "code"),
                (("station_id",), "EQUIPMENT_STATION_DUPLICATE", "station")],
    DataCollectionSpec: [(("operation_id", "name"), "DATA_SPEC_NAME_DUPLICATE", "name")],
    FeederSlot: [(("line_id", "slot_code"), "FEEDER_SLOT_DUPLICATE", "slot_code")],
}


# Defect codes the system itself records (a value beyond a FAIL limit forces SPEC_OUT_OF_LIMIT; an SPC alarm
# whose chart holds records SPC_ALARM, dispositioned HOLD) and their names.
SYSTEM_DEFECT_NAMES = {"SPEC_OUT_OF_LIMIT": "Measured value out of spec limit",
                       "SPC_ALARM": "SPC run rule alarm (unit held)"}
SYSTEM_DEFECT_CODES = tuple(SYSTEM_DEFECT_NAMES)


def _equipment_rules(item) -> None:
    """The time of the last status change is the equipment's own business (set on every change)."""
    if item.id is None or get_history(item, "status").has_changes():
        item.status_changed_at = now()


def _defect_code_rules(item) -> None:
    if item.id is not None and not item.is_active:
        history = get_history(item, "code")
        original = history.deleted[0] if history.deleted else item.code
        if original in SYSTEM_DEFECT_CODES:
            raise DomainError("DEFECT_CODE_SYSTEM", M("{code} is recorded by the system and must stay active.", code=original))


def id_of(item: Any, rel: str) -> Any:
    """The id of a record's related row, whether the form set the relationship or only its id."""
    related = getattr(item, rel, None)
    return related.id if related is not None else getattr(item, f"{rel}_id", None)


def _feeder_slot_rules(item: FeederSlot) -> None:
    """A slot tied to a station must be on a station of its own line (the slots of the station a
    unit is at are the ones its MaterialUse rows come from, 02_rules §6)."""
    errors = {}
    if item.station is not None and item.station.line_id != id_of(item, "line"):
        errors["station"] = M("Station {station} is not on line {line}.", station=item.station.code,
                              line=item.line.code if item.line else '')
    if item.position is not None and item.position < 1:
        errors["position"] = M("The position must be 1 or more.")
    if errors:
        raise fields_error(errors)


def _slot_mapping_rules(item: SlotMaterialMapping) -> None:
    """A slot-table line: priority 1 or more; a routing-scoped line names a routing of its product;
    one line per (slot, material, product, routing)."""
    errors = {}
    if item.priority is None or item.priority < 1:
        errors["priority"] = M("The priority must be 1 or more (1 = first choice).")
    if item.routing is not None and item.routing.product_id is not None:
        product_id = id_of(item, "product")
        if product_id is None:
            item.product = item.routing.product
        elif product_id != item.routing.product_id:
            errors["routing"] = M("Routing {routing} belongs to another product.", routing=item.routing.code)
    if errors:
        raise fields_error(errors)
    cls = SlotMaterialMapping
    stmt = select(cls.id).where(cls.slot_id == id_of(item, "slot"), cls.material_id == id_of(item, "material"))
    for rel in ("product", "routing"):
        value = id_of(item, rel)
        column = getattr(cls, f"{rel}_id")
        stmt = stmt.where(column.is_(None) if value is None else column == value)
    if item.id is not None:
        stmt = stmt.where(cls.id != item.id)
    with db.session.no_autoflush:
        if db.session.execute(stmt.limit(1)).first() is not None:
            raise DomainError("SLOT_MAPPING_DUPLICATE", details={"field": "material"})


# Entity-specific rules that go beyond fields, references and uniqueness (record → check, which may
# normalise the record and raises DomainError). Data-collection specs and OQC sampling rules bring
# theirs from their own modules through `register_entity_rule` (services/wiring.py).
ENTITY_RULES: dict[type, Callable[[Any], None]] = {
    Equipment: _equipment_rules, DefectCode: _defect_code_rules,
    FeederSlot: _feeder_slot_rules, SlotMaterialMapping: _slot_mapping_rules,
}


def register_entity_rule(cls: type, rule: Callable[[Any], None]) -> None:
    """Install the rule of a record kept by another engineering module (idempotent)."""
    ENTITY_RULES[cls] = rule


# Allowed values of the enumerated string columns.
CHOICES: dict[type, dict[str, tuple[str, ...]]] = {
    Product: {"process_type": PROCESS_TYPES},
    Line: {"process_type": PROCESS_TYPES},
    Station: {"station_type": STATION_TYPES},
    Operation: {"default_station_type": STATION_TYPES},
    Equipment: {"status": EQUIPMENT_STATUSES},
    MaterialLot: {"iqc_result": IQC_RESULTS},
    OqcSamplingRule: {"sampling_type": SAMPLING_TYPES},
}

# Relationships a row must name (checked as references, so the error names the field).
REQUIRED_REFS: dict[type, tuple[str, ...]] = {
    BomItem: ("product", "material"),
    MaterialLot: ("material",),
    Station: ("line",),
    FeederSlot: ("line",),
    SlotMaterialMapping: ("slot", "material"),
}


def entity_name(cls: type) -> str:
    return ENTITY_NAMES.get(cls, cls.__name__.upper())


def _unique_rules(cls: type) -> list[tuple[tuple[str, ...], str, str]]:
    if cls in UNIQUE_RULES:
        return UNIQUE_RULES[cls]
    if hasattr(cls, "code"):
        return [(("code",), f"{entity_name(cls)}_CODE_DUPLICATE", "code")]
    return []


def _fk_value(item: Any, column: str) -> Any:
    """The value of a column, taking it from the relationship when the form set only that."""
    value = getattr(item, column)
    if value is None and column.endswith("_id"):
        related = getattr(item, column[:-3], None)
        if related is not None:
            value = related.id
    return value


def _normalise(item: Any) -> None:
    for attr in ("code", "lot_no", "name", "slot_code"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            setattr(item, attr, value.strip())


# Columns holding business keys (the input discipline's key rules, services/platform/inputs.py).
KEY_COLUMNS = {"code": "code", "lot_no": "lot_no", "slot_code": "slot_code"}
# Number columns with a range of their own; every other number column is a "measurement" (finite,
# within ±1e12).
NUMBER_KINDS = {"qty_per": "qty_per", "qty": "measurement", "position": "count", "priority": "count",
                "sample_value": "measurement"}


def input_errors(item: Any) -> dict[str, str]:
    """The input discipline (services/platform/inputs.py) over every column of a record: business keys,
    single-line strings up to their column's length, texts up to 2000 characters, finite numbers
    within range. Values the record does not set (None) are left to the required-field rules."""
    errors: dict[str, str] = {}
    for column in type(item).__table__.columns:
        if column.primary_key or column.foreign_keys:
            continue
        attr = column.key
        value = getattr(item, attr, None)
        if value is None:
            continue
        problem = None
        if attr in KEY_COLUMNS:
            problem = inputs.key_problem(value, KEY_COLUMNS[attr]) if value != "" else None
        elif isinstance(column.type, SaText) or (isinstance(column.type, String) and column.type.length is None):
            problem = inputs.text_problem(value, inputs.TEXT_MAX)
        elif isinstance(column.type, String):
            problem = inputs.text_problem(value, column.type.length, single_line=True)
        elif isinstance(column.type, (Float, Integer)) and not isinstance(column.type, Boolean):
            problem = inputs.number_problem(value, NUMBER_KINDS.get(attr, "measurement"))
        if problem:
            errors[attr] = inputs.message(problem)
    return errors


def validate_save(item: Any, *, is_new: bool, unique_checked: tuple[str, ...] = ()) -> None:
    """Field rules, references and uniqueness of a master-data row about to be written.
    `unique_checked`: the columns of a uniqueness rule the caller has already checked for this row (the
    import matches every row on its business key against all the records, so it skips that query)."""
    cls = type(item)
    _normalise(item)
    errors: dict[str, str] = input_errors(item)
    if hasattr(cls, "code") and not getattr(item, "code", None):
        errors["code"] = inputs.message(("INPUT_INVALID_KEY", M("A code is required.")))
    if hasattr(cls, "name") and cls not in (MaterialLot, FeederSlot) and not getattr(item, "name", None):
        errors["name"] = M("A name is required.")
    for column, allowed in CHOICES.get(cls, {}).items():
        value = getattr(item, column, None)
        if value not in allowed:
            errors[column] = M("Must be one of {choices}.", choices=join(allowed))
    for rel in inspect(cls).relationships:
        if rel.direction is not MANYTOONE:
            continue
        related = getattr(item, rel.key, None)
        if related is not None and not inspect(related).persistent:
            # an unknown id in an API body: marshmallow-sqlalchemy hands over a new, empty object
            errors[rel.key] = M("No {kind} with id {id}.", kind=rel.key.replace('_', ' '),
                                 id=getattr(related, 'id', None))
    for ref in REQUIRED_REFS.get(cls, ()):
        if getattr(item, ref, None) is None and _fk_value(item, f"{ref}_id") is None:
            errors[ref] = M("A {kind} is required.", kind=ref.replace('_', ' '))
    if isinstance(item, BomItem) and (item.qty_per is None or item.qty_per <= 0):
        errors["qty_per"] = M("The quantity per board must be greater than 0.")
    if isinstance(item, Material) and item.msl:
        item.msl = item.msl.strip().lower()
        if item.msl not in MSL_LEVELS:
            errors["msl"] = M("A moisture sensitivity level of J-STD-033 ({levels}), or empty.",
                                 levels=join(MSL_LEVELS))
    if isinstance(item, Material):
        errors.update(paste_window_errors(item))
    if isinstance(item, MaterialLot) and not item.lot_no:
        errors["lot_no"] = M("A lot number is required.")
    if isinstance(item, FeederSlot) and not item.slot_code:
        errors["slot_code"] = M("A slot code is required.")
    if isinstance(item, Line):
        enabled = item.readiness_checks_enabled
        if enabled is None:
            item.readiness_checks_enabled = list(READINESS_ITEM_TYPES)
        elif not isinstance(enabled, list) or any(x not in READINESS_ITEM_TYPES for x in enabled):
            errors["readiness_checks_enabled"] = (
                M("A list of readiness items among {items}.", items=join(READINESS_ITEM_TYPES)))
        target = item.target_per_hour
        if target is not None and (isinstance(target, bool) or not isinstance(target, int) or not 0 < target <= 100_000):
            errors["target_per_hour"] = M("Boards per hour: a whole number from 1 to 100000, or empty for no target.")
    if errors:
        raise fields_error(errors)
    if cls in ENTITY_RULES:
        ENTITY_RULES[cls](item)

    session = db.session
    with session.no_autoflush:
        for columns, code, field in _unique_rules(cls):
            if columns == unique_checked:
                continue
            values = [_fk_value(item, c) for c in columns]
            if any(v is None for v in values):
                continue
            stmt = select(cls.id)
            for column, value in zip(columns, values, strict=True):
                stmt = stmt.where(getattr(cls, column) == value)
            if not is_new and item.id is not None:
                stmt = stmt.where(cls.id != item.id)
            if session.execute(stmt.limit(1)).first() is not None:
                raise DomainError(code, details={"field": field,
                                                 "value": str(getattr(item, field, values[-1]))})


def _referencing_columns(table) -> list:
    """Foreign-key columns of other tables that point at `table` and block a delete (a CASCADE
    foreign key marks an owned child, e.g. BOM lines of a product, bindings of a line)."""
    out = []
    for other in Model.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column.table is table and (fk.ondelete or "").upper() != "CASCADE" and other is not table:
                out.append(fk.parent)
    return out


def validate_delete(item: Any) -> None:
    """A row that other rows reference cannot be deleted: `<ENTITY>_IN_USE` (deactivate instead)."""
    cls = type(item)
    if isinstance(item, DefectCode) and item.code in SYSTEM_DEFECT_CODES:
        raise DomainError("DEFECT_CODE_SYSTEM", M("{code} is recorded by the system and cannot be deleted.", code=item.code))
    error = _in_use(cls, item.id, getattr(item, "code", None) or str(item))
    if error is not None:
        raise error


def _in_use(cls: type, item_id: Any, label: str) -> DomainError | None:
    session = db.session
    with session.no_autoflush:
        for column in _referencing_columns(cls.__table__):
            used = session.execute(select(exists().where(column == item_id))).scalar()
            if used:
                name = entity_name(cls)
                entity, records = name.replace('_', ' ').capitalize(), column.table.name.replace('_', ' ')
                text = (M("{entity} {label} is used by {records} records. Deactivate it instead.",
                          entity=entity, label=label, records=records) if hasattr(cls, "is_active")
                        else M("{entity} {label} is used by {records} records.",
                               entity=entity, label=label, records=records))
                return DomainError(f"{name}_IN_USE", text, {"referencedBy": column.table.name})
    return None


# ---------------------------------------------------------------------------------------------
# A write the database refused although the rules let it through
# ---------------------------------------------------------------------------------------------

def write_keys(item: Any) -> dict[str, Any]:
    """What `refused_write` needs of a record about to be written, taken before the write (a failed
    write rolls the session back and expires or discards the record): its id, a label and the values
    of its unique keys."""
    return {"id": getattr(item, "id", None),
            "label": str(getattr(item, "code", None) or getattr(item, "name", None) or ""),
            "unique": [(columns, code, field, [_fk_value(item, c) for c in columns],
                        getattr(item, field, None))
                       for columns, code, field in _unique_rules(type(item))]}


def refused_write(cls: type, keys: dict[str, Any], error: Exception, *, deleting: bool = False) -> DomainError:
    """The catalogued answer to a write the database refused after the rules had let it through (the
    session already rolled back). A parallel write got there first: on PostgreSQL the unique index
    decides between two creates of one code, and a row may gain a reference while it is being deleted
    → the rule's own code (`<ENTITY>_CODE_DUPLICATE` naming the field, `<ENTITY>_IN_USE`); the database
    busy beyond its busy timeout → DATABASE_BUSY; anything else → MASTER_DATA_CONFLICT. Never the
    database's message: it carries the SQL and the values."""
    if isinstance(error, OperationalError) or isinstance(getattr(error, "__cause__", None), OperationalError):
        return DomainError("DATABASE_BUSY")
    session = db.session
    try:
        if deleting:
            in_use = _in_use(cls, keys["id"], keys["label"])
            if in_use is not None:
                return in_use
        else:
            for columns, code, field, values, shown in keys["unique"]:
                if any(v is None for v in values):
                    continue
                stmt = select(cls.id)
                for column, value in zip(columns, values, strict=True):
                    stmt = stmt.where(getattr(cls, column) == value)
                if keys["id"] is not None:
                    stmt = stmt.where(cls.id != keys["id"])
                if session.execute(stmt.limit(1)).first() is not None:
                    return DomainError(code, details={"field": field, "value": str(shown if shown is not None
                                                                                 else values[-1])})
    except SQLAlchemyError:
        session.rollback()
        return DomainError("DATABASE_BUSY")
    return DomainError("MASTER_DATA_CONFLICT", details={"entity": entity_name(cls)})


# ---------------------------------------------------------------------------------------------
# Defect codes in use: the one check of a code given with a FAIL, a defect or an inspection item
# ---------------------------------------------------------------------------------------------

def active_defect_code(code: Any, *, field: str = "code") -> str:
    """The code, when it is an active code of the DefectCode master; else DEFECT_CODE_REQUIRED (none
    given) or DEFECT_CODE_NOT_FOUND (unknown or deactivated). `field` is the body field the code came
    in (`code`, an inspection item's `defectCode`): the details name it."""
    code = str(code or "").strip()
    if not code:
        raise DomainError("DEFECT_CODE_REQUIRED", M("Pick the defect code from the list."), {"fields": {field: "required"}})
    active = db.session.execute(select(DefectCode.is_active).where(DefectCode.code == code)).first()
    if active is None or not active[0]:
        raise DomainError("DEFECT_CODE_NOT_FOUND", M("Unknown or inactive defect code {code}: pick one from the list.",
                                                     code=code),
                          {field: code})
    return code


def records(cls: type, *, active_only: bool = False) -> list:
    """The records of a master-data kind by code (the console's pickers)."""
    stmt = select(cls)
    if active_only:
        stmt = stmt.where(cls.is_active.is_(True))
    return list(db.session.execute(stmt.order_by(cls.code)).scalars())


def codes(cls: type, *, active_only: bool = False) -> list[str]:
    """The codes of a master-data kind, sorted (the console's filters)."""
    return [r.code for r in records(cls, active_only=active_only)]


# Solder paste (issue 18 paste timers): a material is solder paste by its category, SOLDER_PASTE (also
# written "Solder paste", "solder-paste" or "PASTE"). Only such a material has paste windows, in hours.
PASTE_CATEGORIES = ("SOLDER_PASTE", "PASTE")
PASTE_WINDOWS = {  # column: (label, most hours a plant sensibly sets)
    "paste_min_thaw_hours": (M("Minimum thaw time"), 48.0),
    "paste_max_open_hours": (M("Maximum open time"), 168.0),
    "paste_max_stencil_hours": (M("Maximum time on the stencil"), 72.0),
}


def is_solder_paste(category: Optional[str]) -> bool:
    """Whether a material category names solder paste."""
    words = (category or "").strip().upper().replace("-", "_").replace(" ", "_")
    return words in PASTE_CATEGORIES


def paste_window_errors(material: Material) -> dict[str, str]:
    """The paste windows of a material: only on solder paste, more than 0 and at most their bound (hours);
    the time on the stencil is part of the open time, so it cannot be longer."""
    errors: dict[str, str] = {}
    paste = is_solder_paste(material.category)
    for column, (label, most) in PASTE_WINDOWS.items():
        value = getattr(material, column)
        if value is None:
            continue
        if not paste:
            errors[column] = M("{label}: only a solder-paste material (category SOLDER_PASTE) has paste windows; "
                               "set the category or leave it empty.", label=label)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= most:
            errors[column] = M("{label}: a number of hours, more than 0 and at most {most}.", label=label, most=f"{most:g}")
    stencil, opened = material.paste_max_stencil_hours, material.paste_max_open_hours
    if (not errors and stencil is not None and opened is not None and stencil > opened):
        errors["paste_max_stencil_hours"] = M("Maximum time on the stencil: at most the maximum open time "
                                              "(the paste is open while it is on the stencil).")
    return errors


# Defect categories that belong to one process type (spec 01_domain_model: "SMT solder, placement, DIP
# insertion, wave, test"). A category that names SMT or DIP belongs to it; any other (test, cosmetic…)
# is offered on every line.
CATEGORY_PROCESS = {"placement": "SMT", "wave": "DIP", "wave solder": "DIP", "insertion": "DIP", "tht": "DIP"}


def defect_category_process(category: Optional[str]) -> Optional[str]:
    """The process type (SMT/DIP) a defect category belongs to, or None when it fits every line."""
    text = (category or "").strip().lower()
    words = text.replace("-", " ").replace("/", " ").split()
    for process in ("SMT", "DIP"):
        if process.lower() in words:
            return process
    return CATEGORY_PROCESS.get(text)


def active_defect_codes(process_type: Optional[str] = None) -> list[dict[str, Any]]:
    """The defect codes to pick from (terminal, inspection cards, the disposition queue), by code. With a
    process type (the station's line), only the codes of that process and the general ones."""
    rows = db.session.execute(select(DefectCode.code, DefectCode.name, DefectCode.category)
                              .where(DefectCode.is_active.is_(True)).order_by(DefectCode.code)).all()
    return [{"code": code, "name": name, "category": category} for code, name, category in rows
            if process_type is None or defect_category_process(category) in (None, process_type)]
