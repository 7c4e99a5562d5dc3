"""Data Collection Specs screen (Engineering menu): list with filters, type-specific form fields,
enable/disable. The rules are the service's (services/engineering/data_specs.py via master_data.validate_save)."""
from __future__ import annotations

from flask import flash, redirect
from flask_appbuilder.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext

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
    list_title = lazy_gettext("Data collection specs")
    add_title = lazy_gettext("New data collection spec")
    edit_title = lazy_gettext("Edit data collection spec")
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
    label_columns = {"data_type": lazy_gettext("Data type"), "item_type": lazy_gettext("Item type"), "enum_options": lazy_gettext("Options"),
                     "uom": lazy_gettext("Unit"), "lsl": lazy_gettext("LSL"), "usl": lazy_gettext("USL"), "limit_action": lazy_gettext("Limit action"),
                     "is_required": lazy_gettext("Required"), "is_active": lazy_gettext("Active"), "limits_text": lazy_gettext("Limits / options")}
    description_columns = {
        "name": lazy_gettext("Unique within the operation, e.g. peak_temp_c (the key of the values, in trace and exports)."),
        "description": lazy_gettext("The field's label on the Station Terminal, e.g. Reflow peak temperature (empty: the name "
                       "made readable)."),
        "enum_options": lazy_gettext("ENUM only: the allowed values, one per line."),
        "lsl": lazy_gettext("NUMBER only: lower spec limit."), "usl": lazy_gettext("NUMBER only: upper spec limit."),
        "target": lazy_gettext("NUMBER only: nominal value (lsl ≤ target ≤ usl)."),
        "limit_action": lazy_gettext("NUMBER with limits: FAIL forces the unit to FAIL (default), WARN only flags the value."),
        "is_required": lazy_gettext("A PASS needs a value for this spec."),
        "item_type": lazy_gettext("KEY: a key characteristic; OBSERVATION: recorded for information."),
    }
    formatters_columns = {"enum_options": lambda v: ", ".join(v or [])}
    add_template = "mes/data_spec_add.html"
    edit_template = "mes/data_spec_edit.html"
    help_doc = "engineer"
    help_anchor = "data-collection-specs"
    add_form_extra_fields = edit_form_extra_fields = {
        "item_type": choice(lazy_gettext("Item type"), ITEM_TYPES),
        "data_type": choice(lazy_gettext("Data type"), DATA_TYPES),
        "method": choice(lazy_gettext("Method"), METHODS, description=lazy_gettext("MANUAL: typed by the operator; AUTO: from a machine.")),
        "limit_action": choice(lazy_gettext("Limit action"), LIMIT_ACTIONS, required=False),
        "enum_options": OptionListField(lazy_gettext("Options")),
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
            flash(_("Enabled %(count)s spec(s).", count=changed) if active else _("Disabled %(count)s spec(s).", count=changed),
                  "success")
        except DomainError as error:
            flash_domain_error(error)
        return redirect(self.get_redirect())

    @action("enable", lazy_gettext("Enable"), lazy_gettext("Enable the selected specs?"), "fa-check")
    def enable(self, items):
        return self._set_active(items, True)

    @action("disable", lazy_gettext("Disable"), lazy_gettext("Disable the selected specs? Routings binding them no longer compile READY."),
            "fa-ban")
    def disable(self, items):
        return self._set_active(items, False)

