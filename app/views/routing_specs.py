"""Data Collection Specs screen (Engineering menu): list with filters, type-specific form fields,
enable/disable. The rules are the service's (services/engineering/data_specs.py via master_data.validate_save)."""
from __future__ import annotations

from flask import flash, redirect
from flask_appbuilder.actions import action

from ..models import DataCollectionSpec
from ..models.routing import DATA_TYPES, ITEM_TYPES, LIMIT_ACTIONS, METHODS
from ..services.engineering import data_specs
from ..services.platform.context import ambient_actor
from ..services.platform.errors import DomainError
from ..web.interface import MasterDataInterface
from .base import MesModelView, flash_domain_error
from .fields import OptionListField
from .master import choice


class DataSpecView(MesModelView):
    datamodel = MasterDataInterface(DataCollectionSpec)
    class_permission_name = "DataSpec"
    write_permission = "config"
    route_base = "/data-specs"
    list_title = "Data collection specs"
    add_title = "New data collection spec"
    edit_title = "Edit data collection spec"
    list_columns = ["operation", "name", "data_type", "limits_text", "limit_action", "item_type", "is_required",
                    "is_active"]
    show_columns = ["operation", "name", "description", "item_type", "data_type", "enum_options", "method", "uom",
                    "lsl", "target", "usl", "limit_action", "is_required", "is_active", "created_at", "updated_at"]
    add_columns = edit_columns = ["operation", "name", "description", "item_type", "data_type", "enum_options",
                                  "method", "uom", "lsl", "target", "usl", "limit_action", "is_required",
                                  "is_active"]
    search_columns = ["operation", "name", "data_type", "is_active", "item_type"]
    order_columns = ["name", "data_type", "item_type"]
    base_order = ("name", "asc")
    label_columns = {"data_type": "Data type", "item_type": "Item type", "enum_options": "Options",
                     "uom": "Unit", "lsl": "LSL", "usl": "USL", "limit_action": "Limit action",
                     "is_required": "Required", "is_active": "Active", "limits_text": "Limits / options"}
    description_columns = {
        "name": "Unique within the operation, e.g. peak_temp_c (the key of the values, in trace and exports).",
        "description": "The field's label on the Station Terminal, e.g. Reflow peak temperature (empty: the name "
                       "made readable).",
        "enum_options": "ENUM only: the allowed values, one per line.",
        "lsl": "NUMBER only: lower spec limit.", "usl": "NUMBER only: upper spec limit.",
        "target": "NUMBER only: nominal value (lsl ≤ target ≤ usl).",
        "limit_action": "NUMBER with limits: FAIL forces the unit to FAIL (default), WARN only flags the value.",
        "is_required": "A PASS needs a value for this spec.",
        "item_type": "KEY: a key characteristic; OBSERVATION: recorded for information.",
    }
    formatters_columns = {"enum_options": lambda v: ", ".join(v or [])}
    add_template = "mes/data_spec_add.html"
    edit_template = "mes/data_spec_edit.html"
    help_doc = "engineer"
    help_anchor = "data-collection-specs"
    add_form_extra_fields = edit_form_extra_fields = {
        "item_type": choice("Item type", ITEM_TYPES),
        "data_type": choice("Data type", DATA_TYPES),
        "method": choice("Method", METHODS, description="MANUAL: typed by the operator; AUTO: from a machine."),
        "limit_action": choice("Limit action", LIMIT_ACTIONS, required=False),
        "enum_options": OptionListField("Options"),
    }

    def pre_add(self, item):
        item.limit_action = item.limit_action or None
        super().pre_add(item)

    def pre_update(self, item):
        item.limit_action = item.limit_action or None
        super().pre_update(item)

    def _set_active(self, items, active: bool):
        items = items if isinstance(items, list) else [items]
        try:
            changed = data_specs.set_active(actor=ambient_actor(), spec_ids=[i.id for i in items], active=active)
            flash(f"{'Enabled' if active else 'Disabled'} {changed} spec(s).", "success")
        except DomainError as error:
            flash_domain_error(error)
        return redirect(self.get_redirect())

    @action("enable", "Enable", "Enable the selected specs?", "fa-check")
    def enable(self, items):
        return self._set_active(items, True)

    @action("disable", "Disable", "Disable the selected specs? Routings binding them no longer compile READY.",
            "fa-ban")
    def disable(self, items):
        return self._set_active(items, False)

