"""Security screens: users with their line/station bindings and login lock, role scopes, API keys, login page."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, g, redirect
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.sqla.models import ApiKey
from flask_appbuilder.security.views import AuthDBView, UserDBModelView
from flask_appbuilder.validators import PasswordComplexityValidator
from flask_appbuilder.views import ModelView
from flask_login import login_user
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from ..models import RoleScope
from ..models.security import SCOPES
from ..services.platform import users
from ..services.platform.context import ambient_actor
from ..services.platform.errors import DomainError
from ..web.codes import code_label
from ..web.messages import NamedRowMessages

_USER_LABELS = {
    "email": lazy_gettext("E-mail"),
    "lines": lazy_gettext("Lines (data scope)"),
    "stations": lazy_gettext("Stations (data scope)"),
    "last_failed_login_at": lazy_gettext("Last failed login"),
    "locked_until": lazy_gettext("Locked until"),
    "groups": lazy_gettext("Groups"),
}
# Our help texts on the user form (FAB's speak of OID and LDAP, which LineMES does not use).
_USER_DESCRIPTIONS = {
    "first_name": lazy_gettext("The person's first name, as colleagues know them."),
    "last_name": lazy_gettext("The person's family name."),
    "username": lazy_gettext("The sign-in name (e.g. jdoe). Every action of the person is recorded under it in the audit "
                "log, so give each person their own and never reuse one."),
    "active": lazy_gettext("Untick when the person leaves or must not sign in any more: their name stays in the history. "
              "Do not delete a user who has worked in the system."),
    "email": lazy_gettext("Optional. The person's e-mail address; leave it blank if they have none."),
    "roles": lazy_gettext("What the person may do (the preset roles are described in the Admin guide). Leaders, material "
             "handlers and operators also need their lines or stations below."),
    "lines": lazy_gettext("For Leader/Material-type roles (scope LINES): the lines this user works on."),
    "stations": lazy_gettext("For Operator-type roles (scope STATIONS): the stations this user works at."),
}
_PASSWORD_HELP = lazy_gettext("At least 10 characters with 2 capital letters, 3 lower-case letters, 2 digits and a special "
                    "character. Give it to the person, who changes it under Profile → Reset my password.")


def _console_filter(name: str):
    """The console's display filter `name` (views/base.py: `mes_datetime` — the one time format —
    and `mes_cell` — Yes/No, blank, a relation's items), looked up when a value is shown: the security
    screens are built before the console's modules and do not import them."""
    return lambda value: current_app.jinja_env.filters[name](value)


class EmailFree:
    """WTForms validator: no other user has this e-mail (case-insensitively); blank is always free."""

    def __call__(self, form, field) -> None:
        if users.email_taken(field.data, user_id=getattr(form, "_id", None)):
            raise ValidationError(_("Another user has the e-mail %(email)s: give another one or leave it blank.",
                                    email=field.data.strip()))


def _email_field() -> StringField:
    return StringField(_USER_LABELS["email"], description=_USER_DESCRIPTIONS["email"],
                       # a plain shape check: WTForms' Email refuses in-house domains such as plant.local
                       validators=[Optional(), Length(max=320),
                                   Regexp(r"^[^@\s]+@[^@\s]+$", message=lazy_gettext("Give an e-mail address like "
                                          "name@example.com, or leave it blank.")),
                                   EmailFree()],
                       filters=[lambda value: value.strip() if isinstance(value, str) else value],
                       widget=BS3TextFieldWidget())


class UserInterface(SQLAInterface):
    """The user model for the user screen, with two shown values: the e-mail placeholder of a user
    without e-mail is blank, and `locked_until` is when the login lock ends (the users service)."""

    @staticmethod
    def _get_attr_value(item, col):
        if col == "locked_until":
            return users.locked_until(item)
        if col == "email":
            return users.shown_email(item.email)
        return SQLAInterface._get_attr_value(item, col)


