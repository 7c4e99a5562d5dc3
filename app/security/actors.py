"""Building the Actor of a user, cached per process behind the shared security version.

Correctness never depends on the cache: every lookup first reads the one-row security version
(bumped in the same transaction as any user, role, permission, binding or API-key change, see
services/platform/audit.py), so several workers and hosts stay correct. A request then costs one indexed read
for its permission check instead of FAB's several queries.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from flask import current_app, g, has_request_context
from werkzeug.security import check_password_hash
from flask_appbuilder.security.sqla.models import (
    ApiKey, Permission, PermissionView, Role, ViewMenu, assoc_permissionview_role,
)
from sqlalchemy import select

from ..extensions import db
from ..models import MesUser, RoleScope
from ..services.platform import audit
from ..services.platform.uow import begin_write_transaction
from ..services.platform.actor import SCOPE_ORDER, Actor, DataScope
from .permissions import BY_PAIR, PRESET_ROLES


@dataclass(frozen=True)
class Principal:
    actor: Actor
    fab_pairs: frozenset[tuple[str, str]]
    password_tag: str = ""  # of the user's current password: what the user's JWTs must carry


# The claim every JWT (access and refresh) carries: a few bytes of a keyed hash of the user's stored
# password hash at issue time. A new password gives a new tag, so tokens issued before it are refused,
# without a query of their own (the tag is part of the cached principal, which a password change
# renews: it bumps the security version like any other user change).
PASSWORD_TAG_CLAIM = "pwt"


def password_tag(password_hash: str | None) -> str:
    """Keyed by SECRET_KEY (the tag tells nothing about the hash); 8 bytes are plenty for telling a
    password apart from the one before it."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, (password_hash or "").encode(), hashlib.sha256).hexdigest()[:16]


# The user's session version at sign-in, kept in the (signed) session cookie. A console session is
# valid only while it equals the user's `session_version`, which sign-out, a password change and a
# deactivation increase (models/security.py): a cookie copied before any of them no longer works.
SESSION_VERSION_KEY = "_mes_sv"

_lock = threading.Lock()
_principals: dict[tuple[int, bool], tuple[int, Principal]] = {}
_api_keys: dict[str, tuple[int, int, Optional[datetime], float]] = {}
_MAX_ENTRIES = 5000
API_KEY_TOUCH_SECONDS = 300  # how often a cached key's last_used_on is refreshed


def clear_caches() -> None:
    with _lock:
        _principals.clear()
        _api_keys.clear()


def security_version() -> int:
    """The shared security version, read in the session's current transaction."""
    return audit.security_version(db.session.connection())


def request_security_version() -> int:
    """The security version read once per request, for the console's view and menu gates (a page checks
    dozens of permissions while it renders its menu); request_hooks clears it at the start of every
    request. The use cases' own checks (auth.authenticate) read it in their transaction, never from here."""
    if not has_request_context():
        return security_version()
    version = g.get(REQUEST_VERSION_KEY)
    if version is None:
        version = security_version()
        setattr(g, REQUEST_VERSION_KEY, version)
    return version


REQUEST_VERSION_KEY = "mes_security_version"


def _widest_scope(role_names: list[str], role_scopes: dict[str, str]) -> str:
    best = None
    for name in role_names:
        scope = role_scopes.get(name) or (PRESET_ROLES[name].scope if name in PRESET_ROLES else "ALL")
        if best is None or SCOPE_ORDER[scope] > SCOPE_ORDER[best]:
            best = scope
    return best or "STATIONS"  # no role at all: nothing in scope


