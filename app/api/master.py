"""Master-data REST APIs (Flask-AppBuilder ModelRestApi: `result`/`count` shape, rison filters,
snake_case fields), sharing the read/write permission pair with the console screens."""
from __future__ import annotations

from ..models import (
    BomItem, DefectCode, Equipment, Line, Material, MaterialLot, Operation, Product, Station,
    StationGroup,
)
from ..web.interface import MasterDataInterface
from .base import MesModelRestApi


class ProductApi(MesModelRestApi):
    resource_name = "products"
    class_permission_name = "Product"
    datamodel = MasterDataInterface(Product)
    list_columns = ["id", "code", "name", "process_type", "description", "is_active"]
    show_columns = list_columns + ["bom_items.id", "bom_items.qty_per", "created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "process_type", "description", "is_active"]
    order_columns = ["code", "name", "process_type"]
    search_columns = ["code", "name", "process_type", "is_active"]


class MaterialApi(MesModelRestApi):
    resource_name = "materials"
    class_permission_name = "Material"
    datamodel = MasterDataInterface(Material)
    list_columns = ["id", "code", "name", "category", "uom", "model", "msl", "paste_min_thaw_hours",
                    "paste_max_open_hours", "paste_max_stencil_hours", "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "category", "uom", "model", "msl", "paste_min_thaw_hours",
                                  "paste_max_open_hours", "paste_max_stencil_hours", "is_active"]
    search_columns = ["code", "name", "category", "is_active"]


class BomItemApi(MesModelRestApi):
    resource_name = "bom-items"
    class_permission_name = "BomItem"
    datamodel = MasterDataInterface(BomItem)
    list_columns = ["id", "product.id", "product.code", "material.id", "material.code", "qty_per",
                    "ref_designators"]
    show_columns = list_columns
    add_columns = edit_columns = ["product", "material", "qty_per", "ref_designators"]
    search_columns = ["product", "material"]


class MaterialLotApi(MesModelRestApi):
    resource_name = "material-lots"
    class_permission_name = "MaterialLot"
    datamodel = MasterDataInterface(MaterialLot)
    list_columns = ["id", "material.id", "material.code", "lot_no", "supplier", "date_code", "qty",
                    "iqc_result", "iqc_date"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["material", "lot_no", "supplier", "date_code", "qty", "iqc_result", "iqc_date"]
    search_columns = ["material", "lot_no", "iqc_result"]


class LineApi(MesModelRestApi):
    resource_name = "lines"
    class_permission_name = "Line"
    datamodel = MasterDataInterface(Line)
    list_columns = ["id", "code", "name", "process_type", "readiness_checks_enabled", "target_per_hour", "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "process_type", "readiness_checks_enabled", "target_per_hour",
                                  "is_active"]
    search_columns = ["code", "name", "process_type", "is_active"]


class StationGroupApi(MesModelRestApi):
    resource_name = "station-groups"
    class_permission_name = "StationGroup"
    datamodel = MasterDataInterface(StationGroup)
    list_columns = ["id", "code", "name", "description"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "description"]
    search_columns = ["code", "name"]


class StationApi(MesModelRestApi):
    resource_name = "stations"
    class_permission_name = "Station"
    datamodel = MasterDataInterface(Station)
    list_columns = ["id", "code", "name", "line.id", "line.code", "group.id", "group.code",
                    "station_type", "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "line", "group", "station_type", "is_active"]
    search_columns = ["code", "name", "line", "group", "station_type", "is_active"]


class OperationApi(MesModelRestApi):
    resource_name = "operations"
    class_permission_name = "Operation"
    datamodel = MasterDataInterface(Operation)
    list_columns = ["id", "code", "name", "default_station_type", "is_key_quality", "consumes_material",
                    "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "default_station_type", "is_key_quality",
                                  "consumes_material", "is_active"]
    search_columns = ["code", "name", "is_key_quality", "consumes_material", "is_active"]


class EquipmentApi(MesModelRestApi):
    resource_name = "equipment"
    class_permission_name = "Equipment"
    datamodel = MasterDataInterface(Equipment)
    list_columns = ["id", "code", "name", "station.id", "station.code", "status", "source",
                    "status_changed_at", "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "station", "status", "source", "is_active"]
    search_columns = ["code", "name", "station", "status", "is_active"]


class DefectCodeApi(MesModelRestApi):
    resource_name = "defect-codes"
    class_permission_name = "DefectCode"
    datamodel = MasterDataInterface(DefectCode)
    list_columns = ["id", "code", "name", "category", "is_active"]
    show_columns = list_columns + ["created_at", "updated_at"]
    add_columns = edit_columns = ["code", "name", "category", "is_active"]
    search_columns = ["code", "name", "category", "is_active"]


MASTER_DATA_APIS = [ProductApi, MaterialApi, BomItemApi, MaterialLotApi, LineApi, StationGroupApi,
                    StationApi, OperationApi, EquipmentApi, DefectCodeApi]
