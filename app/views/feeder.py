"""Engineering → Feeder Slots and Slot Table (`loading:config`, engineer).

Feeder slots are the physical positions of a line (optionally tied to the placement station they are
on); the slot table says which material each slot expects — primary (lowest priority, not alternate)
and alternates — for every product and routing or scoped to one. Loading a run's slot table
(`services/preparation/loading.py`) picks, per slot, the most specific lines for the run's product and routing.
The rules (unique slot code per line, station on the slot's line, routing of the product, one line
per slot/material/product/routing) live in `services/engineering/master_data.py`; changes are audited by the
session hook. A slot's loading state (current reel, lock) is shown here but changes only through the
Loading Terminal (scan, replace, unlock with a reason).
"""
from __future__ import annotations

from flask_babel import lazy_gettext

from ..models import FeederSlot, SlotMaterialMapping
from ..security.permissions import resource_permissions
from ..web.interface import MasterDataInterface
from .base import MesModelView


class _LoadingConfigView(MesModelView):
    class_permission_name = "Loading"
    read_permission = write_permission = "config"
    base_permissions = resource_permissions("loading")
    help_doc = "engineer"
    help_anchor = "feeder-slots-and-slot-table"


class SlotTableView(_LoadingConfigView):
    datamodel = MasterDataInterface(SlotMaterialMapping)
    route_base = "/slot-table"
    list_title = lazy_gettext("Slot table")
    list_columns = ["slot", "material", "product", "routing", "priority", "is_alternate"]
    add_columns = edit_columns = ["slot", "material", "product", "routing", "priority", "is_alternate"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["slot", "material", "product", "routing", "is_alternate"]
    label_columns = {"is_alternate": lazy_gettext("Alternate"), "slot": lazy_gettext("Feeder slot")}
    description_columns = {
        "product": lazy_gettext("Empty = every product on this line; a product scopes the line to it."),
        "routing": lazy_gettext("Empty = every routing; a routing (of the product) scopes the line further."),
        "priority": lazy_gettext("1 = first choice. The lowest-priority non-alternate material is the primary."),
        "is_alternate": lazy_gettext("An alternate loads with a WARNING instead of a PASS."),
    }
    base_order = ("slot_id", "asc")


class FeederSlotView(_LoadingConfigView):
    datamodel = MasterDataInterface(FeederSlot)
    route_base = "/feeder-slots"
    list_title = lazy_gettext("Feeder slots")
    list_columns = ["line", "slot_code", "name", "station", "position", "current_lot", "is_locked"]
    add_columns = edit_columns = ["line", "slot_code", "name", "station", "position"]
    show_columns = ["line", "slot_code", "name", "station", "position", "current_lot", "is_locked",
                    "failed_attempts", "locked_at", "locked_reason", "created_at", "updated_at"]
    search_columns = ["line", "slot_code", "station", "is_locked"]
    label_columns = {"slot_code": lazy_gettext("Slot"), "current_lot": lazy_gettext("Reel loaded now"), "is_locked": lazy_gettext("Locked"),
                     "failed_attempts": lazy_gettext("Failed scans in a row"), "locked_reason": lazy_gettext("Lock reason")}
    description_columns = {
        "slot_code": lazy_gettext("As printed on the slot label, e.g. 1-01 (unique on the line)."),
        "station": lazy_gettext("The placement station the slot is on (units record the reels of their station's slots)."),
        "position": lazy_gettext("Display order on the Loading Terminal."),
    }
    related_views = [SlotTableView]
    base_order = ("line_id", "asc")