def _build(user_id: int, via_api_key: bool) -> Optional[Principal]:
    session = db.session
    user = session.get(MesUser, user_id)
    if user is None or not user.active:
        return None
    roles: list[Role] = list(user.roles) + [r for g in (user.groups or []) for r in g.roles]
    role_ids = sorted({r.id for r in roles})
    role_names = sorted({r.name for r in roles})
    pairs: frozenset[tuple[str, str]] = frozenset()
    scopes: dict[str, str] = {}
    if role_ids:
        rows = session.execute(
            select(Permission.name, ViewMenu.name)
            .select_from(assoc_permissionview_role)
            .join(PermissionView, PermissionView.id == assoc_permissionview_role.c.permission_view_id)
            .join(Permission, Permission.id == PermissionView.permission_id)
            .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
            .where(assoc_permissionview_role.c.role_id.in_(role_ids))
        ).all()
        pairs = frozenset((p, v) for p, v in rows)
        scopes = {
            name: scope for name, scope in session.execute(
                select(Role.name, RoleScope.scope).join(RoleScope, RoleScope.role_id == Role.id)
                .where(Role.id.in_(role_ids))
            ).all()
        }
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    is_admin = admin_role in role_names
    mode = "ALL" if is_admin else _widest_scope(role_names, scopes)
    if mode == "LINES":
        scope = DataScope("LINES", frozenset(line.id for line in user.lines))
    elif mode == "STATIONS":
        scope = DataScope("STATIONS", frozenset(s.line_id for s in user.stations),
                          frozenset(s.id for s in user.stations))
    else:
        scope = DataScope("ALL")
    actor = Actor(
        user_id=user.id,
        username=user.username,
        actor_type="INTEGRATION" if via_api_key else "USER",
        roles=tuple(role_names),
        permissions=frozenset(BY_PAIR[p] for p in pairs if p in BY_PAIR),
        scope=scope,
        is_admin=is_admin,
    )
    return Principal(actor, pairs, password_tag(user.password))


def principal_for_user(user_id: int, *, via_api_key: bool = False,
                       version: int | None = None) -> Optional[Principal]:
    version = security_version() if version is None else version
    key = (int(user_id), via_api_key)
    hit = _principals.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    principal = _build(int(user_id), via_api_key)
    if principal is not None:
        with _lock:
            if len(_principals) >= _MAX_ENTRIES:
                _principals.clear()
            _principals[key] = (version, principal)
    return principal


def cached_principal(user_id: int) -> Optional[tuple[int, Principal]]:
    """The user's principal as this process last built it, with the security version it was built at —
    without reading the version: the caller must have it confirmed (uow.defer_security_check)."""
    return _principals.get((int(user_id), False))


def actor_for_user(user_id: int, *, via_api_key: bool = False) -> Optional[Actor]:
    principal = principal_for_user(user_id, via_api_key=via_api_key)
    return principal.actor if principal else None


def user_id_for_api_key(raw_key: str) -> Optional[int]:
    """Validate an API key: a full scrypt check (~0.1 s) only when the process has not seen this key
    since the last security change; `last_used_on` is refreshed at most every few minutes."""
    sm = current_app.appbuilder.sm
    lookup = sm._compute_lookup_hash(raw_key)
    version = security_version()
    now = time.monotonic()
    hit = _api_keys.get(lookup)
    if hit is not None and hit[0] == version:
        _, user_id, expires_on, touched = hit
        if expires_on is None or expires_on > datetime.now():
            if now - touched > API_KEY_TOUCH_SECONDS:
                _touch(lookup, user_id, expires_on, version, now)
            return user_id
        return None
    key = db.session.execute(select(ApiKey).where(ApiKey.lookup_hash == lookup)).scalar_one_or_none()
    # FAB's full check (validate_api_key): the lookup hash finds the key, the slow hash verifies it
    if key is None or not check_password_hash(key.key_hash, raw_key) or not key.is_active:
        return None
    if key.user is None or not key.user.is_active:
        return None
    user_id, expires_on = key.user.id, key.expires_on
    _touch(lookup, user_id, expires_on, version, now)
    return user_id


def _touch(lookup: str, user_id: int, expires_on, version: int, now: float) -> None:
    """Save the key's last use (its own short write transaction: the write lock first, so that on
    SQLite a writer that committed during the slow hash check makes it wait, not fail) and cache it."""
    begin_write_transaction()
    table = ApiKey.__table__
    db.session.execute(table.update().where(table.c.lookup_hash == lookup)
                       .values(last_used_on=datetime.now()))
    db.session.commit()
    with _lock:
        if len(_api_keys) >= _MAX_ENTRIES:
            _api_keys.clear()
        _api_keys[lookup] = (version, user_id, expires_on, now)
