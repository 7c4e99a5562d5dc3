"""The permission catalogue and the preset roles, as data (spec 00_overview, "Who uses it").

A domain permission `exec:track_in` is Flask-AppBuilder's pair (`can_track_in`, `Exec`); a
master-data permission `product:write` is (`can_write`, `Product`), the pair shared by the Product
ModelView and the Product REST API. Menu visibility (`menu_access`) is derived from the catalogue.
`flask mes sync-roles` applies all of it (security/sync.py); preset roles are owned by the code.
"""
from __future__ import annotations

from dataclasses import dataclass

# Role letters of the spec's matrix.
ROLE_LETTERS = {
    "A": "Admin", "P": "Planner", "E": "Engineer", "Q": "Quality", "L": "Leader",
    "M": "Material", "O": "Operator", "G": "Manager", "I": "Integration", "B": "Board",
}
HUMAN = "APEQLMOG"  # "all" in the spec's matrix: every human role


@dataclass(frozen=True)
class RoleDef:
    name: str
    scope: str  # ALL / LINES / STATIONS
    description: str


PRESET_ROLES: dict[str, RoleDef] = {r.name: r for r in (
    RoleDef("Admin", "ALL", "Superuser: every permission; users, roles, bindings, settings."),
    RoleDef("Planner", "ALL", "Work orders, runs, authorization, closeout."),
    RoleDef("Engineer", "ALL", "Master data, routings, data-collection specs, feeder slots, readiness config."),
    RoleDef("Quality", "ALL", "Readiness checks and waivers, FAI, SPI/AOI results, defects, OQC, MRB, defect codes."),
    RoleDef("Leader", "LINES", "Line leader: authorizes runs, readiness checks, changeover, manual entries, unlocks slots."),
    RoleDef("Material", "LINES", "Loading verification, reel replacement, stencil/paste binding."),
    RoleDef("Operator", "STATIONS", "TrackIn/TrackOut with data collection; manual SPI/AOI result at own station."),
    RoleDef("Manager", "ALL", "Read-only: dashboards, trace, reports, exports, all audit events."),
    RoleDef("Integration", "ALL", "Machine account of ERP/TPM/WMS/SPI/AOI: inbound endpoints only (API key)."),
    RoleDef("Board", "LINES", "Device account of a line board (a TV beside the line): reads the board of its "
            "lines, nothing else (API key)."),
)}

# Domain-permission prefix -> Flask-AppBuilder resource (view_menu) name.
RESOURCES = {
    "product": "Product", "material": "Material", "material_lot": "MaterialLot", "bom_item": "BomItem",
    "line": "Line", "station_group": "StationGroup", "station": "Station", "operation": "Operation",
    "equipment": "Equipment", "defect_code": "DefectCode",
    "route": "Route", "data_spec": "DataSpec", "wo": "WorkOrder", "run": "Run",
    "readiness": "Readiness", "loading": "Loading", "line_consumables": "LineConsumables",
    "exec": "Exec", "quality": "QualityControl", "trace": "TraceData", "reports": "ReportData",
    "integration": "IntegrationApi", "audit": "AuditLog", "security": "SecurityAdmin",
    "user": "UserAccount",
}
# Resource names never equal a menu category or entry name: FAB keeps `menu_access` and a view's
# own permissions on the same view_menu row and deletes the ones a view does not declare.

MASTER_DATA = ("product", "material", "material_lot", "bom_item", "line", "station_group", "station",
               "operation", "equipment", "defect_code")


@dataclass(frozen=True)
class PermissionDef:
    name: str          # domain name, e.g. "exec:track_in"
    roles: str         # role letters granted by the presets (Admin has everything anyway)
    description: str

    @property
    def resource(self) -> str:
        return RESOURCES[self.name.split(":", 1)[0]]

    @property
    def fab_permission(self) -> str:
        return "can_" + self.name.split(":", 1)[1]

    @property
    def pair(self) -> tuple[str, str]:
        """Flask-AppBuilder's (permission, view_menu) pair."""
        return (self.fab_permission, self.resource)


def _master_data() -> list[PermissionDef]:
    out = []
    for key in MASTER_DATA:
        label = key.replace("_", " ")
        out.append(PermissionDef(f"{key}:read", HUMAN, f"Read {label}s (API, pickers, detail pages)."))
        writers = "AEQ" if key == "defect_code" else "AE"
        out.append(PermissionDef(f"{key}:write", writers, f"Create, edit and delete {label}s."))
    return out


