"""The permission matrix, generated from the permission catalogue (app/security/permissions.py): every
REST endpoint × the preset roles (the spec's nine and the Board device role). A role the catalogue
does not grant the endpoint's permission gets 403 FORBIDDEN and nothing is written; a role it grants gets past the check (to a validation
error, an unknown resource or an answer — never 401, 403 or 500). Domain endpoints declare their
permissions with `requires`; master-data endpoints with their resource's read/write pair."""
import re

import pytest

from app.models import AuditEvent
from app.security.permissions import PERMISSIONS, RESOURCES, ROLE_LETTERS
from support import count

ROLES = {"admin": "Admin", "planner": "Planner", "engineer": "Engineer", "quality": "Quality", "leader": "Leader",
         "material": "Material", "operator": "Operator", "manager": "Manager", "integration": "Integration",
         "board": "Board"}
# /api endpoints that check no MES permission, and why
OPEN_ENDPOINTS = {
    "OpenApi.get": "the OpenAPI document (FAB: any signed-in client)",
    "MenuApi.get_menu_data": "the menu of the signed-in user (FAB)",
    "MesSecurityApi.login": "sign-in",
    "MesSecurityApi.refresh": "token refresh",
}
PREFIX_OF = {resource: prefix for prefix, resource in RESOURCES.items()}


def granted(role: str) -> set[str] | None:
    """The domain permissions of a preset role by the catalogue (None: every one, the Admin)."""
    if role == "Admin":
        return None
    letter = next(k for k, v in ROLE_LETTERS.items() if v == role)
    return {p.name for p in PERMISSIONS if letter in p.roles}


def endpoints(app):
    """(method, path with placeholders filled, required permissions, any_of, endpoint) of every /api route."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        permissions, any_of = getattr(view, "_mes_permissions", None), getattr(view, "_mes_any_of", False)
        if permissions is None and rule.endpoint not in OPEN_ENDPOINTS:
            api = getattr(view, "__self__", None)
            method_name = rule.endpoint.split(".", 1)[1]
            assert api is not None and type(api).__mro__[1].__name__ == "MesModelRestApi", (
                f"{rule.rule} ({rule.endpoint}) checks no permission: decorate it with `requires`")
            action = api.method_permission_name[method_name]
            permissions = (f"{PREFIX_OF[api.class_permission_name]}:{action}",)
        if permissions is None:
            continue
        path = re.sub(r"<int:[^>]+>", "999999", rule.rule)
        path = re.sub(r"<[^>]+>", "ZZ-NONE", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, tuple(permissions), any_of, rule.endpoint))
    return sorted(out)


def test_every_endpoint_is_in_the_matrix(app):
    found = endpoints(app)
    assert len(found) >= 120, len(found)  # 69 domain + 60 master-data endpoints when this was written
    domain = [e for e in found if "Api." in e[4] and not e[2][0].endswith((":read", ":write"))]
    assert domain, "no domain endpoint found"


@pytest.mark.parametrize("user", sorted(ROLES))
def test_each_role_reaches_exactly_what_the_catalogue_grants(api, app, user):
    caller = api(user)
    permissions = granted(ROLES[user])
    with app.app_context():
        audited = count(AuditEvent, AuditEvent.status == "SUCCESS")
    wrong = []
    for method, path, required, any_of, endpoint in endpoints(app):
        if permissions is None:
            allowed = True
        else:
            checks = [p in permissions for p in required]
            allowed = any(checks) if any_of else all(checks)
        kwargs = {} if method == "GET" else {"json": {}}
        response = getattr(caller, method.lower())(path, **kwargs)
        body = response.get_json(silent=True) or {}
        code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
        if allowed and response.status_code in (401, 403, 500):
            wrong.append(f"{method} {path} ({endpoint}) needs {required}: allowed, got {response.status_code} {code}")
        if not allowed and (response.status_code, code) != (403, "FORBIDDEN"):
            wrong.append(f"{method} {path} ({endpoint}) needs {required}: refused, got {response.status_code} {code}")
    assert wrong == []
    with app.app_context():
        assert count(AuditEvent, AuditEvent.status == "SUCCESS") == audited
