"""Master-data screens (Engineering menu; Defect Codes under Quality)."""
from __future__ import annotations

from flask_appbuilder.fieldwidgets import Select2ManyWidget, Select2Widget
from flask_babel import lazy_gettext, lazy_pgettext
from wtforms import SelectField, SelectMultipleField
from wtforms.validators import DataRequired, Optional

from ..models import (
    BomItem, DefectCode, Equipment, Line, Material, MaterialLot, Operation, Product, Station,
    StationGroup,
)
from ..models.master import (
    DATA_SOURCES, EQUIPMENT_STATUSES, IQC_RESULTS, PROCESS_TYPES, READINESS_ITEM_TYPES, STATION_TYPES,
)
from ..web.codes import code_label
from ..web.interface import MasterDataInterface
from .base import MesModelView


def choice(label: str, choices, description: str = "", *, required: bool = True, context: str | None = None) -> SelectField:
    """A select of fixed codes, each shown as its word in the user's language (web/codes.py); optional ones
    offer "(default)" as an empty first choice."""
    options = [(c, lazy_pgettext(context, c) if context else lazy_gettext(c)) for c in choices]
    if not required:
        options = [("", lazy_gettext("(default)"))] + options
    return SelectField(label, choices=options, validators=[DataRequired()] if required else [Optional()],
                       widget=Select2Widget(), description=description)


class BomItemView(MesModelView):
    datamodel = MasterDataInterface(BomItem)
    class_permission_name = "BomItem"
    route_base = "/bom"
    list_title = lazy_gettext("BOM lines")
    list_columns = ["product", "material", "qty_per", "ref_designators"]
    add_columns = edit_columns = ["product", "material", "qty_per", "ref_designators"]
    show_columns = ["product", "material", "qty_per", "ref_designators", "created_at", "updated_at"]
    search_columns = ["product", "material", "ref_designators"]
    label_columns = {"qty_per": lazy_gettext("Qty per board"), "ref_designators": lazy_gettext("Reference designators")}
    base_order = ("id", "asc")

    def _init_forms(self):
        """A new BOM line starts with no product and no material chosen (a "choose…" prompt; both
        required): a pre-selected first entry is too easily saved by mistake. Added from a product's
        page, the product comes filled in from there."""
        super()._init_forms()
        for name, text in (("product", lazy_gettext("choose a product…")), ("material", lazy_gettext("choose a material…"))):
            field = getattr(self.add_form, name)
            field.kwargs.update(allow_blank=True, blank_text=text)


class ProductView(MesModelView):
    datamodel = MasterDataInterface(Product)
    class_permission_name = "Product"
    route_base = "/products"
    list_title = lazy_gettext("Products")
    list_columns = ["code", "name", "process_type", "is_active"]
    add_columns = edit_columns = ["code", "name", "process_type", "description", "is_active"]
    show_columns = ["code", "name", "process_type", "description", "is_active", "created_at", "updated_at"]
    search_columns = ["code", "name", "process_type", "is_active"]
    label_columns = {"process_type": lazy_gettext("Process"), "is_active": lazy_gettext("Active")}
    description_columns = {"code": lazy_gettext("Business key used by work orders and the API, e.g. P-1001.")}
    add_form_extra_fields = edit_form_extra_fields = {
        "process_type": choice(lazy_gettext("Process"), PROCESS_TYPES, lazy_gettext("SMT or DIP")),
    }
    related_views = [BomItemView]
    base_order = ("code", "asc")