PERMISSIONS: list[PermissionDef] = _master_data() + [
    PermissionDef("route:read", "APEQLG", "Read routings and their compiled versions."),
    PermissionDef("route:configure", "AE", "Edit routings, steps and execution config."),
    PermissionDef("route:compile", "AE", "Compile a routing into an executable version."),
    PermissionDef("data_spec:read", "APEQLG", "Read data-collection specs."),
    PermissionDef("data_spec:config", "AE", "Create and edit data-collection specs."),
    PermissionDef("wo:read", HUMAN, "Read work orders."),
    PermissionDef("wo:receive", "API", "Receive (create or refresh) work orders."),
    PermissionDef("wo:release", "AP", "Release a work order to a line."),
    PermissionDef("wo:close", "AP", "Close a work order."),
    PermissionDef("run:read", HUMAN, "Read runs, units and run detail."),
    PermissionDef("run:create", "AP", "Create runs, generate units, cancel runs."),
    PermissionDef("run:authorize", "APL", "Authorize and revoke runs."),
    PermissionDef("run:close", "AP", "Close runs."),
    PermissionDef("readiness:check", "AQL", "Run readiness checks."),
    PermissionDef("readiness:waive", "AQ", "Waive failed readiness items."),
    PermissionDef("readiness:config", "AE", "Configure readiness items per line."),
    PermissionDef("loading:verify", "AML", "Load slot tables, scan and replace reels."),
    PermissionDef("loading:unlock", "ALE", "Unlock a locked feeder slot."),
    PermissionDef("loading:config", "AE", "Maintain feeder slots and slot tables."),
    PermissionDef("line_consumables:bind", "AMLE", "Bind stencils and solder paste to a line."),
    PermissionDef("exec:track_in", "AOL", "Track units in at a station."),
    PermissionDef("exec:track_out", "AOL", "Track units out with data and defects."),
    PermissionDef("quality:fai", "AQ", "Create, run and complete FAIs."),
    PermissionDef("quality:fai_sign", "AQ", "Sign a passed FAI."),
    PermissionDef("quality:oqc", "AQ", "Run OQC inspections and maintain sampling rules."),
    PermissionDef("quality:disposition", "AQ", "Record defects and decide dispositions."),
    PermissionDef("quality:mrb", "AQ", "Take MRB decisions on held runs."),
    PermissionDef("quality:inspection_result", "AQOL", "Record an SPI/AOI result by hand (operators: own stations)."),
    PermissionDef("trace:read", HUMAN, "Read unit, run and lot trace."),
    PermissionDef("trace:export", "AQGP", "Export trace and lists (CSV/XLSX)."),
    PermissionDef("reports:read", "AGPQE", "Dashboards and reports."),
    PermissionDef("reports:board", "AGPQELB", "The line board of a line (TV beside the line; Board device accounts)."),
    PermissionDef("integration:inbound", "AI", "Machine inbound endpoints (integration account)."),
    PermissionDef("integration:manual_entry", "ALQE", "Enter integration data by hand (degraded mode)."),
    PermissionDef("integration:view", "AELQ", "Integration status and messages."),
    PermissionDef("audit:read", HUMAN, "Read own audit events."),
    PermissionDef("audit:read_all", "AG", "Read all audit events."),
    PermissionDef("security:manage", "A", "Users, roles, bindings and API keys."),
    PermissionDef("user:unlock", "AL", "Unlock accounts locked by failed sign-ins (leaders: users of their "
                  "lines and stations, never an administrator)."),
]

BY_NAME: dict[str, PermissionDef] = {p.name: p for p in PERMISSIONS}
BY_PAIR: dict[tuple[str, str], str] = {p.pair: p.name for p in PERMISSIONS}

# The spec's short name `integration` (machine inbound) and `line:consumables`.
ALIASES = {"integration": "integration:inbound", "line:consumables": "line_consumables:bind"}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def roles_for(permission: str) -> list[str]:
    p = BY_NAME[canonical(permission)]
    return [ROLE_LETTERS[letter] for letter in p.roles]


@dataclass(frozen=True)
class MenuEntry:
    category: str
    name: str              # Flask-AppBuilder menu item name (the `menu_access` resource)
    permission: str | None  # the permission that shows the entry; None = every human role


