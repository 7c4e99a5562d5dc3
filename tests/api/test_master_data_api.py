"""Master-data REST APIs: CRUD by the engineer, clear errors for bad input (nothing written), every
change audited, permission checks."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, BomItem, DefectCode, Line, Material, Product, Station
from support import count


def product_id(code):
    return db.session.execute(select(Product.id).where(Product.code == code)).scalar_one()


def test_engineer_creates_updates_and_deletes_a_product_each_change_audited(api, app):
    eng = api("engineer")
    created = eng.post("/api/v1/products/", json={"code": "P-3001", "name": "Sensor board", "process_type": "SMT"})
    assert created.status_code == 201, created.get_json()
    pk = created.get_json()["id"]
    updated = eng.put(f"/api/v1/products/{pk}", json={"name": "Sensor board rev B"})
    assert updated.status_code == 200
    assert eng.get(f"/api/v1/products/{pk}").get_json()["result"]["name"] == "Sensor board rev B"
    assert eng.delete(f"/api/v1/products/{pk}").status_code == 200
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.entity_key == "P-3001")
                                    .order_by(AuditEvent.id)).scalars().all()
        assert [e.action for e in events] == ["PRODUCT_CREATE", "PRODUCT_UPDATE", "PRODUCT_DELETE"]
        assert all(e.actor_username == "engineer" and e.status == "SUCCESS" for e in events)
        assert events[0].diff["after"]["is_active"] is True
        assert events[1].diff == {"before": {"name": "Sensor board"}, "after": {"name": "Sensor board rev B"}}


def test_duplicate_code_is_409_names_the_field_and_writes_nothing(api, app):
    with app.app_context():
        before = count(Product)
    response = api("engineer").post("/api/v1/products/", json={"code": "P-1001", "name": "dup", "process_type": "SMT"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "PRODUCT_CODE_DUPLICATE" and error["details"]["field"] == "code"
    with app.app_context():
        assert count(Product) == before
        fail = db.session.execute(select(AuditEvent).where(AuditEvent.error_code == "PRODUCT_CODE_DUPLICATE")).scalar_one()
        assert fail.status == "FAIL" and fail.entity_key == "P-1001"


def test_duplicate_on_update_is_409_too(api, app):
    with app.app_context():
        pk = product_id("P-2001")
    response = api("engineer").put(f"/api/v1/products/{pk}", json={"code": "P-1001"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "PRODUCT_CODE_DUPLICATE"
    with app.app_context():
        assert db.session.get(Product, pk).code == "P-2001"


def test_composite_unique_bom_line_is_409(api, app):
    with app.app_context():
        pid = product_id("P-1001")
        mid = db.session.execute(select(Material.id).where(Material.code == "MAT-MCU")).scalar_one()
        before = count(BomItem)
    response = api("engineer").post("/api/v1/bom-items/", json={"product": pid, "material": mid, "qty_per": 2})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "BOM_ITEM_DUPLICATE"
    with app.app_context():
        assert count(BomItem) == before


@pytest.mark.parametrize("body,field", [
    ({"name": "no code", "process_type": "SMT"}, "code"),
    ({"code": "P-4", "process_type": "SMT"}, "name"),
    ({"code": "P-4", "name": "x", "process_type": "XYZ"}, "process_type"),
    ({"code": "P-4", "name": "x", "process_type": "SMT", "colour": "red"}, "colour"),
])
def test_missing_or_invalid_fields_are_422_and_write_nothing(api, app, body, field):
    with app.app_context():
        before = count(Product)
    response = api("engineer").post("/api/v1/products/", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in str(error["details"])
    with app.app_context():
        assert count(Product) == before


def test_invalid_reference_is_422_naming_the_field(api, app):
    with app.app_context():
        before = count(Station)
        line_id = db.session.execute(select(Line.id).where(Line.code == "LINE-SMT-A")).scalar_one()
    response = api("engineer").post("/api/v1/stations/", json={
        "code": "ST-NEW-01", "name": "New", "line": 99999, "station_type": "MANUAL"})
    assert response.status_code == 422
    assert "line" in str(response.get_json()["error"]["details"])
    missing_line = api("engineer").post("/api/v1/stations/", json={"code": "ST-NEW-01", "name": "New",
                                                                   "station_type": "MANUAL"})
    assert missing_line.status_code == 422 and "line" in str(missing_line.get_json()["error"]["details"])
    ok = api("engineer").post("/api/v1/stations/", json={"code": "ST-NEW-01", "name": "New", "line": line_id,
                                                         "station_type": "MANUAL"})
    assert ok.status_code == 201
    with app.app_context():
        assert count(Station) == before + 1


def test_malformed_json_is_422(api, app):
    with app.app_context():
        before = count(Product)
    response = api("engineer").post("/api/v1/products/", data="{not json", content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    with app.app_context():
        assert count(Product) == before


def test_deleting_a_referenced_row_is_in_use_409(api, app):
    with app.app_context():
        line_id = db.session.execute(select(Line.id).where(Line.code == "LINE-SMT-A")).scalar_one()
        mat_id = db.session.execute(select(Material.id).where(Material.code == "MAT-MCU")).scalar_one()
    response = api("engineer").delete(f"/api/v1/lines/{line_id}")
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "LINE_IN_USE" and "Deactivate" in error["message"]
    assert api("engineer").delete(f"/api/v1/materials/{mat_id}").get_json()["error"]["code"] == "MATERIAL_IN_USE"
    with app.app_context():
        assert db.session.get(Line, line_id) is not None


def test_a_product_with_only_its_bom_can_be_deleted_bom_lines_go_with_it(api, app):
    eng = api("engineer")
    pid = eng.post("/api/v1/products/", json={"code": "P-DEL", "name": "x", "process_type": "DIP"}).get_json()["id"]
    with app.app_context():
        mid = db.session.execute(select(Material.id).where(Material.code == "MAT-MCU")).scalar_one()
    assert eng.post("/api/v1/bom-items/", json={"product": pid, "material": mid, "qty_per": 1}).status_code == 201
    assert eng.delete(f"/api/v1/products/{pid}").status_code == 200
    with app.app_context():
        assert count(BomItem, BomItem.product_id == pid) == 0
    # a product a routing uses is in use
    with app.app_context():
        used = product_id("P-2001")
    assert eng.delete(f"/api/v1/products/{used}").get_json()["error"]["code"] == "PRODUCT_IN_USE"


def test_one_equipment_per_station(api, app):
    with app.app_context():
        station_id = db.session.execute(select(Station.id).where(Station.code == "ST-AOI-01")).scalar_one()
    response = api("engineer").post("/api/v1/equipment/", json={
        "code": "EQ-EXTRA", "name": "second", "station": station_id, "status": "NORMAL", "source": "MANUAL"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "EQUIPMENT_STATION_DUPLICATE"


def test_quality_maintains_defect_codes_but_not_products(api, app):
    created = api("quality").post("/api/v1/defect-codes/", json={"code": "LIFTED_LEAD", "name": "Lifted lead",
                                                                 "category": "SMT solder"})
    assert created.status_code == 201
    assert api("quality").post("/api/v1/products/", json={"code": "P-5", "name": "x", "process_type": "SMT"}).status_code == 403
    with app.app_context():
        assert count(DefectCode, DefectCode.code == "LIFTED_LEAD") == 1


def test_operator_reads_but_cannot_write(api, app):
    assert api("operator").get("/api/v1/products/").status_code == 200
    response = api("operator").post("/api/v1/products/", json={"code": "P-6", "name": "x", "process_type": "SMT"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    with app.app_context():
        assert count(Product, Product.code == "P-6") == 0


def test_rison_filters_work_and_a_rison_bomb_is_422(api):
    found = api("engineer").get("/api/v1/products/?q=(filters:!((col:code,opr:eq,value:P-1001)))")
    assert found.status_code == 200 and found.get_json()["count"] == 1
    bomb = api("engineer").get("/api/v1/products/?q=" + "(" * 5000)
    assert bomb.status_code == 422
    assert bomb.get_json()["error"]["code"] == "VALIDATION_ERROR"
    broken = api("engineer").get("/api/v1/products/?q=(filters:!((col:code")
    assert broken.status_code == 422 and broken.get_json()["error"]["code"] == "VALIDATION_ERROR"


def _ids(app):
    with app.app_context():
        def one(model, code):
            return db.session.execute(select(model.id).where(model.code == code)).scalar_one()
        from app.models import StationGroup
        return {"product": one(Product, "P-1001"), "material": one(Material, "MAT-R10K-ALT"),
                "line": one(Line, "LINE-SMT-A"), "group": one(StationGroup, "SMT-A-AOI")}


@pytest.mark.parametrize("resource,entity,body", [
    ("products", "PRODUCT", lambda ids: {"code": "P-NEW", "name": "n", "process_type": "DIP"}),
    ("materials", "MATERIAL", lambda ids: {"code": "MAT-NEW", "name": "n", "uom": "PCS"}),
    ("material-lots", "MATERIAL_LOT", lambda ids: {"material": ids["material"], "lot_no": "LOT-NEW", "iqc_result": "PENDING"}),
    ("bom-items", "BOM_ITEM", lambda ids: {"product": ids["product"], "material": ids["material"], "qty_per": 1}),
    ("lines", "LINE", lambda ids: {"code": "LINE-NEW", "name": "n", "process_type": "SMT"}),
    ("station-groups", "STATION_GROUP", lambda ids: {"code": "GRP-NEW", "name": "n"}),
    ("stations", "STATION", lambda ids: {"code": "ST-NEW", "name": "n", "line": ids["line"], "group": ids["group"], "station_type": "MANUAL"}),
    ("operations", "OPERATION", lambda ids: {"code": "OP-NEW", "name": "n", "default_station_type": "MANUAL", "consumes_material": True}),
    ("equipment", "EQUIPMENT", lambda ids: {"code": "EQ-NEW", "name": "n", "status": "DOWN", "source": "MANUAL"}),
    ("defect-codes", "DEFECT_CODE", lambda ids: {"code": "DC-NEW", "name": "n"}),
])
def test_every_master_data_change_leaves_an_audit_event(api, app, resource, entity, body):
    created = api("engineer").post(f"/api/v1/{resource}/", json=body(_ids(app)))
    assert created.status_code == 201, created.get_json()
    pk = created.get_json()["id"]
    assert api("engineer").delete(f"/api/v1/{resource}/{pk}").status_code == 200
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_type == entity)
                                     .order_by(AuditEvent.id)).scalars().all()
        assert actions[-2:] == [f"{entity}_CREATE", f"{entity}_DELETE"]


def test_equipment_status_change_time_is_recorded(api, app):
    from app.models import Equipment
    with app.app_context():
        eq = db.session.execute(select(Equipment).filter_by(code="EQ-AOI-01")).scalar_one()
        pk, before = eq.id, eq.status_changed_at
    assert api("engineer").put(f"/api/v1/equipment/{pk}", json={"status": "MAINTENANCE"}).status_code == 200
    with app.app_context():
        eq = db.session.get(Equipment, pk)
        assert eq.status == "MAINTENANCE" and eq.status_changed_at is not None and eq.status_changed_at != before
        changed_at = eq.status_changed_at
    assert api("engineer").put(f"/api/v1/equipment/{pk}", json={"name": "AOI 1 (renamed)"}).status_code == 200
    with app.app_context():
        assert db.session.get(Equipment, pk).status_changed_at == changed_at


def test_system_defect_code_cannot_be_deleted_or_deactivated(api, app):
    with app.app_context():
        pk = db.session.execute(select(DefectCode.id).filter_by(code="SPEC_OUT_OF_LIMIT")).scalar_one()
    deleted = api("quality").delete(f"/api/v1/defect-codes/{pk}")
    assert deleted.status_code == 409 and deleted.get_json()["error"]["code"] == "DEFECT_CODE_SYSTEM"
    deactivated = api("quality").put(f"/api/v1/defect-codes/{pk}", json={"is_active": False})
    assert deactivated.status_code == 409
    with app.app_context():
        assert db.session.get(DefectCode, pk).is_active is True
