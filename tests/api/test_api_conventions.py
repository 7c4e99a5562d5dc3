"""API conventions: error envelopes for errors Flask, FAB and flask-jwt-extended produce themselves,
CSRF for cookie-authenticated calls, request ids, health and readiness, OpenAPI."""
import json
import logging


from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Product
from support import console_login, count, csrf_from


def test_unknown_api_path_and_method_are_envelopes(api):
    missing = api("engineer").get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "NOT_FOUND"
    wrong_method = api("engineer").patch("/api/v1/audit-events")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    missing_row = api("engineer").get("/api/v1/products/999999")
    assert missing_row.status_code == 404 and missing_row.get_json()["error"]["code"] == "NOT_FOUND"


def test_cookie_authenticated_api_writes_need_the_csrf_token(client, app):
    console_login(client, "engineer")
    refused = client.post("/api/v1/products/", json={"code": "P-CK1", "name": "x", "process_type": "SMT"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "CSRF_FAILED"
    token = csrf_from(client.get("/").get_data(as_text=True))
    accepted = client.post("/api/v1/products/", json={"code": "P-CK1", "name": "x", "process_type": "SMT"},
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    reads = client.get("/api/v1/audit-events")  # reads need no token
    assert reads.status_code == 200
    with app.app_context():
        assert count(Product, Product.code == "P-CK1") == 1


def test_token_clients_are_not_subject_to_csrf(api):
    created = api("engineer").post("/api/v1/products/", json={"code": "P-TK1", "name": "x", "process_type": "SMT"})
    assert created.status_code == 201


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    hostile = client.get("/health", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert hostile.headers["X-Request-ID"] != "<script>" + "x" * 100
    assert len(hostile.headers["X-Request-ID"]) == 32


def test_access_log_is_one_json_line_with_the_request_fields(app, api, capsys):
    from app.logging_setup import JsonFormatter
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    records = []
    handler.emit = lambda record: records.append(handler.format(record))
    logger = logging.getLogger("mes.access")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        api("engineer").post("/api/v1/products/", json={"code": "P-1001", "name": "dup", "process_type": "SMT"},
                             headers={"X-Request-ID": "log-test-1"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    entry = json.loads(records[-1])
    assert entry["request_id"] == "log-test-1" and entry["status"] == 409
    assert entry["user"] == "engineer" and entry["method"] == "POST" and entry["path"] == "/api/v1/products/"
    assert entry["error_code"] == "PRODUCT_CODE_DUPLICATE" and entry["duration_ms"] >= 0


def test_ready_is_503_on_a_database_that_is_not_migrated(tmp_path):
    from app import create_app
    from support import SECRET_KEY
    empty = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}", "SECRET_KEY": SECRET_KEY})
    response = empty.test_client().get("/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_internal_errors_never_leak_a_stack_trace(fresh_db):
    from app import create_app
    from support import app_overrides
    crashing = create_app(app_overrides(fresh_db.url))

    @crashing.get("/api/v1/crash")
    def crash():
        raise ZeroDivisionError("secret detail")

    @crashing.get("/crash")
    def crash_page():
        raise ZeroDivisionError("secret detail")

    client = crashing.test_client()
    api_response = client.get("/api/v1/crash")
    assert api_response.status_code == 500
    assert api_response.get_json()["error"]["code"] == "INTERNAL_ERROR"
    assert "secret detail" not in api_response.get_data(as_text=True)
    page = client.get("/crash")
    assert page.status_code == 500 and "secret detail" not in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


def test_openapi_documents_the_apis_and_swagger_is_served_locally(client, api):
    spec = api("engineer").get("/api/v1/_openapi")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    assert "/api/v1/audit-events" in paths and "/api/v1/products/" in paths
    console_login(client, "engineer")
    swagger = client.get("/swagger/v1").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in swagger and "https://" not in swagger.split("<body")[0]


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(fresh_db):
    from app import create_app
    from support import app_overrides
    proxied = create_app({**app_overrides(fresh_db.url), "MES_PROXY_COUNT": 1})
    client = proxied.test_client()
    client.post("/api/v1/security/login", json={"username": "nobody", "password": "x", "provider": "db"},
                headers={"X-Forwarded-For": "10.1.2.3"})
    with proxied.app_context():
        ip = db.session.execute(select(AuditEvent.ip).where(AuditEvent.entity_key == "nobody")).scalar_one()
        assert ip == "10.1.2.3"


def test_the_sqlite_folder_is_created(tmp_path):
    from app import create_app
    from support import SECRET_KEY
    target = tmp_path / "new" / "deeper" / "mes.db"
    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}", "SECRET_KEY": SECRET_KEY})
    assert target.parent.is_dir()
