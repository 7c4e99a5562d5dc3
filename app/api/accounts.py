"""User accounts: the login lockout (`user:unlock`). Users themselves are managed on the console
(Security → List Users) and with `flask mes create-user`."""
from __future__ import annotations

from flask_appbuilder.api import expose
from marshmallow import Schema

from ..services.platform import users
from ..services.platform.inputs import Text
from .base import MesBaseApi, load_json, ok, requires


class UnlockSchema(Schema):
    reason = Text(load_default="")


class UserAccountApi(MesBaseApi):
    resource_name = "users"
    route_base = "/api/v1/users"
    openapi_spec_tag = "Accounts"

    @expose("/locked", methods=["GET"])
    @requires("user:unlock")
    def locked(self, actor):
        """The accounts locked by failed sign-ins that the caller may unlock.
        ---
        get:
          responses:
            200: {description: "`{data: [{username, name, roles, lines, stations, failedLogins, lastFailedLoginAt,
              locked, lockedUntil}]}`"}
        """
        return ok(users.locked_users(actor=actor))

    @expose("/<username>/unlock", methods=["POST"])
    @requires("user:unlock")
    def unlock(self, username, actor):
        """Unlock an account `{reason?}` (a line leader: users of their lines and stations, no administrator).
        ---
        post:
          responses:
            200: {description: "`{data: user with unlocked: true|false}`"}
        """
        body = load_json(UnlockSchema())
        return ok(users.unlock_user(actor=actor, username=username, reason=body["reason"]))
