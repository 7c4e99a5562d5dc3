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
    list_title = "OQC sampling rules"
    add_title = "New OQC sampling rule"
    edit_title = "Edit OQC sampling rule"
    list_columns = ["name", "product", "line", "routing", "sampling_type", "sample_value", "priority", "is_active"]
    add_columns = edit_columns = ["name", "product", "line", "routing", "sampling_type", "sample_value", "priority",
                                  "is_active"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["name", "product", "line", "routing", "sampling_type", "is_active"]
    label_columns = {"sampling_type": "Sampling", "sample_value": "Sample value", "is_active": "Active"}
    description_columns = {
        "product": "Empty = every product.",
        "line": "Empty = every line.",
        "routing": "Empty = every routing (a routing of another product than the rule's is refused).",
        "sample_value": "FIXED: number of units (whole number); PERCENTAGE: 0–100 % of the DONE units, rounded "
                        "up, at least 1. 0 = no OQC.",
        "priority": "Among equally specific rules the higher priority wins (then the newest).",
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "sampling_type": choice("Sampling", SAMPLING_TYPES, "FIXED: a number of units; PERCENTAGE: a share of them."),
    }
    help_doc = "quality"
    help_anchor = "oqc-sampling-rules"
    base_order = ("id", "asc")
