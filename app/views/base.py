"""Base of the master-data console screens: Flask-AppBuilder ModelViews sharing the read/write
permission pair with their REST API, validated by the master-data service, exportable to CSV."""
from __future__ import annotations

from functools import partial
from typing import Iterable

from flask import flash, request
from flask_babel import gettext
from jinja2 import pass_context
from flask_babel import lazy_gettext
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_filter_args, get_order_args

from ..extensions import db
from ..services.engineering import master_data, master_import
from ..services.platform import audit as audit_service
from ..services.platform.context import ambient_actor
from ..services.platform.errors import DomainError
from ..web.export import csv_response, xlsx_response
from ..web.messages import NamedRowMessages
from ..web.times import format_datetime  # noqa: F401  (the views' one display format of a time)
from ..web.times import register as register_times
from ..web.codes import code_label, scope_label
from ..web.i18n import N_, error_text, localize
from .fab_forms import RuleFormsModelView, RuleRefused

READ_WRITE = {
    "list": "read", "show": "read", "csv": "read", "xlsx": "read", "api_read": "read", "api_get": "read",
    "api_column_add": "write", "api_column_edit": "write", "api_readvalues": "read",
    "api": "read", "download": "read",
    "add": "write", "edit": "write", "delete": "write", "action": "write", "action_post": "write",
    "api_create": "write", "api_update": "write", "api_delete": "write",
}


# The column titles every master-data screen shares (a screen's own label_columns win); FAB would show
# the column's name made readable, in English whatever the language.
COMMON_LABELS = {
    "code": lazy_gettext("Code"), "name": lazy_gettext("Name"), "description": lazy_gettext("Description"), "category": lazy_gettext("Category"),
    "is_active": lazy_gettext("Active"), "created_at": lazy_gettext("Created"), "updated_at": lazy_gettext("Updated"), "product": lazy_gettext("Product"),
    "material": lazy_gettext("Material"), "operation": lazy_gettext("Operation"), "line": lazy_gettext("Line"), "station": lazy_gettext("Station"),
    "status": lazy_gettext("Status"), "source": lazy_gettext("Source"), "model": lazy_gettext("Model"), "uom": lazy_gettext("Unit"), "qty": lazy_gettext("Qty"),
    "supplier": lazy_gettext("Supplier"), "date_code": lazy_gettext("Date code"), "equipment": lazy_gettext("Equipment"), "target": lazy_gettext("Target"),
    "method": lazy_gettext("Method"), "enum_options": lazy_gettext("Options"), "process_type": lazy_gettext("Process"),
    "station_type": lazy_gettext("Station type"), "position": lazy_gettext("Position"),
    "priority": lazy_gettext("Priority"), "routing": lazy_gettext("Routing"), "locked_at": lazy_gettext("Locked at"),
}
# Columns holding a code shown as a word (web/codes.py): SMT stays SMT, MANUAL becomes 手工 in Chinese.
CODED_COLUMNS = {"process_type": None, "station_type": None, "default_station_type": None, "status": None,
                 "source": None, "iqc_result": "iqc", "data_type": None, "item_type": None, "limit_action": None,
                 "method": None}  # column -> the code's context (web/codes.py code_label)


