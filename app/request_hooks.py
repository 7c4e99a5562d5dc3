"""Per-request plumbing: request id in and out, client address, access log line, credentials and
CSRF for API calls, a guard against pathological rison queries, the write lock taken first by
Flask-AppBuilder's CRUD writes, and the rate limiter kept to the requests that carry limits."""
from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
import uuid

import prison
from flask import Flask, g, request, session

from .security.actors import REQUEST_VERSION_KEY
from .security.auth import SAFE_METHODS, enforce_api_credentials
from .services.platform.context import client_ip_var, request_id_var
from .services.platform.errors import DomainError
from .services.platform.uow import begin_write_transaction

access_log = logging.getLogger("mes.access")
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def register_request_hooks(app: Flask) -> None:
    _skip_rate_limiter_for_domain_apis(app)
    _write_lock_first_for_crud(app)

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _RID_OK.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
        g.pop(REQUEST_VERSION_KEY, None)  # security/actors.request_security_version: read once per request
        g.request_started = time.perf_counter()
        g.rid_token = request_id_var.set(rid)
        g.ip_token = client_ip_var.set(request.remote_addr)

    @app.before_request
    def _api_guards():
        if not request.path.startswith("/api/"):
            return
        q = request.args.get("q")
        if q and _is_model_api(request.endpoint):  # FAB's rison `q` (our own APIs take `q` as search text)
            try:
                value = prison.loads(q)
            except RecursionError:
                raise DomainError("VALIDATION_ERROR", "The query parameter q is nested too deeply.",
                                  {"fields": {"q": "not a valid rison value"}}) from None
            except Exception:
                try:  # FAB takes JSON in q as well, unquoted once more (FAB_API_ALLOW_JSON_QS)
                    value = json.loads(urllib.parse.parse_qs(f"q={q}")["q"][0])
                except Exception:
                    # FAB answers rison syntax errors itself but fails on others (a number cut short,
                    # `1e` where a URL's `+` became a space: ValueError)
                    raise DomainError("VALIDATION_ERROR", "The query parameter q is not a valid rison value.",
                                      {"fields": {"q": "not a valid rison value"}}) from None
            if _has_huge_number(value):  # a page or filter value no database column takes (OverflowError)
                raise DomainError("VALIDATION_ERROR", "A number in the query parameter q is too large.",
                                  {"fields": {"q": f"numbers must lie within ±{_Q_NUMBER_MAX}"}})
            if isinstance(value, dict) and any(
                    isinstance(value.get(key), (int, float)) and value[key] < 0 for key in ("page", "page_size")):
                # a negative OFFSET/LIMIT, which PostgreSQL refuses
                raise DomainError("VALIDATION_ERROR", "page and page_size in q cannot be negative.",
                                  {"fields": {"q": "page ≥ 0, page_size ≥ 0"}})
        enforce_api_credentials()

    @app.after_request
    def _finish(response):
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        started = g.get("request_started")
        if started is not None and not request.path.startswith("/static/"):
            actor = g.get("mes_actor")
            user = actor.username if actor else None
            if user is None:
                current = g.get("user")
                user = getattr(current, "username", None) if current is not None else None
            access_log.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={"method": request.method, "path": request.path, "status": response.status_code,
                       "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                       "user": user, "error_code": g.get("mes_error_code"), "ip": request.remote_addr},
            )
        return response

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("rid_token", None)
        if token is not None:
            request_id_var.reset(token)
        token = g.pop("ip_token", None)
        if token is not None:
            client_ip_var.reset(token)


_Q_NUMBER_MAX = 2**53  # page × page size (≤ FAB_API_MAX_PAGE_SIZE) stays inside a 64-bit offset


def _is_model_api(endpoint: str | None) -> bool:
    """The request goes to a Flask-AppBuilder model API (master data: rison `q`)."""
    from flask import current_app
    from flask_appbuilder.api import ModelRestApi
    view = current_app.view_functions.get(endpoint or "")
    return isinstance(getattr(view, "__self__", None), ModelRestApi)


def _has_huge_number(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and not abs(item) <= _Q_NUMBER_MAX:
            return True
    return False


def _skip_rate_limiter_for_domain_apis(app: Flask) -> None:
    """Only the logins carry rate limits (FAB's login page and the security API), yet Flask-Limiter
    does its per-request work for every request, a measurable share of a TrackIn. Requests to our
    domain APIs (MesBaseApi, none of which has a limit) skip it; a domain API given a limit would
    have to be left out of this set."""
    from .api.base import MesBaseApi

    domain_apis = frozenset(view.blueprint.name for view in app.appbuilder.baseviews
                            if isinstance(view, MesBaseApi))
    app.appbuilder.sm.limiter.request_filter(lambda: request.blueprint in domain_apis)


def _write_lock_first_for_crud(app: Flask) -> None:
    """Flask-AppBuilder's CRUD screens and model APIs (master data, users, roles) read (the user, the
    permissions, the uniqueness checks) and then write through `SQLAInterface`, which commits on its
    own. On SQLite in WAL mode a read transaction cannot become a writer once another writer has
    committed: parallel creates failed with "database is locked" at once, busy timeout or not. A
    state-changing request to one of them therefore opens its write transaction before anything else
    (BEGIN IMMEDIATE, services/platform/uow.py), exactly as the domain endpoints do when they
    authenticate: concurrent writers queue on the busy timeout instead of failing. (The domain APIs
    keep doing it themselves, after the API-key check, which is slow and needs no lock.) FAB's
    ModelView also deletes on GET `/delete/<pk>`; the password forms (own and an admin's reset) bump
    the user's session version.

    Only for a caller with credentials (a session cookie or an Authorization header: anonymous writes
    are refused by the view without the lock), and only once the whole body is in: the lock is never
    held while a client is still sending (a slow body would otherwise stall every writer)."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.api import ModelRestApi
    from flask_appbuilder.security.views import ResetMyPasswordView, ResetPasswordView

    crud = frozenset(view.blueprint.name for view in app.appbuilder.baseviews
                     if isinstance(view, (ModelView, ModelRestApi, ResetMyPasswordView, ResetPasswordView))
                     and view.blueprint is not None)

    @app.before_request
    def _crud_write_lock():
        if request.blueprint not in crud:
            return
        if request.method not in SAFE_METHODS or (request.endpoint or "").endswith(".delete"):
            if "Authorization" not in request.headers and session.get("_user_id") is None:
                return
            request.get_data(parse_form_data=True)  # read (bounded by MAX_CONTENT_LENGTH) before locking
            begin_write_transaction()