class MaterialView(MesModelView):
    datamodel = MasterDataInterface(Material)
    class_permission_name = "Material"
    route_base = "/materials"
    list_title = lazy_gettext("Materials")
    list_columns = ["code", "name", "category", "uom", "model", "msl", "is_active"]
    add_columns = edit_columns = ["code", "name", "category", "uom", "model", "msl", "paste_min_thaw_hours",
                                  "paste_max_open_hours", "paste_max_stencil_hours", "is_active"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "category", "model", "is_active"]
    label_columns = {"uom": lazy_gettext("Unit"), "msl": lazy_gettext("MSL"), "is_active": lazy_gettext("Active"),
                     "paste_min_thaw_hours": lazy_gettext("Paste: minimum thaw (h)"),
                     "paste_max_open_hours": lazy_gettext("Paste: maximum open (h)"),
                     "paste_max_stencil_hours": lazy_gettext("Paste: maximum on stencil (h)")}
    description_columns = {
        "msl": lazy_gettext("Moisture sensitivity level, J-STD-033: 1, 2, 2a, 3, 4, 5, 5a or 6 (optional; "
                            "from 2 on, loading checks each reel's floor life)."),
        "category": lazy_gettext("SOLDER_PASTE for solder paste (then its windows below apply)."),
        "paste_min_thaw_hours": lazy_gettext("Solder paste only: hours out of the refrigerator before the jar "
                                             "may be opened (e.g. 4; empty: no thaw rule)."),
        "paste_max_open_hours": lazy_gettext("Solder paste only: hours a jar may stay open (e.g. 24; empty: no limit)."),
        "paste_max_stencil_hours": lazy_gettext("Solder paste only: hours the paste may stay on the stencil "
                                                "(e.g. 8, at most the open time; empty: no limit).")}
    base_order = ("code", "asc")


