"""API conventions (spec 03_api): the `{"data": …}` / `{"error": {code, message, hint, details}}` envelopes
(`hint`: what to do next; the message, the hint and the services' sentences in `data` follow the request's
language, app/web/i18n.py `localized`: Accept-Language, cookie or `?_l_=`; `code` never changes), authentication and permission checks for domain endpoints, and the master-data ModelRestApi base.

Views and APIs stay thin: parse → call one service → respond. Every `/api` error, including the ones
Flask-AppBuilder and flask-jwt-extended produce themselves, leaves through `error_response`.
"""
from __future__ import annotations

import functools
import logging
import re
from typing import Any, Callable, Optional

from flask import g, jsonify, make_response, request
from flask_appbuilder.api import BaseApi, ModelRestApi
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ..extensions import db
from ..request_limits import ID_MAX
from ..security.auth import authenticate
from ..services.engineering import master_data
from ..services.platform import audit as audit_service
from ..services.platform.context import ambient_actor
from ..services.platform.errors import CATALOGUE, DomainError, StaleSecurity
from ..services.platform.uow import confirm_deferred_security, forget_deferred_security
from ..services.platform.inputs import field_details
from ..web.i18n import error_text, localized

log = logging.getLogger(__name__)


def error_response(code: str, message: str | None = None, details: dict | None = None,
                   status: int | None = None):
    entry = CATALOGUE[code]
    text, hint = error_text(code, message or entry.message)  # in the request's language (Accept-Language)
    body = {"error": {"code": code, "message": text, "hint": hint, "details": localized(details or {})}}
    response = make_response(jsonify(body), status or entry.status)
    g.mes_error_code = code
    return response


def domain_error_response(error: DomainError):
    return error_response(error.code, error.message, error.details,
                          error.http_status(request.view_args))


def ok(data: Any, status: int = 200, meta: dict | None = None):
    body: dict[str, Any] = {"data": localized(data)}  # the services' Messages in the request's language
    if meta is not None:
        body["meta"] = meta
    return make_response(jsonify(body), status)


def _validation_details(message: Any) -> dict:
    if isinstance(message, dict):
        return {"fields": message}
    return {"reason": str(message)} if message else {}


_URL_PARAM = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_OPENAPI_METHODS = ("get", "post", "put", "patch", "delete")


def complete_openapi_paths(api, api_spec) -> None:
    """Every route of `api` in the OpenAPI document: an operation whose docstring has no YAML gets a
    minimal one, and every operation declares each of its path parameters (integer for `<int:…>`)."""
    tag = api.openapi_spec_tag or api.__class__.__name__
    for attr_name in dir(api):
        func = getattr(api, attr_name, None)
        urls = getattr(func, "_urls", None)
        if not urls or attr_name in api.exclude_route_methods or (
                api.include_route_methods is not None and attr_name not in api.include_route_methods):
            continue
        for url, methods in urls:
            path = api.path_helper(path=url, operations={})
            params = [{"in": "path", "name": m["name"], "required": True,
                       "schema": {"type": "integer", "minimum": 0} if m["converter"] == "int" else {"type": "string"}}
                      for m in _URL_PARAM.finditer(url)]
            entry = api_spec._paths.setdefault(path, {})
            for method in methods:
                method = method.lower()
                if method not in _OPENAPI_METHODS:
                    continue
                operation = entry.setdefault(method, {
                    "summary": (func.__doc__ or attr_name).strip().splitlines()[0],
                    "responses": {"200": {"description": "`{data: …}`"}}, "tags": [tag]})
                declared = operation.setdefault("parameters", [])
                names = {p.get("name") for p in declared if isinstance(p, dict) and p.get("in") == "path"}
                declared.extend(p for p in params if p["name"] not in names)


