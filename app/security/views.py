"""Security screens: users with their line/station bindings, role scopes, API keys, login page."""
from __future__ import annotations

from datetime import datetime

from flask import flash, g, redirect
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.sqla.models import ApiKey
from flask_appbuilder.security.views import AuthDBView, UserDBModelView
from flask_appbuilder.views import ModelView
from flask_login import login_user
from wtforms import SelectField
from wtforms.validators import DataRequired

from ..models import RoleScope
from ..models.security import SCOPES

_BINDING_LABELS = {
    "lines": "Lines (data scope)",
    "stations": "Stations (data scope)",
    "last_failed_login_at": "Last failed login",
}
_BINDING_DESCRIPTIONS = {
    "lines": "For Leader/Material-type roles (scope LINES): the lines this user works on.",
    "stations": "For Operator-type roles (scope STATIONS): the stations this user works at.",
}


class MesUserDBModelView(UserDBModelView):
    """FAB's user screen plus the data-scope bindings and an unlock action (login lockout)."""

    label_columns = {**UserDBModelView.label_columns, **_BINDING_LABELS}
    description_columns = {**UserDBModelView.description_columns, **_BINDING_DESCRIPTIONS}
    list_columns = ["first_name", "last_name", "username", "email", "active", "roles", "lines", "stations"]
    show_fieldsets = [
        ("User info", {"fields": ["username", "active", "roles", "groups", "login_count"]}),
        ("Data scope", {"fields": ["lines", "stations"], "expanded": True}),
        ("Personal Info", {"fields": ["first_name", "last_name", "email"], "expanded": True}),
        ("Audit Info", {"fields": ["last_login", "fail_login_count", "last_failed_login_at",
                                   "created_on", "changed_on"], "expanded": False}),
    ]
    add_columns = ["first_name", "last_name", "username", "active", "email", "roles", "lines",
                   "stations", "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles", "lines", "stations"]
    validators_columns = {}  # roles are required by our own rule below (groups are not used)

    def pre_add(self, item):
        if not item.roles:
            raise ValueError("Choose at least one role.")
        super().pre_add(item)  # FAB hashes the password here

    def pre_update(self, item):
        if not item.roles:
            raise ValueError("Choose at least one role.")
        super().pre_update(item)

    @action("unlock", "Unlock login", "Reset the failed-login counter of the selected users?", "fa-unlock")
    def unlock(self, items):
        from ..services.platform.context import ambient_actor
        from ..services.platform.users import unlock_users
        items = items if isinstance(items, list) else [items]
        count = unlock_users(actor=ambient_actor(), usernames=[u.username for u in items])
        flash(f"Unlocked {count} user(s).", "success")
        return redirect(self.get_redirect())


class RoleScopeModelView(ModelView):
    """The data scope of each role: ALL, LINES (the user's line bindings) or STATIONS."""

    datamodel = SQLAInterface(RoleScope)
    route_base = "/rolescopes"
    list_title = "Role data scopes"
    list_columns = ["role", "scope"]
    add_columns = edit_columns = ["role", "scope"]
    label_columns = {"role": "Role", "scope": "Data scope"}
    description_columns = {"scope": "ALL: everything. LINES: the user's bound lines. "
                                    "STATIONS: the user's bound stations. A role without a row here: ALL."}
    add_form_extra_fields = edit_form_extra_fields = {
        "scope": SelectField("Data scope", choices=[(s, s) for s in SCOPES], validators=[DataRequired()]),
    }


class ApiKeyModelView(ModelView):
    """API keys: listed and revoked here; created with `flask mes create-api-key USER` (shown once)."""

    datamodel = SQLAInterface(ApiKey)
    route_base = "/apikeys"
    list_title = "API keys"
    include_route_methods = {"list", "show", "action", "action_post"}
    list_columns = ["name", "user", "key_prefix", "active", "created_on", "expires_on", "revoked_on", "last_used_on"]
    show_columns = list_columns + ["scopes", "uuid"]
    base_order = ("created_on", "desc")

    @action("revoke", "Revoke", "Revoke the selected API keys? Clients using them stop working.", "fa-ban")
    def revoke(self, items):
        items = items if isinstance(items, list) else [items]
        for key in items:
            key.active = False
            key.revoked_on = datetime.now()
            self.datamodel.edit(key)
        flash(f"Revoked {len(items)} key(s).", "success")
        return redirect(self.get_redirect())


class MesAuthDBView(AuthDBView):
    """The login page; tells a locked-out user what to do instead of a generic failure."""

    login_template = "mes/login.html"

    @property
    def invalid_login_message(self):
        if g.get("login_error_code") == "ACCOUNT_LOCKED":
            return "This account is locked after 5 failed sign-ins. Wait 5 minutes or ask an administrator to unlock it."
        return "Wrong username or password. Please try again."


__all__ = ["MesUserDBModelView", "RoleScopeModelView", "ApiKeyModelView", "MesAuthDBView", "login_user"]
