"""The home page: per role, the entries that role uses (only what the user may open)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import redirect, request, url_for
from flask_appbuilder import IndexView, expose
from flask_babel import lazy_gettext
from flask_login import current_user

from ..security import actors
from ..services.reporting import worklists


@dataclass(frozen=True)
class Tile:
    title: str          # lazy: translated when the page renders
    description: str
    endpoint: str
    permission: str | None  # None: every signed-in person
    icon: str = "fa-circle"


# Grouped by the work each role does; a tile shows only when the user holds its permission.
TILES: list[tuple[str, list[Tile]]] = [
    (lazy_gettext("Production"), [
        Tile(lazy_gettext("Station Terminal"), lazy_gettext("Scan boards in and out at your station, with their data."),
             "StationTerminalView.choose", "exec:track_in", "fa-barcode"),
        Tile(lazy_gettext("Loading Terminal"), lazy_gettext("Load the slot table, scan reels, replace reels; stencil and paste."),
             "LoadingTerminalView.choose", "loading:verify", "fa-th"),
        Tile(lazy_gettext("Work orders"), lazy_gettext("Receive, release to a line, create runs, close."), "WorkOrderView.list",
             "wo:release", "fa-clipboard"),
        Tile(lazy_gettext("Runs"), lazy_gettext("Where every run stands, and what to do next."), "RunView.list", "run:read", "fa-cubes"),
        Tile(lazy_gettext("Trace"), lazy_gettext("Everything about a board: steps, data, defects."), "TraceView.search", "trace:read",
             "fa-search"),
    ]),
    (lazy_gettext("Engineering"), [
        Tile(lazy_gettext("Products & BOM"), lazy_gettext("Products and their bills of materials."), "ProductView.list", "product:write", "fa-microchip"),
        Tile(lazy_gettext("Materials & lots"), lazy_gettext("Materials, alternates and incoming lots (IQC)."), "MaterialView.list", "material:write", "fa-cubes"),
        Tile(lazy_gettext("Lines & stations"), lazy_gettext("Lines, station groups, stations and readiness items."), "LineView.list", "line:write", "fa-industry"),
        Tile(lazy_gettext("Operations"), lazy_gettext("Process operations and genealogy flags."), "OperationView.list", "operation:write", "fa-tasks"),
        Tile(lazy_gettext("Data collection specs"), lazy_gettext("What is measured at each operation, with limits."), "DataSpecView.list",
             "data_spec:config", "fa-sliders"),
        Tile(lazy_gettext("Equipment"), lazy_gettext("Equipment per station and its status."), "EquipmentView.list", "equipment:write", "fa-cogs"),
        Tile(lazy_gettext("Feeder slots & slot table"), lazy_gettext("The line's feeder slots and which reel each one expects."),
             "FeederSlotView.list", "loading:config", "fa-th"),
    ]),
    (lazy_gettext("Process"), [
        Tile(lazy_gettext("Routings"), lazy_gettext("Steps, execution config, data to collect; compiled versions."), "RoutingEditorView.index",
             "route:read", "fa-random"),
    ]),
    (lazy_gettext("Reports"), [
        Tile(lazy_gettext("Dashboard"), lazy_gettext("Output against plan, WIP, first-pass yield, defects and holds, as charts."),
             "DashboardView.index", "reports:read", "fa-tachometer"),
        Tile(lazy_gettext("Production report"), lazy_gettext("Output per hour, shift or day; plan against actual; WIP."), "ReportsView.production",
             "reports:read", "fa-industry"),
        Tile(lazy_gettext("Quality report"), lazy_gettext("First-pass and rolled yield, defect Pareto, scrap, rework, holds, OQC, MRB."),
             "ReportsView.quality", "reports:read", "fa-check-square-o"),
        Tile(lazy_gettext("Line boards"), lazy_gettext("A full-screen board per line for the TV beside it."), "LineBoardView.lines",
             "reports:board", "fa-television"),
    ]),
    (lazy_gettext("Quality"), [
        Tile(lazy_gettext("Defects & disposition"), lazy_gettext("Boards waiting for REWORK, SCRAP or HOLD, and holds to release."),
             "DispositionView.queue", "quality:disposition", "fa-medkit"),
        Tile(lazy_gettext("Lot recall"), lazy_gettext("Every board built with a reel lot, with CSV/XLSX export."), "LotRecallView.search",
             "trace:read", "fa-undo"),
        Tile(lazy_gettext("Defect codes"), lazy_gettext("The defect catalogue used at TrackOut and disposition."), "DefectCodeView.list", "defect_code:write", "fa-bug"),
    ]),
    (lazy_gettext("Integration"), [
        Tile(lazy_gettext("Integration status"), lazy_gettext("TPM, WMS, SPI, AOI and ERP links: last message, DEGRADED."), "IntegrationView.status",
             "integration:view", "fa-plug"),
        Tile(lazy_gettext("Manual entry"), lazy_gettext("Stencil, solder paste and equipment status while TPM/WMS is offline."),
             "IntegrationView.manual", "integration:manual_entry", "fa-pencil"),
    ]),
    (lazy_gettext("Administration"), [
        Tile(lazy_gettext("Users & bindings"), lazy_gettext("Users, roles and their line/station data scope."), "MesUserDBModelView.list", "security:manage", "fa-users"),
        Tile(lazy_gettext("API keys"), lazy_gettext("Keys of the integration account."), "ApiKeyModelView.list", "security:manage", "fa-key"),
    ]),
    (lazy_gettext("Everyone"), [
        Tile(lazy_gettext("Audit log"), lazy_gettext("Who changed what, when, and why."), "AuditLogView.list", "audit:read", "fa-history"),
        Tile(lazy_gettext("SOP library"), lazy_gettext("Your role guide, error codes and what to do."), "HelpView.index", None, "fa-book"),
    ]),
]


# Where a worklist item's screen is (services/reporting/worklists.py names screens, not URLs).
WORKLIST_SCREENS = {"runs": "RunView.list", "loading": "LoadingTerminalView.choose",
                    "disposition": "DispositionView.queue", "work_orders": "WorkOrderView.list",
                    "users": "LockedAccountsView.list", "spc_alarms": "SpcView.alarms"}


def worklist_url(item: worklists.WorkItem) -> str:
    return url_for(WORKLIST_SCREENS[item.screen], **item.params)


# A role whose day starts on one screen lands there from "/" ("Dashboard: the manager's home page");
# `/?tiles=1` shows the tiles anyway.
LANDING = {"Manager": "DashboardView.index"}


class HomeView(IndexView):
    index_template = "mes/home.html"

    @expose("/")
    def index(self):
        groups = []
        actor = None
        if current_user.is_authenticated:
            actor = actors.actor_for_user(int(current_user.id))
        if actor is not None and len(actor.roles) == 1 and actor.roles[0] in LANDING and not request.args.get("tiles"):
            return redirect(url_for(LANDING[actor.roles[0]]))
        if actor is not None:
            for title, tiles in TILES:
                visible = [
                    {"title": str(t.title), "description": str(t.description), "url": url_for(t.endpoint), "icon": t.icon}
                    for t in tiles if t.permission is None or actor.can(t.permission)
                ]
                if visible:
                    groups.append({"title": str(title), "tiles": visible})
        lists = worklists.worklists_for(actor) if actor is not None else []
        return self.render_template(self.index_template, appbuilder=self.appbuilder, groups=groups,
                                    actor=actor, worklists=lists, worklist_url=worklist_url,
                                    help_doc=_help_doc(actor), help_anchor="your-worklist" if lists else None)


def _help_doc(actor) -> str | None:
    """The guide of the user's first role with a worklist (its "Your worklist" section)."""
    for role in worklists.ROLE_TITLES:
        if actor is not None and role in actor.roles:
            return role.lower()
    return None