class EnvelopeResponses:
    """Flask-AppBuilder's response helpers, answering in our error envelope; the API's routes all in
    the OpenAPI document with their path parameters."""

    def add_api_spec(self, api_spec) -> None:
        super().add_api_spec(api_spec)
        complete_openapi_paths(self, api_spec)

    def response_400(self, message: Any = None):
        return error_response("VALIDATION_ERROR", "The request is not valid.", _validation_details(message))

    def response_422(self, message: Any = None):
        return error_response("VALIDATION_ERROR", "The request is not valid.", _validation_details(message))

    def response_401(self):
        return error_response(getattr(g, "login_error_code", None) or "UNAUTHORIZED")

    def response_403(self):
        return error_response("FORBIDDEN")

    def response_404(self):
        return error_response("NOT_FOUND", "No such record.")

    def response_500(self, message: Any = None):
        return error_response("INTERNAL_ERROR")


def load_json(schema: Schema, *, partial: bool = False, unknown=RAISE) -> dict:
    """Parse the JSON body with a marshmallow schema; a malformed body or unknown keys →
    VALIDATION_ERROR 422 listing the fields."""
    try:
        # no body at all (e.g. `POST …/readiness/check`): every field takes its default; werkzeug would
        # answer 415 for the missing JSON content type, which is not a BadRequest
        payload = request.get_json(force=False, silent=False) if request.get_data(cache=True) else None
    except (BadRequest, UnsupportedMediaType):
        raise DomainError("VALIDATION_ERROR", "The body is not valid JSON.", {"reason": "malformed JSON"}) from None
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise DomainError("VALIDATION_ERROR", "The body must be a JSON object.")
    try:
        return schema.load(payload, partial=partial, unknown=unknown)
    except ValidationError as err:
        raise DomainError("VALIDATION_ERROR", "Some fields are not valid.", field_details(err.messages)) from None


def requires(*permissions: str, any_of: bool = False, deferred_security: bool = False) -> Callable:
    """Authenticate (API key, JWT or session cookie + CSRF) and check domain permissions with the
    cached permission set; DomainErrors and crashes become envelopes. `any_of`: one is enough.
    `deferred_security` (the TrackIn/TrackOut hot path, whose use case runs in one unit of work): the
    cached actor of a bearer token is confirmed by the unit of work in its own transaction instead of a
    read of the security version first (services/platform/uow.py); when the version changed in between,
    nothing was done and the call is authenticated and run once more."""

    def decorator(f: Callable) -> Callable:
        def call(self, args, kwargs, defer: bool):
            actor = authenticate(defer_security=defer)
            try:
                checks = [actor.can(p) for p in permissions]
                allowed = any(checks) if any_of else all(checks)
                if permissions and not allowed:
                    raise DomainError("FORBIDDEN", "You do not have the permission "
                                      + (" or ".join(permissions) if any_of else ", ".join(permissions)) + ".")
                answer = f(self, *args, actor=actor, **kwargs)
            except DomainError:
                confirm_deferred_security()  # refused by a stale actor: StaleSecurity, run again below
                raise
            confirm_deferred_security()  # a unit of work confirmed it before committing; else it is read now
            return answer

        @functools.wraps(f)
        def wrapper(self, *args, **kwargs):
            try:
                try:
                    return call(self, args, kwargs, deferred_security)
                except StaleSecurity:
                    db.session.rollback()
                    g.pop("mes_actor", None)
                    return call(self, args, kwargs, False)
            except DomainError as error:
                return domain_error_response(error)
            except Exception:  # never a stack trace to the client
                log.exception("unhandled error in %s", request.path)
                db.session.rollback()
                return error_response("INTERNAL_ERROR")
            finally:
                forget_deferred_security()

        wrapper._mes_permissions = permissions  # read by the generated permission matrix (tests/api)
        wrapper._mes_any_of = any_of
        return wrapper

    return decorator


class MesBaseApi(EnvelopeResponses, BaseApi):
    """Base of domain APIs (routes under /api/v1/...)."""

    version = "v1"
    csrf_exempt = True  # CSRF is enforced for cookie-authenticated calls in app/security/auth.py


