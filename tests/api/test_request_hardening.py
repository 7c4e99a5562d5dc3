"""Issue 15, the reproducers found by fuzzing: every /api answer in the error envelope whatever fails
(Flask-AppBuilder's own APIs and responses, werkzeug, the request limits), and no server error for
huge numbers, bodies that are not objects, relations given as objects, bad text, deep JSON or NUL
in a path. Each test asserts the status, the error code and that nothing was written."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Product, Station, WorkOrder

HUGE = "99999999999999999999"


def error_code(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint", "details"}, body
    return body["error"]["code"]


@pytest.fixture
def snapshot(app):
    """Row counts (and the first product) before and after: `snapshot()` twice must be equal (audit
    events aside: the helpers' logins record theirs)."""
    def take():
        with app.app_context():
            product = db.session.get(Product, 1)
            state = (db.session.scalar(select(func.count()).select_from(Product)),
                     db.session.scalar(select(func.count()).select_from(Station)),
                     db.session.scalar(select(func.count()).select_from(WorkOrder)),
                     product.code, product.name, product.description, product.is_active)
            db.session.remove()
            return state
    return take


# --- answers Flask-AppBuilder produced outside the envelope ------------------------------------

def test_master_data_put_with_a_non_json_content_type_is_an_envelope(api, snapshot):
    before = snapshot()
    response = api("engineer").put("/api/v1/products/1", data='{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert error_code(response, 415) == "VALIDATION_ERROR"
    assert snapshot() == before


def test_fab_menu_api_refusal_is_an_envelope(api):
    assert error_code(api("operator").get("/api/v1/menu/"), 403) == "FORBIDDEN"


def test_unknown_api_version_and_paths_are_envelopes(api):
    assert error_code(api("admin").get("/api/v2/_openapi"), 404) == "NOT_FOUND"
    assert error_code(api("admin").get("/api/v2/products/"), 404) == "NOT_FOUND"
    assert error_code(api("admin").get("/api/nothing"), 404) == "NOT_FOUND"
    assert error_code(api("admin").delete("/api/v1/runs"), 405) == "METHOD_NOT_ALLOWED"


# --- request limits ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/security/login", "/api/v1/products/", "/api/v1/work-orders/WO-X/release",
                                  "/api/v1/stations/ST-PRINT-01/track-in"])
def test_deeply_nested_json_is_json_too_deep_on_every_post(api, client, snapshot, path):
    before = snapshot()
    for deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000, "[" * 40 + "]" * 40):
        caller = client if path.endswith("login") else api("admin")
        response = caller.post(path, data=deep, headers={"Content-Type": "application/json"})
        assert error_code(response, 400) == "JSON_TOO_DEEP"
    assert snapshot() == before


def test_a_body_above_the_size_limit_is_request_too_large(app, api, snapshot):
    before = snapshot()
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = api("admin").post("/api/v1/products/", data=b"{" + b" " * limit + b"}",
                                 headers={"Content-Type": "application/json"})
    assert error_code(response, 413) == "REQUEST_TOO_LARGE"
    assert snapshot() == before


def test_an_address_above_the_url_limit_is_uri_too_long(app, api, client):
    q = "x" * app.config["MES_MAX_URL_LENGTH"]
    assert error_code(api("admin").get(f"/api/v1/runs?q={q}"), 414) == "URI_TOO_LONG"
    page = client.get(f"/login/?q={q}")
    assert page.status_code == 414 and page.mimetype == "text/html"


# --- huge integers ------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("get", f"/api/v1/stations/{HUGE}"), ("put", f"/api/v1/stations/{HUGE}"), ("delete", f"/api/v1/stations/{HUGE}"),
    ("put", "/api/v1/stations/abc"), ("delete", "/api/v1/products/-1"),
    ("get", f"/api/v1/stations/{2**31}"), ("delete", "/api/v1/products/29428064467205"),
    ("post", f"/api/v1/defects/{HUGE}/release"), ("get", f"/api/v1/inspections/{HUGE}"),
    ("get", f"/api/v1/routings/RT-P1001-SMT/versions/{HUGE}"),
])
def test_huge_or_non_numeric_ids_in_the_path_are_not_found(api, snapshot, method, path):
    before = snapshot()
    response = getattr(api("admin"), method)(path, json={"name": "x"} if method in ("put", "post") else None)
    assert error_code(response, 404) == "NOT_FOUND"
    assert snapshot() == before


