"""ERP routing import (idempotent, logged, read-only steps) and data-collection spec rules, through
the API and the console forms alike."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import DataCollectionSpec, IntegrationMessage, Routing
from support import console_login, count, csrf_from

ERP = {"code": "RT-ERP-1", "name": "ERP routing", "productCode": "P-1001", "processType": "SMT",
       "steps": [{"stepNo": 10, "operationCode": "PRINTING", "stationGroupCode": "SMT-A-PRINT", "stationType": "MANUAL"},
                 {"stepNo": 20, "operationCode": "AOI", "stationGroupCode": "SMT-A-AOI", "stationType": "MANUAL",
                  "requiresFai": True}],
       "erpPlant": "1000", "erpRevision": "B"}


def messages(app, **where):
    with app.app_context():
        stmt = select(IntegrationMessage).order_by(IntegrationMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(IntegrationMessage, key) == value)
        return [(m.status, m.source, m.payload, m.error_code) for m in db.session.execute(stmt).scalars()]


def test_erp_import_upserts_and_is_idempotent(api, app):
    first = api("integration").post("/api/v1/integration/routings", json=ERP)
    assert first.status_code == 200
    data = first.get_json()["data"]
    assert data["duplicate"] is False and data["sourceSystem"] == "ERP" and data["readOnlySteps"] is True
    again = api("integration").post("/api/v1/integration/routings", json=ERP).get_json()["data"]
    assert again["duplicate"] is True and again["steps"] == data["steps"]
    logged = messages(app, system="ERP", entity_type="ROUTING")
    assert [m[0] for m in logged] == ["SUCCESS", "DUPLICATE"]
    assert logged[0][1] == "AUTO" and logged[0][2]["erpPlant"] == "1000"  # extras kept in the message
    with app.app_context():
        assert count(Routing, Routing.code == "RT-ERP-1") == 1
    changed = {**ERP, "steps": ERP["steps"][:1]}
    assert api("integration").post("/api/v1/integration/routings", json=changed).get_json()["data"]["duplicate"] is False
    # the first content again is a change back, not a duplicate of a stale message
    back = api("integration").post("/api/v1/integration/routings", json=ERP).get_json()["data"]
    assert back["duplicate"] is False and [s["stepNo"] for s in back["steps"]] == [10, 20]


def test_erp_import_errors_write_nothing_but_the_failed_message(api, app):
    with app.app_context():
        before = count(Routing)
    unknown_op = {**ERP, "steps": [{"stepNo": 10, "operationCode": "LASER_MARK"}]}
    response = api("integration").post("/api/v1/integration/routings", json=unknown_op)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "OPERATION_NOT_FOUND"
    unknown_group = {**ERP, "steps": [{"stepNo": 10, "operationCode": "AOI", "stationGroupCode": "NOPE"}]}
    assert api("integration").post("/api/v1/integration/routings", json=unknown_group).get_json()["error"]["code"] == "STATION_GROUP_NOT_FOUND"
    missing = api("integration").post("/api/v1/integration/routings", json={"code": "RT-ERP-2", "steps": []})
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert {"name", "processType", "steps"} <= set(missing.get_json()["error"]["details"]["fields"])
    with app.app_context():
        assert count(Routing) == before
    logged = messages(app, status="FAILED")
    assert [m[3] for m in logged] == ["OPERATION_NOT_FOUND", "STATION_GROUP_NOT_FOUND", "VALIDATION_ERROR"]


def test_erp_cannot_overwrite_an_mes_routing_and_people_cannot_call_it(api):
    clash = api("integration").post("/api/v1/integration/routings", json={**ERP, "code": "RT-P1001-SMT"})
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "ROUTING_CODE_DUPLICATE"
    assert api("engineer").post("/api/v1/integration/routings", json=ERP).status_code == 403


def test_erp_steps_are_read_only_but_config_can_be_set(api, client):
    api("integration").post("/api/v1/integration/routings", json=ERP)
    eng = api("engineer")
    refused = eng.put("/api/v1/routings/RT-ERP-1", json={"steps": [
        {"stepNo": 10, "operationCode": "PRINTING", "stationGroupCode": "SMT-A-PRINT", "stationType": "MANUAL"}]})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "ROUTE_READ_ONLY"
    same_steps = [{k: v for k, v in s.items()} for s in ERP["steps"]]
    assert eng.put("/api/v1/routings/RT-ERP-1", json={"steps": same_steps}).status_code == 200
    config = eng.put("/api/v1/routings/RT-ERP-1", json={"executionConfig": [
        {"scope": "STEP", "stepNo": 10, "dataSpecs": ["squeegee_pressure_kg"]}]})
    assert config.status_code == 200
    version = eng.post("/api/v1/routings/RT-ERP-1/compile").get_json()["data"]
    assert version["status"] == "READY"
    console_login(client, "engineer")
    page = client.get("/routings/RT-ERP-1").get_data(as_text=True)
    assert "comes from ERP" in page and 'id="add-step"' not in page
    token = csrf_from(page)
    refused_page = client.post("/routings/RT-ERP-1/steps", data={"csrf_token": token, "step_no": "30",
                                                                 "operation_code": "AOI"}, follow_redirects=True)
    assert "ROUTE_READ_ONLY" in refused_page.get_data(as_text=True)


@pytest.mark.parametrize("body,status,code", [
    ({"operationCode": "REFLOW", "name": "peak_temp_c"}, 409, "DATA_SPEC_NAME_DUPLICATE"),
    ({"operationCode": "REFLOW", "name": "zone1", "lsl": 250, "usl": 240}, 400, "DATA_SPEC_LIMITS_INVALID"),
    ({"operationCode": "REFLOW", "name": "zone1", "lsl": 240, "target": 260, "usl": 250}, 400, "DATA_SPEC_LIMITS_INVALID"),
    ({"operationCode": "REFLOW", "name": "zone1", "dataType": "TEXT", "usl": 250}, 400, "DATA_SPEC_LIMITS_INVALID"),
    ({"operationCode": "REFLOW", "name": "mode", "dataType": "ENUM"}, 422, "VALIDATION_ERROR"),
    ({"operationCode": "NOPE", "name": "x"}, 400, "OPERATION_NOT_FOUND"),
    ({"operationCode": "REFLOW", "name": "x", "dataType": "DECIMAL"}, 422, "VALIDATION_ERROR"),
    ({"name": "x"}, 422, "VALIDATION_ERROR"),
])
def test_spec_rules_through_the_api(api, app, body, status, code):
    with app.app_context():
        before = count(DataCollectionSpec)
    response = api("engineer").post("/api/v1/data-collection-specs", json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    with app.app_context():
        assert count(DataCollectionSpec) == before


def test_spec_defaults_and_enum_options(api):
    number = api("engineer").post("/api/v1/data-collection-specs", json={
        "operationCode": "AOI", "name": "offset_um", "lsl": -50, "usl": 50}).get_json()["data"]
    assert number["limitAction"] == "FAIL" and number["dataType"] == "NUMBER" and number["isActive"] is True
    enum = api("engineer").post("/api/v1/data-collection-specs", json={
        "operationCode": "AOI", "name": "verdict", "dataType": "ENUM", "enumOptions": [" OK ", "NG", "OK"]}).get_json()["data"]
    assert enum["enumOptions"] == ["OK", "NG"] and enum["limitAction"] is None
    patched = api("engineer").patch(f"/api/v1/data-collection-specs/{number['id']}", json={"usl": 40, "limitAction": "WARN"})
    assert patched.get_json()["data"]["usl"] == 40 and patched.get_json()["data"]["limitAction"] == "WARN"
    same_name_other_op = api("engineer").post("/api/v1/data-collection-specs", json={"operationCode": "SPI", "name": "offset_um"})
    assert same_name_other_op.status_code == 201
    listed = api("planner").get("/api/v1/data-collection-specs?operationCode=AOI&dataType=ENUM").get_json()
    assert [s["name"] for s in listed["data"]] == ["verdict"]


def test_spec_errors_show_on_the_console_form_and_keep_the_input(client, app):
    console_login(client, "engineer")
    with app.app_context():
        from app.models import Operation
        op_id = db.session.execute(select(Operation.id).filter_by(code="REFLOW")).scalar_one()
    page = client.get("/data-specs/add")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/data-specs/add", data={
        "csrf_token": token, "operation": op_id, "name": "zone2_temp_c", "item_type": "KEY", "data_type": "NUMBER",
        "method": "MANUAL", "lsl": "250", "usl": "240", "limit_action": "", "is_active": "y"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "DATA_SPEC_LIMITS_INVALID" in html and 'value="zone2_temp_c"' in html
    duplicate = client.post("/data-specs/add", data={
        "csrf_token": token, "operation": op_id, "name": "peak_temp_c", "item_type": "KEY", "data_type": "NUMBER",
        "method": "MANUAL", "limit_action": "", "is_active": "y"}).get_data(as_text=True)
    assert "DATA_SPEC_NAME_DUPLICATE" in duplicate
    with app.app_context():
        assert count(DataCollectionSpec, DataCollectionSpec.name == "zone2_temp_c") == 0


def test_a_bound_spec_cannot_be_deleted_and_disable_is_audited(client, app):
    console_login(client, "engineer")
    with app.app_context():
        spec_id = db.session.execute(select(DataCollectionSpec.id).filter_by(name="peak_temp_c")).scalar_one()
    token = csrf_from(client.get("/data-specs/list/").get_data(as_text=True))
    page = client.post(f"/data-specs/delete/{spec_id}", data={"csrf_token": token}, follow_redirects=True)
    assert "DATA_SPEC_IN_USE" in page.get_data(as_text=True)
    client.post("/data-specs/action_post", data={"action": "disable", "rowid": [spec_id], "csrf_token": token})
    with app.app_context():
        assert db.session.get(DataCollectionSpec, spec_id).is_active is False
        from app.models import AuditEvent
        assert count(AuditEvent, AuditEvent.action == "DATA_SPEC_DISABLE") == 1


def test_only_engineers_maintain_specs_in_the_console(client):
    console_login(client, "quality")
    assert client.get("/data-specs/list/").status_code == 200
    assert client.get("/data-specs/add").status_code == 403