class MesModelView(NamedRowMessages, RuleFormsModelView):
    """A master-data screen. Subclasses set datamodel, class_permission_name and columns. A record
    refused by the master-data rules keeps its form, with the rule's message on the field
    (views/fab_forms.py)."""

    method_permission_name = READ_WRITE
    write_permission = "write"  # the data-spec screen writes with `config` (data_spec:config)
    read_permission = "read"    # feeder slots are read and written with `config` (loading:config)
    list_template = "mes/model_list.html"
    page_size = 25
    export_columns: list[str] | None = None
    help_doc = "engineer"
    help_anchor = "master-data"

    def __init__(self, **kwargs):
        write, read = self.write_permission, self.read_permission
        mapping = {k: (write if v == "write" else read) for k, v in READ_WRITE.items()}
        for attr_name in dir(type(self)):
            if hasattr(getattr(type(self), attr_name, None), "_action"):
                mapping[attr_name] = write  # list actions change data
        self.method_permission_name = mapping
        self.label_columns = {**COMMON_LABELS, **(type(self).label_columns or {})}
        kind = lazy_gettext(record_kind(self.datamodel.obj))  # FAB's own titles would stay English
        self.add_title = type(self).add_title or lazy_gettext("Add %(record)s", record=kind)
        self.edit_title = type(self).edit_title or lazy_gettext("Edit %(record)s", record=kind)
        self.show_title = type(self).show_title or lazy_gettext("Show %(record)s", record=kind)
        super().__init__(**kwargs)
        shown = set(self.list_columns) | set(self.show_columns or [])
        self.formatters_columns = {
            **{c: format_datetime for c in shown if c.endswith("_at")},
            **{c: partial(code_label, context=CODED_COLUMNS[c]) for c in shown & set(CODED_COLUMNS)},
            **(self.formatters_columns or {}),
        }
        self.extra_args = {
            **(self.extra_args or {}),
            "csv_endpoint": f"{self.__class__.__name__}.csv",
            "xlsx_endpoint": f"{self.__class__.__name__}.xlsx",
            "help_doc": self.help_doc,
            "help_anchor": self.help_anchor,
        }

    # -- what the user reads after a save: "Product P-1001 saved.", not FAB's "Added Row" (web/messages.py)
    def row_name(self, item) -> str:
        return record_name(item)

    # -- the master-data rules, with refused attempts audited --------------------------------
    def _check(self, action: str, item, call) -> None:
        try:
            call()
        except DomainError as error:
            db.session.rollback()
            raise self.refusal(item, action, error) from None

    def refusal(self, item, action: str, error: DomainError) -> RuleRefused:
        """A refused attempt, audited (FAIL) with the rule's code."""
        audit_service.record_failure(ambient_actor(), f"{master_data.entity_name(type(item))}_{action}",
                                     master_data.entity_name(type(item)), record_key(item), error)
        return RuleRefused(error, console_message(error))

    def show_refusal(self, form, refused: RuleRefused) -> None:
        show_on_form(form, refused.error)

    def pre_add(self, item):
        self._check("CREATE", item, lambda: master_data.validate_save(item, is_new=True))

    def pre_update(self, item):
        self._check("UPDATE", item, lambda: master_data.validate_save(item, is_new=False))

    def pre_delete(self, item):
        self._check("DELETE", item, lambda: master_data.validate_delete(item))
        self.remember_row(item)  # named before it is gone

    # -- CSV / XLSX export of the filtered list ---------------------------------------------
    def _export(self) -> tuple[str, str, list[str], Iterable[list]]:
        """(file stem, sheet title, header, rows) of the filtered, ordered list. A master-data list
        exports the columns of its import sheet (services/engineering/master_import.py), so an export
        imports again as it is."""
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        orders = get_order_args().get(self.__class__.__name__)
        order_column, order_direction = orders if orders else (self.base_order or ("", ""))
        joined = self._filters.get_joined_filters(self._base_filters)
        _, rows = self.datamodel.query(joined, order_column, order_direction)
        sheet = master_import.BY_MODEL.get(self.datamodel.obj)
        if sheet is not None:
            return sheet.name, sheet.title, sheet.headers, list(master_import.export_rows(
                sheet, master_import.preload(sheet, rows)))
        columns = self.export_columns or self.list_columns
        header = [str(self.label_columns.get(c, c)) for c in columns]
        values = self.datamodel.get_values(rows, columns)
        stem = self.__class__.__name__.replace("View", "").lower()
        return stem, str(self.list_title or stem), header, ([v.get(c) for c in columns] for v in values)

    @expose("/csv")
    @has_access
    def csv(self):
        stem, _, header, rows = self._export()
        return csv_response(stem, header, rows)

    @expose("/xlsx")
    @has_access
    def xlsx(self):
        stem, title, header, rows = self._export()
        return xlsx_response(stem, [(title, header, rows)])