@pytest.mark.parametrize("query", [f"page={HUGE}", f"page=1&pageSize={HUGE}0"])
def test_huge_page_numbers_are_refused_or_capped(api, query):
    response = api("admin").get(f"/api/v1/runs?{query}")
    if "pageSize" in query:
        assert response.status_code == 200 and response.get_json()["meta"]["pageSize"] == 500
    else:
        assert error_code(response, 422) == "VALIDATION_ERROR"


@pytest.mark.parametrize("q", [f"(page:{HUGE})", f"(page:0,page_size:{HUGE})",
                               f"(filters:!((col:id,opr:eq,value:{HUGE})))", "5", "garbage(", "!(",
                               "(page:-5,page_size:10)", "(page:0,page_size:-1)", '{"page": -2061}',
                               '{"page": 1, "page_size": %s}' % HUGE])
def test_fab_q_with_huge_numbers_or_garbage_is_a_validation_error(api, q):
    assert error_code(api("admin").get("/api/v1/stations/", query_string={"q": q}), 422) == "VALIDATION_ERROR"


@pytest.mark.parametrize("path", ["/api/v1/lines/1", "/api/v1/lines/"])
def test_fab_q_with_a_number_cut_short_is_a_validation_error(api, path):
    """Found by a larger fuzz run: `?q=1.7976931348623157e+308` (the `+` arrives as a space) broke FAB's
    rison parser with a ValueError it does not catch — a 500."""
    response = api("admin").get(f"{path}?q=1.7976931348623157e+308")
    assert error_code(response, 422) == "VALIDATION_ERROR"
    assert response.get_json()["error"]["details"]["fields"] == {"q": "not a valid rison value"}


def test_q_of_our_own_apis_is_search_text_not_rison(api):
    """The rison checks are FAB's model APIs' only: a search text that looks like a huge number or broken
    rison is just text to the work-order list."""
    for text in (HUGE, "garbage(", "1e 5"):
        response = api("planner").get("/api/v1/work-orders", query_string={"q": text})
        assert response.status_code == 200 and response.get_json()["data"] == [], (text, response.get_json())


# --- bodies FAB cannot take -------------------------------------------------------------------

@pytest.mark.parametrize("body", ["null", "[null]", '"x"', "[]", "1"])
@pytest.mark.parametrize("method,path", [("put", "/api/v1/products/1"), ("post", "/api/v1/products/")])
def test_master_data_bodies_that_are_not_objects_are_refused(api, snapshot, body, method, path):
    before = snapshot()
    response = getattr(api("admin"), method)(path, data=body, headers={"Content-Type": "application/json"})
    assert error_code(response, 422) == "VALIDATION_ERROR"
    assert response.get_json()["error"]["details"] == {"reason": "not an object"}
    assert snapshot() == before


@pytest.mark.parametrize("line", [{"a": 1}, {"id": 1}, [1], "LINE-SMT-A", True, -1, 1.5, 2**31, int(HUGE)])
def test_a_relation_given_as_anything_but_an_id_is_refused(api, snapshot, line):
    before = snapshot()
    response = api("admin").post("/api/v1/stations/", json={
        "code": "ST-FUZZ", "name": "fuzz", "line": line, "station_type": "SMT_PRINT"})
    assert error_code(response, 422) == "VALIDATION_ERROR"
    assert snapshot() == before


def test_a_relation_given_as_an_object_is_refused_on_update_too(api, snapshot):
    before = snapshot()
    response = api("admin").put("/api/v1/stations/1", json={"line": {"a": 1}})
    assert error_code(response, 422) == "VALIDATION_ERROR"
    assert "line" in response.get_json()["error"]["details"]["fields"]
    assert snapshot() == before


