"""Quality → OQC Sampling Rules (`quality:oqc`, quality).

A rule says which runs get an outgoing quality control at closeout and how many DONE units are
sampled: FIXED (that many units) or PERCENTAGE (that share, at least one unit; 0 = no OQC). Empty scope
fields match every product / line / routing; the most specific matching rule wins, then the higher
priority, then the newest (services/engineering/oqc_rules.py). The field rules are the service's
(`oqc_rules.check_rule_fields`, through master_data.validate_save); changes are audited by the session
hook. A rule already used by an OQC
cannot be deleted: deactivate it.
"""
from __future__ import annotations

from flask_babel import lazy_gettext

from ..models import OqcSamplingRule
from ..models.quality import SAMPLING_TYPES
from ..security.permissions import resource_permissions
from ..web.interface import MasterDataInterface
from .base import MesModelView
from .master import choice


class OqcSamplingRuleView(MesModelView):
    datamodel = MasterDataInterface(OqcSamplingRule)
    class_permission_name = "QualityControl"
    read_permission = write_permission = "oqc"
    base_permissions = resource_permissions("quality")
    route_base = "/oqc-sampling-rules"
    list_title = lazy_gettext("OQC sampling rules")
    add_title = lazy_gettext("New OQC sampling rule")
    edit_title = lazy_gettext("Edit OQC sampling rule")
    show_title = lazy_gettext("OQC sampling rule")
    list_columns = ["name", "product", "line", "routing", "sampling_type", "sample_value", "priority", "is_active"]
    add_columns = edit_columns = ["name", "product", "line", "routing", "sampling_type", "sample_value", "priority",
                                  "is_active"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["name", "product", "line", "routing", "sampling_type", "is_active"]
    label_columns = {"name": lazy_gettext("Name"), "product": lazy_gettext("Product"), "line": lazy_gettext("Line"),
                     "routing": lazy_gettext("Routing"),
                     "sampling_type": lazy_gettext("Sampling"), "sample_value": lazy_gettext("Sample value"),
                     "priority": lazy_gettext("Priority"),
                     "is_active": lazy_gettext("Active"), "created_at": lazy_gettext("Created at"),
                     "updated_at": lazy_gettext("Updated at")}
    description_columns = {
        "product": lazy_gettext("Empty = every product."),
        "line": lazy_gettext("Empty = every line."),
        "routing": lazy_gettext(
            "Empty = every routing (a routing of another product than the rule's is refused)."),
        "sample_value": lazy_gettext("FIXED: number of units (whole number); PERCENTAGE: the share of the DONE "
                                     "units in percent (0–100), rounded up, at least 1. 0 = no OQC."),
        "priority": lazy_gettext("Among equally specific rules the higher priority wins (then the newest)."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "sampling_type": choice(lazy_gettext("Sampling"), SAMPLING_TYPES,
                                lazy_gettext("FIXED: a number of units; PERCENTAGE: a share of them.")),
    }
    help_doc = "quality"
    help_anchor = "oqc-sampling-rules"
    base_order = ("id", "asc")
