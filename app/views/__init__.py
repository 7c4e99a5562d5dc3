"""All console screens registered in one place; menus follow the spec (06_ui_and_sop): Production,
Quality, Engineering, Audit, Help (Security is added by the security manager)."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder import AppBuilder

from .accounts import LockedAccountsView
from .audit import AuditLogView
from .base import register_template_filters
from .feeder import FeederSlotView, SlotTableView
from .help import HelpView, screen_help
from .integration import IntegrationView
from .loading import LineConsumablesView, LoadingTerminalView
from .master import DefectCodeView, ENGINEERING_VIEWS
from .master_import import MasterImportView
from .oqc import OqcSamplingRuleView
from .production import ReadinessView, RunView, TraceView, WorkOrderView
from .quality import DispositionView, FaiView, MrbView, OqcView
from .reports import DashboardView, LineBoardView, LotRecallView, ReportsView
from .spc import SpcView
from .routing import RoutingEditorView
from .routing_specs import DataSpecView
from .terminal import StationTerminalView


def register_views(appbuilder: AppBuilder) -> None:
    register_template_filters(current_app)
    current_app.context_processor(screen_help)  # Help on the security screens (views/help.py)
    production = {"category": "Production", "category_icon": "fa-industry"}
    appbuilder.add_view(WorkOrderView, "Work Orders", icon="fa-clipboard", **production)
    appbuilder.add_view(RunView, "Runs", icon="fa-cubes", **production)
    appbuilder.add_view(StationTerminalView, "Station Terminal", icon="fa-barcode", **production)
    appbuilder.add_view(LoadingTerminalView, "Loading Terminal", icon="fa-th", **production)
    appbuilder.add_view(TraceView, "Trace", icon="fa-search", **production)
    appbuilder.add_view_no_menu(LineConsumablesView)
    appbuilder.add_view_no_menu(ReadinessView)
    appbuilder.add_view_no_menu(FaiView)
    appbuilder.add_view_no_menu(OqcView)
    appbuilder.add_view_no_menu(MrbView)
    appbuilder.add_view(DispositionView, "Defects & Disposition", icon="fa-medkit", category="Quality",
                        category_icon="fa-check-square")
    appbuilder.add_view(DefectCodeView, "Defect Codes", icon="fa-bug", category="Quality",
                        category_icon="fa-check-square")
    appbuilder.add_view(OqcSamplingRuleView, "OQC Sampling Rules", icon="fa-filter", category="Quality")
    appbuilder.add_view(SpcView, "SPC Charts", icon="fa-line-chart", category="Quality")
    for view, name, icon in ENGINEERING_VIEWS:
        appbuilder.add_view(view, name, icon=icon, category="Engineering", category_icon="fa-wrench")
    appbuilder.add_view(RoutingEditorView, "Routings", icon="fa-random", category="Engineering")
    appbuilder.add_view(DataSpecView, "Data Collection Specs", icon="fa-sliders", category="Engineering")
    appbuilder.add_view(FeederSlotView, "Feeder Slots", icon="fa-th", category="Engineering")
    appbuilder.add_view(SlotTableView, "Slot Table", icon="fa-table", category="Engineering")
    appbuilder.add_view(MasterImportView, "Import", icon="fa-upload", category="Engineering")
    appbuilder.add_view(IntegrationView, "Status", icon="fa-exchange", category="Integration",
                        category_icon="fa-plug")
    appbuilder.add_link("Manual Entry", href="/integration/manual", icon="fa-pencil", category="Integration")
    appbuilder.add_link("Messages", href="/integration/messages", icon="fa-envelope", category="Integration")
    appbuilder.add_view(DashboardView, "Dashboard", icon="fa-tachometer", category="Reports",
                        category_icon="fa-bar-chart")
    appbuilder.add_view(ReportsView, "Production Report", icon="fa-industry", category="Reports")
    appbuilder.add_link("Quality Report", href="/reports/quality", icon="fa-check-square-o", category="Reports")
    appbuilder.add_view(LineBoardView, "Line Boards", icon="fa-television", category="Reports")
    appbuilder.add_view(LotRecallView, "Lot Recall", icon="fa-undo", category="Reports")
    appbuilder.add_view(AuditLogView, "Audit Log", icon="fa-history", category="Audit",
                        category_icon="fa-history")
    # beside FAB's user screens for an administrator; a line leader's only Security entry
    appbuilder.add_view(LockedAccountsView, "Locked Accounts", icon="fa-unlock", category="Security")
    appbuilder.add_view(HelpView, "SOP Library", icon="fa-book", category="Help",
                        category_icon="fa-question-circle")
    appbuilder.add_link("API Reference", href="/swagger/v1", icon="fa-plug", category="Help")