class MesUserDBModelView(NamedRowMessages, UserDBModelView):
    """FAB's user screen plus the data-scope bindings, who is locked (and an unlock action), e-mail
    optional, our help texts and "User jdoe saved." messages."""

    label_columns = {**UserDBModelView.label_columns, **_USER_LABELS}
    description_columns = {**UserDBModelView.description_columns, **_USER_DESCRIPTIONS}
    list_columns = ["first_name", "last_name", "username", "email", "active", "roles", "lines", "stations",
                    "locked_until"]
    order_columns = ["first_name", "last_name", "username", "email", "active"]  # not the computed lock
    show_fieldsets = [
        (lazy_gettext("User info"), {"fields": ["username", "active", "roles", "groups", "login_count"]}),
        (lazy_gettext("Data scope"), {"fields": ["lines", "stations"], "expanded": True}),
        (lazy_gettext("Personal Info"), {"fields": ["first_name", "last_name", "email"], "expanded": True}),
        (lazy_gettext("Audit Info"), {"fields": ["last_login", "fail_login_count", "last_failed_login_at", "locked_until",
                                   "created_on", "changed_on"], "expanded": False}),
    ]
    add_columns = ["first_name", "last_name", "username", "active", "email", "roles", "lines",
                   "stations", "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles", "lines", "stations"]
    validators_columns = {}  # roles are required by our own rule below (groups are not used)
    formatters_columns = {
        **{c: _console_filter("mes_datetime") for c in ("locked_until", "last_failed_login_at")},
        **{c: _console_filter("mes_cell") for c in ("active", "groups", "lines", "stations")},
        "roles": lambda roles: ", ".join(code_label(str(role), "role") for role in roles or []),  # role names as words
    }
    add_form_extra_fields = {
        "email": _email_field(),
        "password": PasswordField(lazy_gettext("Password"), description=_PASSWORD_HELP,
                                  validators=[DataRequired(), PasswordComplexityValidator()],
                                  widget=BS3PasswordFieldWidget()),
        "conf_password": PasswordField(lazy_gettext("Confirm password"), description=lazy_gettext("Type the password again."),
                                       validators=[DataRequired(), EqualTo("password", message=lazy_gettext("The two "
                                                   "passwords are not the same: type them again."))],
                                       widget=BS3PasswordFieldWidget()),
    }
    edit_form_extra_fields = {"email": _email_field()}

    def row_name(self, item) -> str:
        return _("User %(username)s", username=item.username)

    def prefill_form(self, form, pk) -> None:
        form.email.data = users.shown_email(form.email.data)  # the no-e-mail placeholder: blank

    def process_form(self, form, is_created) -> None:
        # before FAB copies the form to the user: a blank e-mail is never written, not even by an autoflush
        form.email.data = users.stored_email(form.username.data, form.email.data)

    def pre_add(self, item):
        if not item.roles:
            raise ValueError(_("Choose at least one role."))
        super().pre_add(item)  # FAB hashes the password here

    def pre_update(self, item):
        if not item.roles:
            raise ValueError(_("Choose at least one role."))
        super().pre_update(item)

    def pre_delete(self, item):
        super().pre_delete(item)
        self.remember_row(item)  # named before it is gone

    @action("unlock", lazy_gettext("Unlock login"), lazy_gettext("Reset the failed-login counter of the selected users?"), "fa-unlock")
    def unlock(self, items):
        items = items if isinstance(items, list) else [items]
        try:
            count = users.unlock_users(actor=ambient_actor(), usernames=[u.username for u in items])
        except DomainError as error:
            flash(f"{error.message} [{error.code}]", "danger")
        else:
            flash(_("Unlocked %(count)s user(s).", count=count), "success")
        return redirect(self.get_redirect())


class RoleScopeModelView(ModelView):
    """The data scope of each role: ALL, LINES (the user's line bindings) or STATIONS."""

    datamodel = SQLAInterface(RoleScope)
    route_base = "/rolescopes"
    list_title = lazy_gettext("Role data scopes")
    add_title = lazy_gettext("Add a role's data scope")
    edit_title = lazy_gettext("Edit a role's data scope")
    show_title = lazy_gettext("A role's data scope")
    list_columns = ["role", "scope"]
    add_columns = edit_columns = ["role", "scope"]
    label_columns = {"role": lazy_gettext("Role"), "scope": lazy_gettext("Data scope")}
    formatters_columns = {"role": lambda role: code_label(str(role), "role"), "scope": code_label}
    description_columns = {"scope": lazy_gettext("ALL: everything. LINES: the user's bound lines. "
                                       "STATIONS: the user's bound stations. A role without a row here: ALL.")}
    add_form_extra_fields = edit_form_extra_fields = {
        "scope": SelectField(lazy_gettext("Data scope"), choices=[(s, lazy_gettext(s)) for s in SCOPES], validators=[DataRequired()]),
    }


class ApiKeyModelView(ModelView):
    """API keys: listed and revoked here; created with `flask mes create-api-key USER` (shown once)."""

    datamodel = SQLAInterface(ApiKey)
    route_base = "/apikeys"
    list_title = lazy_gettext("API keys")
    show_title = lazy_gettext("API key")
    include_route_methods = {"list", "show", "action", "action_post"}
    list_columns = ["name", "user", "key_prefix", "active", "created_on", "expires_on", "revoked_on", "last_used_on"]
    show_columns = list_columns + ["scopes", "uuid"]
    label_columns = {"name": lazy_gettext("Name"), "user": lazy_gettext("User"), "key_prefix": lazy_gettext("Key prefix"), "active": lazy_gettext("Active"),
                     "created_on": lazy_gettext("Created"), "expires_on": lazy_gettext("Expires"), "revoked_on": lazy_gettext("Revoked"),
                     "last_used_on": lazy_gettext("Last used"), "scopes": lazy_gettext("Scopes"), "uuid": "UUID",
                     "key_hash": lazy_gettext("Key hash"), "lookup_hash": lazy_gettext("Lookup hash")}
    base_order = ("created_on", "desc")

    @action("revoke", lazy_gettext("Revoke"), lazy_gettext("Revoke the selected API keys? Clients using them stop working."), "fa-ban")
    def revoke(self, items):
        items = items if isinstance(items, list) else [items]
        for key in items:
            key.active = False
            key.revoked_on = datetime.now()
            self.datamodel.edit(key)
        flash(_("Revoked %(count)s key(s).", count=len(items)), "success")
        return redirect(self.get_redirect())


class MesAuthDBView(AuthDBView):
    """The login page; tells a locked-out user what to do instead of a generic failure."""

    login_template = "mes/login.html"

    @property
    def invalid_login_message(self):
        if g.get("login_error_code") == "ACCOUNT_LOCKED":
            failures, minutes = users.lockout_policy()
            return _("This account is locked after %(failures)s failed sign-ins. Wait %(minutes)s minutes, or ask "
                     "your line leader or an administrator to unlock it.", failures=failures, minutes=minutes)
        return _("Wrong username or password. Please try again.")


__all__ = ["MesUserDBModelView", "UserInterface", "RoleScopeModelView", "ApiKeyModelView", "MesAuthDBView", "login_user"]
