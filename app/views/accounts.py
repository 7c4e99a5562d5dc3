"""Security → Locked Accounts (`user:unlock`): the accounts locked by failed sign-ins that the signed-in
person may unlock — for a line leader the operators and material handlers of their lines — each with an
Unlock button. The users service decides who may unlock whom and audits it (USER_UNLOCK)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _

from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.platform import users
from .base import call_and_flash


class LockedAccountsView(BaseView):
    route_base = "/locked-accounts"
    default_view = "list"
    class_permission_name = "UserAccount"
    method_permission_name = {"list": "unlock", "unlock": "unlock"}
    base_permissions = resource_permissions("user")

    @expose("/")
    @has_access
    def list(self):
        actor = authenticate()
        rows = call_and_flash(lambda: users.locked_users(actor=actor)) or []
        failures, minutes = users.lockout_policy()
        return self.render_template("mes/locked_accounts.html", rows=rows, failures=failures, minutes=minutes,
                                    help_doc="leader", help_anchor="unlocking-an-account")

    @expose("/<username>/unlock", methods=["POST"])
    @has_access
    def unlock(self, username):
        actor = authenticate()
        result = call_and_flash(lambda: users.unlock_user(actor=actor, username=username,
                                                          reason=request.form.get("reason", "")))
        if result is not None:
            message = (_("%(username)s is unlocked and can sign in again.", username=result["username"])
                       if result["unlocked"] else
                       _("%(username)s was not locked: nothing to do.", username=result["username"]))
            flash(message, "success")
        return redirect(url_for("LockedAccountsView.list"))