class ListExports:
    """`/csv` and `/xlsx` of a custom console list (a view with a `/<key>` detail route needs these
    static paths: the converter would take them). The view maps `csv` and `xlsx` to its read
    permission and implements `_export(fmt)`."""

    @expose("/csv")
    @has_access
    def csv(self):
        return self._export("csv")

    @expose("/xlsx")
    @has_access
    def xlsx(self):
        return self._export("xlsx")

    def _export(self, fmt: str):
        raise NotImplementedError


def list_sort(sorting) -> dict:
    """The sort a console list shows — `sort` and `order` of the query string when the list's whitelist
    (services, platform/sorting.py) has them, else its default order (key None): {key, order}."""
    key, order = sorting.lenient(request.args.get("sort"), request.args.get("order"))
    return {"key": key, "order": order}



def record_key(item) -> str:
    return str(getattr(item, "code", None) or getattr(item, "name", None) or "")


# the kinds of record as a save message names them ("Product P-1001 saved."), marked for translation
RECORD_KINDS = (N_("Product"), N_("Material"), N_("BOM item"), N_("Material lot"), N_("Line"), N_("Station group"),
                N_("Station"), N_("Operation"), N_("Equipment"), N_("Defect code"), N_("Data spec"), N_("Routing"),
                N_("Feeder slot"), N_("Slot mapping"), N_("OQC sampling rule"))


def record_kind(cls) -> str:
    """'Product', 'BOM item', 'OQC sampling rule': the kind of record, in English (one of RECORD_KINDS)."""
    words = [w if w in ("BOM", "OQC") else w.lower() for w in master_data.entity_name(cls).split("_")]
    return f"{words[0][0].upper()}{words[0][1:]} {' '.join(words[1:])}".strip()


def record_name(item) -> str:
    """'Product P-1001', 'BOM item' (a record without a code or name), 'OQC sampling rule All DIP' — the
    kind in the request's language."""
    return f"{gettext(record_kind(type(item)))} {record_key(item)}".strip()


def format_cell(value):
    """A cell of a Flask-AppBuilder list, also the Jinja filter `mes_cell`: blank for an empty value,
    Yes/No for a flag (in the page's language), a relation's items comma-separated (FAB prints None, True, []
    and [a, b])."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(item) for item in value)
    return value


def register_template_filters(app) -> None:
    register_times(app)  # mes_datetime, mes_date, mes_zone_label: the plant's time zone (web/times.py)
    app.jinja_env.filters["mes_cell"] = format_cell
    app.jinja_env.filters["mes_code"] = _code_filter  # a status, role or type code as a word (web/codes.py)
    app.jinja_env.filters["mes_source"] = _source_filter  # where a routing setting comes from: step, route…


# The language filters take the template context only so that Jinja never folds them at compile time:
# `{{ 'AUTO'|mes_code }}` would otherwise be translated once, in the language of the first request that
# compiled the template, and stay so for everyone.
@pass_context
def _code_filter(context, value, code_context: str | None = None) -> str:
    return code_label(value, code_context)


@pass_context
def _source_filter(context, value) -> str:
    return scope_label(value)


def show_on_form(form, error: DomainError) -> None:
    """Put a rule's message on the form fields it names (details: field or fields), else flash it."""
    details = error.details or {}
    names = list((details.get("fields") or {}).keys()) if isinstance(details.get("fields"), dict) else []
    if details.get("field"):
        names.append(details["field"])
    placed = False
    for name in names:
        field = getattr(form, name, None)
        if field is not None:
            message = (details.get("fields") or {}).get(name) if isinstance(details.get("fields"), dict) else None
            field.errors = list(field.errors or []) + [f"{message or localize(error.message)} [{error.code}]"]
            placed = True
    flash(console_message(error), "danger")
    return placed


def console_message(error: DomainError) -> str:
    message, hint = error_text(error.code, error.message)  # the user's language (app/web/i18n.py)
    return f"{message} [{error.code}] {hint}"


def flash_domain_error(error: DomainError) -> None:
    flash(console_message(error), "danger")


def call_and_flash(call, success: str | None = None):
    """Call one service from a console form; flash its success or its refusal (code and what to do).
    Returns the service's result, or None when it refused."""
    try:
        result = call()
        if success:
            flash(success, "success")
        return result
    except DomainError as error:
        flash_domain_error(error)
        return None
