"""All console screens registered in one place (menus: Engineering, Quality, Audit, Help)."""
from __future__ import annotations

from flask_appbuilder import AppBuilder

from .audit import AuditLogView
from .help import HelpView
from .master import DefectCodeView, ENGINEERING_VIEWS
from .routing import RoutingEditorView
from .routing_specs import DataSpecView


def register_views(appbuilder: AppBuilder) -> None:
    for view, name, icon in ENGINEERING_VIEWS:
        appbuilder.add_view(view, name, icon=icon, category="Engineering", category_icon="fa-wrench")
    appbuilder.add_view(RoutingEditorView, "Routings", icon="fa-random", category="Engineering")
    appbuilder.add_view(DataSpecView, "Data Collection Specs", icon="fa-sliders", category="Engineering")
    appbuilder.add_view(DefectCodeView, "Defect Codes", icon="fa-bug", category="Quality",
                        category_icon="fa-check-square")
    appbuilder.add_view(AuditLogView, "Audit Log", icon="fa-history", category="Audit",
                        category_icon="fa-history")
    appbuilder.add_view(HelpView, "SOP Library", icon="fa-book", category="Help",
                        category_icon="fa-question-circle")
    appbuilder.add_link("API Reference", href="/swagger/v1", icon="fa-plug", category="Help")