# Menu visibility, derived into `menu_access` pairs by sync-roles.
MENU: list[MenuEntry] = [
    MenuEntry("Production", "Work Orders", "wo:read"),
    MenuEntry("Production", "Runs", "run:read"),
    MenuEntry("Production", "Station Terminal", "exec:track_in"),
    MenuEntry("Production", "Loading Terminal", "loading:verify"),
    MenuEntry("Production", "Trace", "trace:read"),
    MenuEntry("Engineering", "Products", "product:write"),
    MenuEntry("Engineering", "BOM", "bom_item:write"),
    MenuEntry("Engineering", "Materials", "material:write"),
    MenuEntry("Engineering", "Material Lots", "material_lot:write"),
    MenuEntry("Engineering", "Lines", "line:write"),
    MenuEntry("Engineering", "Station Groups", "station_group:write"),
    MenuEntry("Engineering", "Stations", "station:write"),
    MenuEntry("Engineering", "Station Equipment", "equipment:write"),
    MenuEntry("Engineering", "Operations", "operation:write"),
    MenuEntry("Engineering", "Routings", "route:configure"),
    MenuEntry("Engineering", "Data Collection Specs", "data_spec:config"),
    MenuEntry("Engineering", "Feeder Slots", "loading:config"),
    MenuEntry("Engineering", "Slot Table", "loading:config"),
    MenuEntry("Engineering", "Import", "product:write"),  # each sheet: its own list's write permission
    MenuEntry("Quality", "Defects & Disposition", "quality:disposition"),
    MenuEntry("Quality", "Defect Codes", "defect_code:write"),
    MenuEntry("Quality", "OQC Sampling Rules", "quality:oqc"),
    MenuEntry("Quality", "SPC Charts", "data_spec:read"),
    MenuEntry("Quality", "SPC Alarms", "data_spec:read"),
    MenuEntry("Integration", "Status", "integration:view"),
    MenuEntry("Integration", "Manual Entry", "integration:manual_entry"),
    MenuEntry("Integration", "Messages", "integration:view"),
    MenuEntry("Reports", "Dashboard", "reports:read"),
    MenuEntry("Reports", "Production Report", "reports:read"),
    MenuEntry("Reports", "Quality Report", "reports:read"),
    MenuEntry("Reports", "Line Boards", "reports:board"),
    MenuEntry("Reports", "Lot Recall", "trace:read"),
    MenuEntry("Audit", "Audit Log", "audit:read"),
    MenuEntry("Security", "Locked Accounts", "user:unlock"),
    MenuEntry("Help", "SOP Library", None),
    MenuEntry("Help", "API Reference", None),
]


def resource_permissions(prefix: str) -> list[str]:
    """Every FAB permission of one resource. Views sharing a resource declare all of them: at
    sync-roles FAB removes the permissions a view does not declare from its resource."""
    return sorted(p.fab_permission for p in PERMISSIONS if p.resource == RESOURCES[prefix])


# The resource of the user screen: FAB names a view's permissions after its class, and ours is
# security/views.py's MesUserDBModelView (FAB's own "UserDBModelView" is not registered).
USER_VIEW_RESOURCE = "MesUserDBModelView"

# Flask-AppBuilder's own views every signed-in person uses (own profile and password).
SELF_SERVICE_PAIRS = [
    ("can_userinfo", USER_VIEW_RESOURCE),
    ("resetmypassword", USER_VIEW_RESOURCE),
    ("userinfoedit", USER_VIEW_RESOURCE),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_this_form_get", "UserInfoEditView"),
    ("can_this_form_post", "UserInfoEditView"),
    ("can_get", "OpenApi"),
    ("can_show", "SwaggerView"),
    ("can_read", "SopLibrary"),
]


def role_pairs(role: str) -> set[tuple[str, str]]:
    """Every (permission, view_menu) pair a preset role gets (Admin: see sync, it gets all)."""
    letter = next(k for k, v in ROLE_LETTERS.items() if v == role)
    pairs: set[tuple[str, str]] = {p.pair for p in PERMISSIONS if letter in p.roles}
    if letter in HUMAN:
        pairs.update(SELF_SERVICE_PAIRS)
    granted = {p.name for p in PERMISSIONS if letter in p.roles}
    categories: set[str] = set()
    for entry in MENU:
        if (entry.permission is None and letter in HUMAN) or entry.permission in granted:
            pairs.add(("menu_access", entry.name))
            categories.add(entry.category)
    pairs.update(("menu_access", c) for c in categories)
    return pairs