class MaterialLotView(MesModelView):
    datamodel = MasterDataInterface(MaterialLot)
    class_permission_name = "MaterialLot"
    route_base = "/material-lots"
    list_title = lazy_gettext("Material lots")
    list_columns = ["material", "lot_no", "supplier", "date_code", "qty", "iqc_result", "iqc_date"]
    add_columns = edit_columns = ["material", "lot_no", "supplier", "date_code", "qty", "iqc_result", "iqc_date"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["material", "lot_no", "supplier", "iqc_result"]
    label_columns = {"lot_no": lazy_gettext("Lot no"), "iqc_result": lazy_gettext("IQC result"), "iqc_date": lazy_gettext("IQC date")}
    add_form_extra_fields = edit_form_extra_fields = {
        "iqc_result": choice(lazy_gettext("IQC result"), IQC_RESULTS, lazy_gettext("A REJECTED lot is refused at loading."),
                             context="iqc"),
    }
    base_order = ("lot_no", "asc")


class StationView(MesModelView):
    datamodel = MasterDataInterface(Station)
    class_permission_name = "Station"
    route_base = "/stations"
    list_title = lazy_gettext("Stations")
    list_columns = ["code", "name", "line", "group", "station_type", "is_active"]
    add_columns = edit_columns = ["code", "name", "line", "group", "station_type", "is_active"]
    show_columns = add_columns + ["equipment", "created_at", "updated_at"]
    search_columns = ["code", "name", "line", "group", "station_type", "is_active"]
    label_columns = {"group": lazy_gettext("Station group"), "station_type": lazy_gettext("Station type"), "is_active": lazy_gettext("Active")}
    add_form_extra_fields = edit_form_extra_fields = {
        "station_type": choice(lazy_gettext("Station type"), STATION_TYPES),
    }
    base_order = ("code", "asc")


class LineView(MesModelView):
    datamodel = MasterDataInterface(Line)
    class_permission_name = "Line"
    route_base = "/lines"
    list_title = lazy_gettext("Lines")
    list_columns = ["code", "name", "process_type", "readiness_checks_enabled", "target_per_hour", "is_active"]
    add_columns = edit_columns = ["code", "name", "process_type", "readiness_checks_enabled", "target_per_hour",
                                  "is_active"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "process_type", "is_active"]
    label_columns = {"process_type": lazy_gettext("Process"), "readiness_checks_enabled": lazy_gettext("Readiness items"),
                     "target_per_hour": lazy_gettext("Target / hour"), "is_active": lazy_gettext("Active")}
    description_columns = {"readiness_checks_enabled": lazy_gettext("Items the readiness check evaluates on this line."),
                           "target_per_hour": lazy_gettext("Planned output in boards per hour: the reports, dashboard and line "
                                              "board compare the output with it (empty: no plan line).")}
    formatters_columns = {"readiness_checks_enabled": lambda v: ", ".join(code_label(c) for c in v or [])}
    add_form_extra_fields = edit_form_extra_fields = {
        "process_type": choice(lazy_gettext("Process"), PROCESS_TYPES),
        "readiness_checks_enabled": SelectMultipleField(
            lazy_gettext("Readiness items"), choices=[(c, lazy_gettext(c)) for c in READINESS_ITEM_TYPES],
            default=list(READINESS_ITEM_TYPES), widget=Select2ManyWidget(),
            description=lazy_gettext("Items the readiness check evaluates on this line.")),
    }
    related_views = [StationView]
    base_order = ("code", "asc")


class StationGroupView(MesModelView):
    datamodel = MasterDataInterface(StationGroup)
    class_permission_name = "StationGroup"
    route_base = "/station-groups"
    list_title = lazy_gettext("Station groups")
    list_columns = ["code", "name", "description"]
    add_columns = edit_columns = ["code", "name", "description"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name"]
    related_views = [StationView]
    base_order = ("code", "asc")


class OperationView(MesModelView):
    datamodel = MasterDataInterface(Operation)
    class_permission_name = "Operation"
    route_base = "/operations"
    list_title = lazy_gettext("Operations")
    list_columns = ["code", "name", "default_station_type", "is_key_quality", "consumes_material", "is_active"]
    add_columns = edit_columns = list_columns
    show_columns = list_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "is_key_quality", "consumes_material", "is_active"]
    label_columns = {"default_station_type": lazy_gettext("Default station type"), "is_key_quality": lazy_gettext("Key quality"),
                     "consumes_material": lazy_gettext("Consumes material"), "is_active": lazy_gettext("Active")}
    description_columns = {"consumes_material": lazy_gettext("Placement/insertion step: genealogy (reels used) is recorded at its TrackOut.")}
    add_form_extra_fields = edit_form_extra_fields = {
        "default_station_type": choice(lazy_gettext("Default station type"), STATION_TYPES),
    }
    base_order = ("code", "asc")


class EquipmentView(MesModelView):
    datamodel = MasterDataInterface(Equipment)
    class_permission_name = "Equipment"
    route_base = "/equipment"
    list_title = lazy_gettext("Equipment")
    list_columns = ["code", "name", "station", "status", "source", "status_changed_at", "is_active"]
    add_columns = edit_columns = ["code", "name", "station", "status", "source", "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "station", "status", "is_active"]
    label_columns = {"status_changed_at": lazy_gettext("Status since"), "is_active": lazy_gettext("Active")}
    description_columns = {"station": lazy_gettext("The station this equipment serves (at most one equipment per station).")}
    add_form_extra_fields = edit_form_extra_fields = {
        "status": choice(lazy_gettext("Status"), EQUIPMENT_STATUSES),
        "source": choice(lazy_gettext("Source"), DATA_SOURCES, lazy_gettext("MANUAL when entered here; TPM messages set AUTO.")),
    }
    base_order = ("code", "asc")


class DefectCodeView(MesModelView):
    datamodel = MasterDataInterface(DefectCode)
    class_permission_name = "DefectCode"
    route_base = "/defect-codes"
    list_title = lazy_gettext("Defect codes")
    add_title = lazy_gettext("New defect code")
    edit_title = lazy_gettext("Edit defect code")
    show_title = lazy_gettext("Defect code")
    list_columns = ["code", "name", "category", "is_active"]
    add_columns = edit_columns = ["code", "name", "category", "is_active"]
    show_columns = add_columns + ["created_at", "updated_at"]
    search_columns = ["code", "name", "category", "is_active"]
    label_columns = {"code": lazy_gettext("Code"), "name": lazy_gettext("Name"), "category": lazy_gettext("Category"),
                     "is_active": lazy_gettext("Active"), "created_at": lazy_gettext("Created at"),
                     "updated_at": lazy_gettext("Updated at")}
    description_columns = {"category": lazy_gettext(
        "Decides where the Station Terminal offers the code: a category naming SMT or DIP (SMT solder, DIP "
        "insertion), placement (SMT) or wave (DIP) only on lines of that process; any other (test…) on every line.")}
    help_doc = "quality"
    help_anchor = "defect-codes"
    base_order = ("code", "asc")


ENGINEERING_VIEWS = [
    (ProductView, "Products", "fa-microchip"),
    (BomItemView, "BOM", "fa-list-ol"),
    (MaterialView, "Materials", "fa-cubes"),
    (MaterialLotView, "Material Lots", "fa-barcode"),
    (LineView, "Lines", "fa-industry"),
    (StationGroupView, "Station Groups", "fa-object-group"),
    (StationView, "Stations", "fa-desktop"),
    (EquipmentView, "Station Equipment", "fa-cogs"),
    (OperationView, "Operations", "fa-tasks"),
]
