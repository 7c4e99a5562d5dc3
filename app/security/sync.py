"""`flask mes sync-roles`: create the permissions of every registered view and of the catalogue, then
reset the preset roles to the catalogue. Idempotent. Order matters (FAB pitfall): roles first, then
permissions, then grants."""
from __future__ import annotations

from flask import current_app

from ..extensions import db
from ..models import RoleScope
from ..services.platform import audit
from ..services.platform.actor import SYSTEM
from .permissions import MENU, PERMISSIONS, PRESET_ROLES, SELF_SERVICE_PAIRS, role_pairs


def sync_roles() -> dict[str, int]:
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    admin_name = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    public_name = current_app.config.get("AUTH_ROLE_PUBLIC", "Public")

    session = db.session
    # FAB commits after every grant; one summary event (below) replaces hundreds of CRUD events.
    session.info["crud_audit_off"] = True
    try:
        return _sync(appbuilder, sm, admin_name, public_name)
    finally:
        session.info.pop("crud_audit_off", None)


def _sync(appbuilder, sm, admin_name: str, public_name: str) -> dict[str, int]:
    changed: list[str] = []
    # 1. roles
    for name in list(PRESET_ROLES) + [public_name]:
        if sm.find_role(name) is None:
            sm.add_role(name)
            changed.append(f"role {name} created")

    # 2. permissions of every registered view and menu (FAB grants them to Admin as it goes)
    appbuilder.add_permissions(update_perms=True)

    # 3. the catalogue's domain permissions, menu entries and self-service pairs
    wanted: set[tuple[str, str]] = {p.pair for p in PERMISSIONS}
    wanted.update(("menu_access", m.name) for m in MENU)
    wanted.update(("menu_access", m.category) for m in MENU)
    wanted.update(SELF_SERVICE_PAIRS)
    pvs = {}
    for perm, view in sorted(wanted):
        pv = sm.add_permission_view_menu(perm, view)
        if pv is not None:
            pvs[(perm, view)] = pv

    # 4. grants: presets reset to the catalogue; Admin gets every permission that exists
    session = db.session
    counts: dict[str, int] = {}
    all_pvs = session.query(sm.permissionview_model).all()
    for name, role_def in PRESET_ROLES.items():
        role = sm.find_role(name)
        if name == admin_name:
            target = all_pvs
        else:
            pairs = role_pairs(name)
            target = [pv for pv in all_pvs
                      if pv.permission and pv.view_menu and (pv.permission.name, pv.view_menu.name) in pairs]
        if {pv.id for pv in role.permissions} != {pv.id for pv in target}:
            role.permissions = target
            changed.append(f"role {name} permissions reset")
        scope_row = session.get(RoleScope, role.id)
        if scope_row is None:
            session.add(RoleScope(role_id=role.id, scope=role_def.scope))
            changed.append(f"role {name} scope {role_def.scope}")
        elif scope_row.scope != role_def.scope:
            scope_row.scope = role_def.scope
            changed.append(f"role {name} scope {role_def.scope}")
        counts[name] = len(target)
    public = sm.find_role(public_name)
    if public.permissions:
        public.permissions = []
        changed.append("public role emptied")
    if changed:
        audit.write_event(session, SYSTEM, "SECURITY_SYNC_ROLES", "ROLE", None,
                          payload={"changes": changed, "permissionsPerRole": counts})
    session.commit()
    return counts
