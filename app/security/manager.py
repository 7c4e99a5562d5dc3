"""LineMES SecurityManager: FAB's SQLA manager with our user model, cached permission checks,
cached API keys, login lockout, login rate limits and audited logins."""
from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request, session
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_login import current_user, user_logged_in
from sqlalchemy import update

from .. import metrics
from ..api.base import EnvelopeResponses
from ..extensions import db
from ..models import MesUser
from ..services.platform import audit, users
from ..services.platform.actor import Actor
from ..services.platform.clock import now
from ..services.platform.uow import begin_write_transaction
from . import actors
from .views import ApiKeyModelView, MesAuthDBView, MesUserDBModelView, RoleScopeModelView, UserInterface


SESSION_VERSION_KEY = actors.SESSION_VERSION_KEY


@user_logged_in.connect
def _remember_session_version(_sender, user=None, **_extra) -> None:
    session[SESSION_VERSION_KEY] = getattr(user, "session_version", None)


class MesSecurityApi(EnvelopeResponses, SecurityApi):
    """`POST /api/v1/security/login` and `/refresh`, answering errors in our envelope."""


class MesSecurityManager(SecurityManager):
    user_model = MesUser
    userdbmodelview = MesUserDBModelView
    authdbview = MesAuthDBView
    security_api = MesSecurityApi

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        # FAB's user data model, with the user screen's shown values (the lock, a blank e-mail)
        self.userdbmodelview.datamodel = UserInterface(self.user_model)

    # -- views --------------------------------------------------------------------------------
    def register_views(self) -> None:
        super().register_views()
        if not current_app.config.get("FAB_ADD_SECURITY_VIEWS", True):
            return
        # FAB limits only the form login; the API login gets the same per-address limit.
        if self.is_auth_limited:
            api = next(v for v in self.appbuilder.baseviews if isinstance(v, self.security_api))
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(api.blueprint)
        self.appbuilder.add_view(RoleScopeModelView, "Role Scopes", icon="fa-sitemap",
                                 category="Security")
        self.appbuilder.add_view(ApiKeyModelView, "API Keys", icon="fa-key", category="Security")

    # -- permission checks through the per-process cache ----------------------------------------
    def _has_view_access(self, user: Any, permission_name: str, view_name: str) -> bool:
        principal = actors.principal_for_user(user.id, via_api_key=bool(g.get("_api_key_user")),
                                              version=actors.request_security_version())
        if principal is None:
            return False
        return principal.actor.is_admin or (permission_name, view_name) in principal.fab_pairs

    def get_user_menu_access(self, menu_names: list[str] | None = None) -> set[str]:
        if not current_user.is_authenticated:
            return set()
        principal = actors.principal_for_user(current_user.id, version=actors.request_security_version())
        if principal is None:
            return set()
        names = set(menu_names or [])
        if principal.actor.is_admin:
            return names
        return {view for perm, view in principal.fab_pairs if perm == "menu_access" and view in names}

    def validate_api_key(self, api_key_string: str):
        user_id = actors.user_id_for_api_key(api_key_string)
        if user_id is None:
            return None
        user = self.get_user_by_id(user_id)
        g.user = user
        g._api_key_user = True
        return user

    # -- console sessions end at sign-out, password change and deactivation ----------------------
    def load_user(self, pk):
        """Flask-Login's user loader (the console's session cookie): the user, only while the session's
        version is the user's current one."""
        user = super().load_user(pk)
        if user is None or session.get(SESSION_VERSION_KEY) != user.session_version:
            return None
        return user

    def create_jwt_manager(self, app):
        """FAB's JWT manager; every token it issues (access and refresh) carries the password tag."""
        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.additional_claims_loader(self._jwt_claims)
        return jwt_manager

    def _jwt_claims(self, identity) -> dict[str, str]:
        user = self.get_user_by_id(int(identity))
        return {actors.PASSWORD_TAG_CLAIM: actors.password_tag(user.password)} if user is not None else {}

    def load_user_jwt(self, _jwt_header, jwt_data):
        """JWT bearer tokens (access, and refresh at `/security/refresh`) carry no session: FAB's loader
        without the session-version check, but only for a token issued since the user's latest
        password change (its password tag)."""
        user = super().load_user(jwt_data["sub"])
        if user and user.is_active and \
                jwt_data.get(actors.PASSWORD_TAG_CLAIM) == actors.password_tag(user.password):
            g.user = user
            return user
        return None

    def reset_password(self, userid, password) -> None:
        """FAB's password change (own or an administrator's reset): the new password hash bumps the
        user's session version, ending the user's other sessions; the session that changed its own
        password stays signed in."""
        super().reset_password(userid, password)
        if has_request_context() and current_user.is_authenticated and str(current_user.id) == str(userid):
            session[SESSION_VERSION_KEY] = self.get_user_by_id(userid).session_version

    # -- login: lockout and audit ---------------------------------------------------------------
    def is_locked(self, user: MesUser) -> bool:
        return users.locked_until(user) is not None

    def auth_user_db(self, username, password):
        user = self.find_user(username=username) if username else None
        if user is None and username:
            user = self.find_user(email=username)
        if user is not None and user.is_active and self.is_locked(user):
            g.login_error_code = "ACCOUNT_LOCKED"
            metrics.LOGIN_FAILURES.labels("locked").inc()
            audit.record_standalone(_login_actor(user), "LOGIN_FAILED", "USER", user.username,
                                    status="FAIL", error_code="ACCOUNT_LOCKED")
            return None
        result = super().auth_user_db(username, password)
        if result is None and (user is None or not user.is_active):
            # FAB reports failures of known users only (on_user_login_failed); audit the rest.
            metrics.LOGIN_FAILURES.labels("unknown user" if user is None else "inactive user").inc()
            audit.record_standalone(
                Actor(user_id=None, username=(username or "")[:128] or "-", actor_type="USER"),
                "LOGIN_FAILED", "USER", (username or "")[:128], status="FAIL",
                error_code="UNAUTHORIZED",
                reason="unknown user" if user is None else "inactive user")
        return result

    def on_user_login(self, user) -> None:
        audit.record_standalone(_login_actor(user), "LOGIN", "USER", user.username,
                                payload={"via": _login_channel()})

    def on_user_login_failed(self, user) -> None:
        user.last_failed_login_at = now()  # committed with the audit event below
        locked = self.is_locked(user)
        metrics.LOGIN_FAILURES.labels("locked" if locked else "wrong password").inc()
        if locked:
            g.login_error_code = "ACCOUNT_LOCKED"
        audit.record_standalone(_login_actor(user), "LOGIN_FAILED", "USER", user.username,
                                status="FAIL", error_code="ACCOUNT_LOCKED" if locked else "UNAUTHORIZED",
                                payload={"via": _login_channel(), "failedCount": user.fail_login_count})

    def on_user_logout(self, user) -> None:
        session.pop(SESSION_VERSION_KEY, None)
        if user is not None and getattr(user, "is_authenticated", False):
            # the write lock first (SQLite: a read transaction cannot become a writer once another
            # writer committed, and a logout that fails would leave copies of the cookie valid)
            begin_write_transaction()
            # every session of the user ends, including copies of this cookie (a plain UPDATE: no CRUD
            # audit event, no security-version bump; the LOGOUT event below is committed with it)
            table = MesUser.__table__
            db.session.execute(update(table).where(table.c.id == user.id)
                               .values(session_version=table.c.session_version + 1))
            audit.record_standalone(_login_actor(user), "LOGOUT", "USER", user.username)


def _login_channel() -> str:
    return "api" if request.path.startswith("/api/") else "console"


def _login_actor(user) -> Actor:
    return Actor(user_id=user.id, username=user.username, actor_type="USER",
                 roles=tuple(sorted(r.name for r in user.roles)))


__all__ = ["MesSecurityManager"]
