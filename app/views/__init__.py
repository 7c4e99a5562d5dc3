"""All console screens registered in one place; menus follow the spec (06_ui_and_sop): Production,
Quality, Engineering, Audit, Help (Security is added by the security manager)."""
from __future__ import annotations

from flask_appbuilder import AppBuilder

from .audit import AuditLogView
from .help import HelpView
from .loading import LineConsumablesView, LoadingTerminalView
from .master import DefectCodeView, ENGINEERING_VIEWS
from .production import ReadinessView, RunView, TraceView, WorkOrderView
from .routing import RoutingEditorView
from .routing_specs import DataSpecView
from .terminal import StationTerminalView


def register_views(appbuilder: AppBuilder) -> None:
    production = {"category": "Production", "category_icon": "fa-industry"}
    appbuilder.add_view(WorkOrderView, "Work Orders", icon="fa-clipboard", **production)
    appbuilder.add_view(RunView, "Runs", icon="fa-cubes", **production)
    appbuilder.add_view(StationTerminalView, "Station Terminal", icon="fa-barcode", **production)
    appbuilder.add_view(LoadingTerminalView, "Loading Terminal", icon="fa-th", **production)
    appbuilder.add_view(TraceView, "Trace", icon="fa-search", **production)
    appbuilder.add_view_no_menu(LineConsumablesView)
    appbuilder.add_view_no_menu(ReadinessView)
    appbuilder.add_view(DefectCodeView, "Defect Codes", icon="fa-bug", category="Quality",
                        category_icon="fa-check-square")
    for view, name, icon in ENGINEERING_VIEWS:
        appbuilder.add_view(view, name, icon=icon, category="Engineering", category_icon="fa-wrench")
    appbuilder.add_view(RoutingEditorView, "Routings", icon="fa-random", category="Engineering")
    appbuilder.add_view(DataSpecView, "Data Collection Specs", icon="fa-sliders", category="Engineering")
    appbuilder.add_view(AuditLogView, "Audit Log", icon="fa-history", category="Audit",
                        category_icon="fa-history")
    appbuilder.add_view(HelpView, "SOP Library", icon="fa-book", category="Help",
                        category_icon="fa-question-circle")
    appbuilder.add_link("API Reference", href="/swagger/v1", icon="fa-plug", category="Help")
