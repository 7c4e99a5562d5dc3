"""All console screens registered in one place; menus follow the spec (06_ui_and_sop): Production,
Quality, Engineering, Audit, Help (Security is added by the security manager).

Menu names and categories are marked with N_ (extracted into app/translations, not translated here):
Flask-AppBuilder keys the menu permissions on the English name and translates the label when it draws
the navbar (`_(item.label)`), so the navbar follows the user's language and the permissions do not."""
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
from ..web.i18n import N_

# Menu labels registered elsewhere (master.ENGINEERING_VIEWS, the security manager's views): marked here
# for the translation catalogue; tests/unit/test_i18n.py checks every menu label has a translation.
MENU_LABELS_ELSEWHERE = (
    N_("Products"), N_("BOM"), N_("Materials"), N_("Material Lots"), N_("Lines"), N_("Station Groups"),
    N_("Stations"), N_("Station Equipment"), N_("Operations"), N_("Security"), N_("Role Scopes"),
    N_("API Keys"), N_("List Groups"),
)


def register_views(appbuilder: AppBuilder) -> None:
    register_template_filters(current_app)
    current_app.context_processor(screen_help)  # Help on the security screens (views/help.py)
    production = {"category": N_("Production"), "category_icon": "fa-industry"}
    appbuilder.add_view(WorkOrderView, N_("Work Orders"), icon="fa-clipboard", **production)
    appbuilder.add_view(RunView, N_("Runs"), icon="fa-cubes", **production)
    appbuilder.add_view(StationTerminalView, N_("Station Terminal"), icon="fa-barcode", **production)
    appbuilder.add_view(LoadingTerminalView, N_("Loading Terminal"), icon="fa-th", **production)
    appbuilder.add_view(TraceView, N_("Trace"), icon="fa-search", **production)
    appbuilder.add_view_no_menu(LineConsumablesView)
    appbuilder.add_view_no_menu(ReadinessView)
    appbuilder.add_view_no_menu(FaiView)
    appbuilder.add_view_no_menu(OqcView)
    appbuilder.add_view_no_menu(MrbView)
    appbuilder.add_view(DispositionView, N_("Defects & Disposition"), icon="fa-medkit", category=N_("Quality"),
                        category_icon="fa-check-square")
    appbuilder.add_view(DefectCodeView, N_("Defect Codes"), icon="fa-bug", category=N_("Quality"),
                        category_icon="fa-check-square")
    appbuilder.add_view(OqcSamplingRuleView, N_("OQC Sampling Rules"), icon="fa-filter", category=N_("Quality"))
    appbuilder.add_view(SpcView, N_("SPC Charts"), icon="fa-line-chart", category=N_("Quality"))
    appbuilder.add_link(N_("SPC Alarms"), href="/spc/alarms", icon="fa-bell", category=N_("Quality"))
    for view, name, icon in ENGINEERING_VIEWS:
        appbuilder.add_view(view, name, icon=icon, category=N_("Engineering"), category_icon="fa-wrench")
    appbuilder.add_view(RoutingEditorView, N_("Routings"), icon="fa-random", category=N_("Engineering"))
    appbuilder.add_view(DataSpecView, N_("Data Collection Specs"), icon="fa-sliders", category=N_("Engineering"))
    appbuilder.add_view(FeederSlotView, N_("Feeder Slots"), icon="fa-th", category=N_("Engineering"))
    appbuilder.add_view(SlotTableView, N_("Slot Table"), icon="fa-table", category=N_("Engineering"))
    appbuilder.add_view(MasterImportView, N_("Import"), icon="fa-upload", category=N_("Engineering"))
    appbuilder.add_view(IntegrationView, N_("Status"), icon="fa-exchange", category=N_("Integration"),
                        category_icon="fa-plug")
    appbuilder.add_link(N_("Manual Entry"), href="/integration/manual", icon="fa-pencil", category=N_("Integration"))
    appbuilder.add_link(N_("Messages"), href="/integration/messages", icon="fa-envelope", category=N_("Integration"))
    appbuilder.add_view(DashboardView, N_("Dashboard"), icon="fa-tachometer", category=N_("Reports"),
                        category_icon="fa-bar-chart")
    appbuilder.add_view(ReportsView, N_("Production Report"), icon="fa-industry", category=N_("Reports"))
    appbuilder.add_link(N_("Quality Report"), href="/reports/quality", icon="fa-check-square-o", category=N_("Reports"))
    appbuilder.add_view(LineBoardView, N_("Line Boards"), icon="fa-television", category=N_("Reports"))
    appbuilder.add_view(LotRecallView, N_("Lot Recall"), icon="fa-undo", category=N_("Reports"))
    appbuilder.add_view(AuditLogView, N_("Audit Log"), icon="fa-history", category=N_("Audit"),
                        category_icon="fa-history")
    # beside FAB's user screens for an administrator; a line leader's only Security entry
    appbuilder.add_view(LockedAccountsView, N_("Locked Accounts"), icon="fa-unlock", category=N_("Security"))
    appbuilder.add_view(HelpView, N_("SOP Library"), icon="fa-book", category=N_("Help"),
                        category_icon="fa-question-circle")
    appbuilder.add_link(N_("API Reference"), href="/swagger/v1", icon="fa-plug", category=N_("Help"))