READ_WRITE_METHODS = {
    "get": "read", "get_list": "read", "info": "read",
    "post": "write", "put": "write", "delete": "write",
}


class MesModelRestApi(EnvelopeResponses, ModelRestApi):
    """Master-data REST API: FAB's ModelRestApi, permission-checked with the resource's shared
    read/write pair, validated by the master-data service (never a 500 or raw SQL), audited by the
    session hook."""

    version = "v1"
    allow_browser_login = True
    method_permission_name = READ_WRITE_METHODS
    page_size = 50

    def pre_add(self, item) -> None:
        master_data.validate_save(item, is_new=True)

    def pre_update(self, item) -> None:
        master_data.validate_save(item, is_new=False)

    def pre_delete(self, item) -> None:
        master_data.validate_delete(item)

    def _guarded(self, action: str, item_key: Optional[str], call: Callable[[], Any]):
        try:
            return call()
        except DomainError as error:
            db.session.rollback()
            audit_service.record_failure(ambient_actor(), action, self.audit_entity, item_key, error)
            return domain_error_response(error)
        except SQLAlchemyError:  # a write outside the data interface (web/interface.py): never its SQL
            log.exception("master-data %s refused by the database", action)
            db.session.rollback()
            return error_response("MASTER_DATA_CONFLICT")

    @property
    def audit_entity(self) -> str:
        return master_data.entity_name(self.datamodel.obj)

    def _body_problem(self):
        """The answer to a body Flask-AppBuilder cannot take (it would crash on it): not JSON, not an
        object, or a relation given as anything but a record id. None when the body is fine."""
        if not request.is_json:
            return error_response("VALIDATION_ERROR", "The body must be JSON (Content-Type: application/json).",
                                  {"reason": "not JSON"}, status=415)
        body = request.get_json(silent=True)
        if body is None and request.get_data(cache=True).strip() not in (b"", b"null"):
            return error_response("VALIDATION_ERROR", "The body is not valid JSON.", {"reason": "malformed JSON"})
        if not isinstance(body, dict):
            return error_response("VALIDATION_ERROR", "The body must be a JSON object.", {"reason": "not an object"})
        bad = {name: ["Must be the id (a whole number) of the related record, or null."]
               for name, value in body.items()
               if isinstance(name, str) and self.datamodel.is_relation(name) and value is not None
               and not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= ID_MAX)}
        if bad:
            return error_response("VALIDATION_ERROR", "Some fields are not valid.", {"fields": bad})
        return None

    @staticmethod
    def _known_pk(pk) -> bool:
        """A path key that can name a record: digits within an INTEGER id (others match nothing: 404)."""
        return isinstance(pk, int) or (isinstance(pk, str) and pk.isascii() and pk.isdigit()
                                       and int(pk) <= ID_MAX)

    def post_headless(self):
        problem = self._body_problem()
        if problem is not None:
            return problem
        body = request.get_json(silent=True)
        key = body.get("code") if isinstance(body, dict) else None
        return self._guarded(f"{self.audit_entity}_CREATE", key, super().post_headless)

    def put_headless(self, pk):
        if not self._known_pk(pk):
            return self.response_404()
        problem = self._body_problem()
        if problem is not None:
            return problem
        return self._guarded(f"{self.audit_entity}_UPDATE", str(pk), lambda: super(MesModelRestApi, self).put_headless(pk))

    def delete_headless(self, pk):
        if not self._known_pk(pk):
            return self.response_404()
        return self._guarded(f"{self.audit_entity}_DELETE", str(pk), lambda: super(MesModelRestApi, self).delete_headless(pk))


__all__ = ["MesBaseApi", "MesModelRestApi", "requires", "ok", "error_response", "load_json",
           "domain_error_response", "EXCLUDE", "RAISE"]
