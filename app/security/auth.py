"""Who is calling: API key (integration), JWT bearer token, or the console's session cookie.

`authenticate()` resolves the caller once per request into a cached `Actor` (security/actors.py).
A state-changing call is authenticated inside the write transaction that will make its changes
(services/platform/uow.py), so a request reads the security version in the transaction it commits, in one
transaction instead of two. The verified claims of an access token are kept per process until the
token expires; a token issued before the user's latest password change is refused (its password tag,
security/actors.py). On the TrackIn/TrackOut hot path (`authenticate(defer_security=True)`) a bearer
token's cached actor is used at once and its security version is confirmed by the unit of work, in the
same write transaction, as a column of its first query (services/platform/uow.py).
CSRF is enforced for every cookie-authenticated, state-changing `/api` call. A call that sends an
Authorization header authenticates with it alone: it must be `Bearer <access token or API key>`
(anything else is 401) and the session cookie is ignored for that request, so a header can never be
used to skip the CSRF check while the cookie does the authenticating.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from flask import current_app, g, has_request_context, request, session
from flask_jwt_extended import decode_token
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from ..extensions import csrf
from ..services.platform.actor import Actor
from ..services.platform.errors import DomainError
from ..services.platform.uow import (
    PendingCheck, begin_write_transaction, confirm_deferred_security, defer_security_check,
)
from . import actors

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_MAX_CACHED_TOKENS = 5000


def _bearer_token() -> Optional[str]:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return header[7:].strip() or None


def _is_api_key(token: str) -> bool:
    return any(token.startswith(p) for p in current_app.config.get("FAB_API_KEY_PREFIXES", ["sst_"]))


def _access_claims(token: str) -> dict[str, Any]:
    """The verified claims of an access token, or DomainError UNAUTHORIZED. Verified claims are kept
    per process (and app) until the token's expiry: a terminal sends the same token with every scan,
    and checking its signature again each time is a measurable share of a scan."""
    cache: dict[str, dict[str, Any]] = current_app.extensions.setdefault("mes_access_claims", {})
    claims = cache.get(token)
    if claims is not None and claims["exp"] > time.time():
        return claims
    try:
        claims = decode_token(token)
    except Exception:
        raise DomainError("UNAUTHORIZED", "The access token is invalid or expired; log in again.") from None
    if claims.get("type") != "access":
        raise DomainError("UNAUTHORIZED", "Use an access token (not a refresh token).")
    if isinstance(claims.get("exp"), (int, float)):  # a token without expiry is checked every time
        if len(cache) >= _MAX_CACHED_TOKENS:
            cache.clear()
        cache[token] = claims
    return claims


def _begin_transaction() -> None:
    """A state-changing call reads what authorises it (security version, user) in the write
    transaction that will make its changes (services/platform/uow.py)."""
    if request.method not in SAFE_METHODS:
        begin_write_transaction()


def authenticate(*, defer_security: bool = False) -> Actor:
    """The calling actor, or DomainError UNAUTHORIZED. `defer_security` (a state-changing call whose unit
    of work confirms the security version in its own transaction, api/base.py `requires`): a bearer
    token's actor is taken from the process cache without reading the version first."""
    cached = g.get("mes_actor")
    if cached is not None:
        return cached
    token = _bearer_token()
    actor: Optional[Actor] = None
    if token is not None:
        if _is_api_key(token):
            user_id = actors.user_id_for_api_key(token)  # may run a slow scrypt check: not under the lock
            if user_id is None:
                raise DomainError("UNAUTHORIZED", "The API key is invalid, revoked or expired.")
            _begin_transaction()
            actor = actors.actor_for_user(user_id, via_api_key=True)
        else:
            claims = _access_claims(token)
            _begin_transaction()
            user_id = int(claims["sub"])
            cached = actors.cached_principal(user_id) if defer_security and request.method not in SAFE_METHODS \
                else None
            if cached is not None:
                version, principal = cached
                defer_security_check(PendingCheck(version, user_id))
            else:
                principal = actors.principal_for_user(user_id)
            if principal is not None and principal.password_tag != claims.get(actors.PASSWORD_TAG_CLAIM):
                confirm_deferred_security()  # a cached principal from before a password change: run again
                raise DomainError("UNAUTHORIZED", "The password was changed after this token was issued; "
                                  "log in again.")
            actor = principal.actor if principal else None
    elif "Authorization" in request.headers:
        raise DomainError("UNAUTHORIZED")  # a header that is no bearer credential: never the cookie
    elif session.get("_user_id") is not None:
        _begin_transaction()
        actor = _cached_session_actor() if defer_security and request.method not in SAFE_METHODS else None
        if actor is None and current_user.is_authenticated:
            actor = actors.actor_for_user(int(current_user.id))
    if actor is None:
        raise DomainError("UNAUTHORIZED")
    g.mes_actor = actor
    return actor


def _cached_session_actor() -> Optional[Actor]:
    """A console session's cached actor without loading the user (Flask-Login's loader reads the user row
    to compare session versions): the unit of work compares the session's version with the user's, and
    the security version, in its own transaction (PendingCheck). None when the process has no cached
    actor for the user or the session carries no version."""
    try:
        user_id = int(session["_user_id"])
    except (KeyError, TypeError, ValueError):
        return None
    cached = actors.cached_principal(user_id)
    session_version = session.get(actors.SESSION_VERSION_KEY)
    if cached is None or session_version is None:
        return None
    version, principal = cached
    defer_security_check(PendingCheck(version, user_id, session_version))
    return principal.actor


def ambient_actor_provider() -> Optional[Actor]:
    """The actor of the current request for audit hooks (None outside a request or when anonymous)."""
    if not has_request_context():
        return None
    cached = g.get("mes_actor")
    if cached is not None:
        return cached
    try:
        if g.get("_api_key_user") and g.get("user") is not None:
            return actors.actor_for_user(int(g.user.id), via_api_key=True)
        if current_user and current_user.is_authenticated:
            return actors.actor_for_user(int(current_user.id))
        from flask_jwt_extended import current_user as jwt_user
        if jwt_user:
            return actors.actor_for_user(int(jwt_user.id))
    except Exception:  # no credentials in this request
        return None
    return None


def enforce_api_credentials() -> None:
    """before_request for `/api`: with an Authorization header the caller is the bearer token or API
    key (checked by the endpoint) and never the session cookie, which this request then ignores;
    a header that is not `Bearer <something>` is refused here. Without one, a cookie-authenticated,
    state-changing call needs the CSRF token (header `X-CSRFToken`), exactly like console forms."""
    if not request.path.startswith("/api/"):
        return
    if "Authorization" in request.headers:
        if _bearer_token() is None:
            raise DomainError("UNAUTHORIZED", "Send `Authorization: Bearer <access token or API key>`, "
                              "or no Authorization header with the console's session.")
        g._login_user = current_app.login_manager.anonymous_user()  # Flask-Login: no cookie user
        return
    enforce_api_csrf()


def enforce_api_csrf() -> None:
    """Cookie-authenticated, state-changing API calls need the CSRF token (header `X-CSRFToken`); only
    called for a request without an Authorization header (enforce_api_credentials)."""
    if not request.path.startswith("/api/") or request.method in SAFE_METHODS:
        return
    if session.get("_user_id") is None:
        return
    try:
        csrf.protect()
    except CSRFError as exc:
        raise DomainError("CSRF_FAILED", f"CSRF check failed: {exc.description}") from None
