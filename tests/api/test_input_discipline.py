"""The one input discipline (services/platform/inputs.py): business keys, free text, numbers and event
times, refused alike by the domain API's schemas, the master-data API, the console and the import, with
VALIDATION_ERROR naming each field and its input code; nothing is stored. And the latest stencil status
by event time is never one dated far in the future."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Defect, Product, StencilStatus, WorkOrder
from app.services.platform.clock import now
from support import console_login, csrf_from, ok_data


def _codes(response) -> dict:
    body = response.get_json()
    assert response.status_code == 422, body
    assert body["error"]["code"] == "VALIDATION_ERROR", body
    return body["error"]["details"].get("codes", {})


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


@pytest.mark.parametrize("code,expected", [
    ("A/B", "INPUT_INVALID_KEY"), ("P\x00X", "INVALID_TEXT"), ("P\tX", "INPUT_INVALID_KEY"),
    ("P X", "INPUT_INVALID_KEY"),
])
def test_master_data_api_refuses_bad_codes(api, app, code, expected):
    before = _count(app, Product)
    response = api("engineer").post("/api/v1/products/", json={"code": code, "name": "x", "process_type": "SMT"})
    if expected == "INVALID_TEXT":  # a NUL anywhere in a JSON body is refused before any field rule
        assert (response.status_code, response.get_json()["error"]["code"]) == (400, "INVALID_TEXT")
    else:
        assert _codes(response) == {"code": expected}
    assert _count(app, Product) == before


def test_whitespace_only_code_is_refused_and_surrounding_blanks_are_trimmed(api, app):
    assert "code" in _codes(api("engineer").post("/api/v1/products/", json={"code": "   ", "name": "x",
                                                                           "process_type": "SMT"}))
    created = api("engineer").post("/api/v1/products/", json={"code": " P-TRIM ", "name": "x", "process_type": "SMT"})
    assert created.status_code == 201 and _count(app, Product, Product.code == "P-TRIM") == 1


def test_master_data_texts_and_numbers_are_bounded(api, app):
    before = _count(app, Product)
    long_text = api("engineer").post("/api/v1/products/", json={"code": "P-LONG", "name": "x", "process_type": "SMT",
                                                               "description": "d" * 100_000})
    assert _codes(long_text) == {"description": "INPUT_TOO_LONG"}
    control = api("engineer").post("/api/v1/products/", json={"code": "P-CTL", "name": "a\x07b", "process_type": "SMT"})
    assert _codes(control) == {"name": "INPUT_INVALID_TEXT"}
    assert _count(app, Product) == before
    with app.app_context():
        pid = db.session.execute(select(Product.id).filter_by(code="P-1001")).scalar_one()
        from app.models import Material
        mid = db.session.execute(select(Material.id).filter_by(code="MAT-MCU")).scalar_one()
    huge = api("engineer").post("/api/v1/bom-items/", json={"product": pid, "material": mid, "qty_per": 1e308})
    assert _codes(huge)["qty_per"] == "INPUT_OUT_OF_RANGE"


def test_work_order_keys_and_quantities(api, app):
    path = "/api/v1/integration/work-orders"
    body = {"productCode": "P-1001", "plannedQty": 10}
    assert _codes(api("integration").post(path, json={**body, "woNo": "WO/1"})) == {"woNo": "INPUT_INVALID_KEY"}
    assert _codes(api("integration").post(path, json={**body, "woNo": "WO-BIG", "plannedQty": 10 ** 15})) == \
        {"plannedQty": "INPUT_OUT_OF_RANGE"}
    # beyond 64 bits the request-level check refuses the body before any field rule (no OverflowError)
    beyond = api("integration").post(path, json={**body, "woNo": "WO-BIG", "plannedQty": 10 ** 20})
    assert (beyond.status_code, beyond.get_json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert _count(app, WorkOrder, WorkOrder.wo_no.in_(["WO/1", "WO-BIG"])) == 0


def test_defect_description_is_bounded(api, app):
    before = _count(app, Defect)
    response = api("quality").post("/api/v1/defects", json={"sn": "X/Y", "code": "SOLDER_BRIDGE",
                                                            "description": "d" * 100_000})
    assert _codes(response) == {"sn": "INPUT_INVALID_KEY", "description": "INPUT_TOO_LONG"}
    assert _count(app, Defect) == before


@pytest.mark.parametrize("event_time", ["9999-12-31T00:00:00+00:00", "0001-01-01T00:00:00+00:00",
                                        "1900-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00"])
def test_stencil_event_times_outside_the_window_are_refused(api, app, event_time):
    before = _count(app, StencilStatus)
    response = api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": f"E-WIN-{event_time[:4]}", "eventTime": event_time, "stencilId": "STN-1001-A", "status": "READY"})
    assert _codes(response) == {"eventTime": "EVENT_TIME_OUT_OF_WINDOW"}
    assert _count(app, StencilStatus) == before


def test_stencil_tension_is_bounded(api, app):
    response = api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": "E-TENSION", "eventTime": now().isoformat(), "stencilId": "STN-1001-A", "status": "READY",
        "tension": 1e308})
    assert _codes(response) == {"tension": "INPUT_OUT_OF_RANGE"}
    assert _count(app, StencilStatus, StencilStatus.event_id == "E-TENSION") == 0


def test_a_far_future_status_stored_before_the_window_never_counts_as_the_latest(api, app):
    """A READY dated 9999-12-31 (stored before the window existed) does not outrank a later MAINTENANCE."""
    with app.app_context():
        from datetime import datetime, timezone
        db.session.add(StencilStatus(event_id="E-OLD-FUTURE", event_time=datetime(9999, 12, 31, tzinfo=timezone.utc),
                                     stencil_id="STN-1001-A", status="READY", source="AUTO"))
        db.session.commit()
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": "E-MAINT-NOW", "eventTime": now().isoformat(),
        "stencilId": "STN-1001-A", "status": "MAINTENANCE"}))
    with app.app_context():
        from app.services.preparation.readiness import _latest_stencil_status
        assert _latest_stencil_status("STN-1001-A").event_id == "E-MAINT-NOW"


def test_the_console_form_refuses_a_bad_code_on_its_field(client, app):
    console_login(client, "engineer")
    token = csrf_from(client.get("/products/add").get_data(as_text=True))
    page = client.post("/products/add", data={"code": "A/B", "name": "x", "process_type": "SMT", "is_active": "y",
                                              "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "INPUT_INVALID_KEY" in page and _count(app, Product, Product.code == "A/B") == 0


def test_the_import_refuses_bad_keys_row_by_row_with_the_same_codes(app_ctx):
    from app.services.engineering import master_import
    from app.services.platform.actor import SYSTEM
    content = ("Code,Name\nM-OK,Fine\nM/1,Slash\nM 2,Space\n" + "M" * 65 + ",Long\n").encode()
    report = master_import.import_file(actor=SYSTEM, filename="materials.csv", content=content)
    assert [(r.row, [(e.column, e.code) for e in r.errors]) for r in report.refused] == [
        (3, [("Code", "INPUT_INVALID_KEY")]), (4, [("Code", "INPUT_INVALID_KEY")]),
        (5, [("Code", "INPUT_TOO_LONG")])]
    assert not report.applied
    from app.models import Material
    assert db.session.execute(select(func.count()).select_from(Material)
                              .where(Material.code.in_(["M-OK", "M/1"]))).scalar_one() == 0


@pytest.mark.parametrize("user,path,body,field,code", [
    ("engineer", "/api/v1/data-collection-specs",
     {"operationCode": "PRINT", "name": "paste_height", "itemType": "MEASUREMENT", "dataType": "NUMBER",
      "method": "MANUAL", "lsl": -1e308, "usl": 1e308}, "lsl", "INPUT_OUT_OF_RANGE"),
    ("engineer", "/api/v1/data-collection-specs",
     {"operationCode": "PR/INT", "name": "x", "itemType": "MEASUREMENT", "dataType": "NUMBER", "method": "MANUAL"},
     "operationCode", "INPUT_INVALID_KEY"),
    ("quality", "/api/v1/oqc-sampling-rules",
     {"name": "r\x07", "samplingType": "PERCENTAGE", "sampleValue": 10, "priority": 1}, "name", "INPUT_INVALID_TEXT"),
    ("material", "/api/v1/loading/verify", {"runNo": "R-1", "slotCode": "1-01", "barcode": "B" * 10_000},
     "barcode", "INPUT_TOO_LONG"),
    ("material", "/api/v1/loading/verify", {"runNo": "R 1", "slotCode": "1-01", "barcode": "B"},
     "runNo", "INPUT_INVALID_KEY"),
    ("integration", "/api/v1/integration/work-orders", {"woNo": "WO-X1", "productCode": "P/1001", "plannedQty": 1},
     "productCode", "INPUT_INVALID_KEY"),
])
def test_the_other_schemas_follow_the_same_discipline(api, app, user, path, body, field, code):
    """Specs, OQC rules, loading scans, work orders: a bad field is refused with its input code before
    anything is read or stored (the audit trail gets no SUCCESS event)."""
    from app.models import AuditEvent
    caller = api(user)
    changes = (AuditEvent.status == "SUCCESS", AuditEvent.action.not_like("LOGIN%"))  # the token's sign-in aside
    before = _count(app, AuditEvent, *changes)
    assert _codes(caller.post(path, json=body))[field] == code
    assert _count(app, AuditEvent, *changes) == before