# --- text -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,raw", [
    ("post", "/api/v1/products/", '{"code": "P-\\ud800", "name": "x", "process_type": "SMT"}'),
    ("put", "/api/v1/products/1", '{"name": "\\udfff"}'),
    ("post", "/api/v1/products/", '{"code": "P-NUL\\u0000", "name": "x", "process_type": "SMT"}'),
    ("post", "/api/v1/stations/ST-PRINT-01/track-in", '{"sn": "\\ud800", "runNo": "R-1"}'),
    ("post", "/api/v1/work-orders/WO-X/runs", '{"\\ud800": 1}'),
    ("post", "/api/v1/security/login", '{"username": "\\ud800", "password": "x", "provider": "db"}'),
])
def test_lone_surrogates_and_nul_in_json_are_invalid_text(api, snapshot, method, path, raw):
    before = snapshot()
    response = getattr(api("admin"), method)(path, data=raw, headers={"Content-Type": "application/json"})
    assert error_code(response, 400) == "INVALID_TEXT"
    assert snapshot() == before


def test_nul_in_the_query_is_invalid_text(api):
    assert error_code(api("admin").get("/api/v1/runs?q=%00"), 400) == "INVALID_TEXT"


def test_nul_in_a_path_is_not_found(api, client):
    assert error_code(api("admin").get("/api/v1/runs/%00"), 404) == "NOT_FOUND"
    from support import console_login
    console_login(client, "engineer")
    page = client.get("/help/%00")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "embedded null byte" not in page.get_data(as_text=True)


def test_a_legitimate_nested_body_still_passes_the_depth_limit(api):
    """The routing body (steps, execution config with data specs) is well within the limit."""
    body = {"code": "R-DEEP-OK", "name": "deep", "processType": "SMT", "productCode": "P-1001",
            "steps": [{"stepNo": 10, "operationCode": "PRINTING", "stationType": "MANUAL",
                       "stationGroupCode": "SMT-A-PRINT"}],
            "executionConfig": [{"scope": "ROUTE", "dataSpecs": []}]}
    created = api("admin").post("/api/v1/routings", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)


# --- OpenAPI ----------------------------------------------------------------------------------

def test_the_openapi_document_describes_every_api_route_with_its_path_parameters(app, api):
    doc = api("admin").get("/api/v1/_openapi").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = doc["paths"].get(path, {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {path}: not in the document")
                continue
            declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "path"}
            for name in rule.arguments:
                if name not in declared:
                    missing.append(f"{method} {path}: path parameter {name} not declared")
                elif isinstance(rule._converters.get(name), type(app.url_map.converters["int"](app.url_map))):
                    assert declared[name]["schema"]["type"] == "integer", (path, name)
    assert missing == []
    assert "/api/v1/routings/{routing_code}/versions/{version_no}" in doc["paths"]


def test_gunicorn_hands_long_request_lines_to_the_app(server_factory):
    """gunicorn's own limit (8190, its maximum) lies above the app's: a 6,000-byte address gets the
    envelope, not gunicorn's HTML page (which was answered above 4094 bytes)."""
    import urllib.error
    import urllib.request
    server = server_factory()
    try:
        urllib.request.urlopen(f"{server.url}/api/v1/runs?q={'x' * 6000}", timeout=10)
        raise AssertionError("a 6,000-byte address was accepted")
    except urllib.error.HTTPError as refused:
        assert refused.code == 414
        assert refused.headers["Content-Type"].startswith("application/json")
        import json
        assert json.loads(refused.read())["error"]["code"] == "URI_TOO_LONG"


def test_gunicorn_refuses_in_the_envelope(server_factory):
    """What gunicorn refuses itself, before the app — a request line over its 8,190-byte maximum, a
    request that is not HTTP — is answered in the API's envelope, not gunicorn's HTML page."""
    import json
    import socket
    from urllib.parse import urlsplit
    server = server_factory()
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port

    def raw(request: bytes) -> tuple[int, dict, dict]:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), headers, json.loads(body)

    status, headers, body = raw(f"GET /api/v1/runs?q={'x' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 414 and headers["Content-Type"] == "application/json"
    assert body["error"]["code"] == "URI_TOO_LONG" and body["error"]["message"]
    status, headers, body = raw(b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_nul_in_a_console_filter_is_refused_not_a_server_error(client):
    """`?q=%00` on a console list (PostgreSQL refuses NUL in text) is answered 400, not 500."""
    from support import console_login
    console_login(client, "planner")
    assert client.get("/work-orders/?q=A%00B").status_code == 400
    assert client.get("/work-orders/?q=AB").status_code == 200
