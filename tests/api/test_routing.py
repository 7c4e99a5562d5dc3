"""Routings, execution config and compile (02_rules §1): error codes, precedence, snapshot reuse,
immutable versions, ERP read-only steps, the permission matrix."""
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AuditEvent, ExecutableRouteVersion, Routing
from app.models.routing import VersionImmutableError
from support import count

SMT = "RT-P1001-SMT"


def steps(*rows):
    return [{"stepNo": no, "operationCode": op, "stationGroupCode": group, "stationType": "MANUAL"}
            for no, op, group in rows]


def create(api, code="RT-TEST", rows=((10, "PRINTING", "SMT-A-PRINT"), (20, "REFLOW", "SMT-A-REFLOW")), **extra):
    body = {"code": code, "name": "Test routing", "processType": "SMT", "steps": steps(*rows), **extra}
    response = api("engineer").post("/api/v1/routings", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def compile_(api, code, user="engineer"):
    return api(user).post(f"/api/v1/routings/{code}/compile")


def test_seeded_routings_are_ready_with_their_specs(api):
    data = api("planner").get(f"/api/v1/routings/{SMT}").get_json()["data"]
    assert [s["stepNo"] for s in data["steps"]] == [10, 20, 30, 40, 50]
    assert data["latestVersion"]["status"] == "READY"
    snapshot = api("planner").get(f"/api/v1/routings/{SMT}/versions/1").get_json()["data"]["snapshot"]
    reflow = next(s for s in snapshot["steps"] if s["stepNo"] == 40)
    assert [d["name"] for d in reflow["dataSpecs"]] == ["peak_temp_c"]
    peak = reflow["dataSpecs"][0]
    assert (peak["lsl"], peak["target"], peak["usl"], peak["limitAction"], peak["required"]) == (235, 250, 265, "FAIL", True)
    assert snapshot["steps"][-1]["isLast"] and snapshot["steps"][-1]["requiresFai"]
    mounting = next(s for s in snapshot["steps"] if s["stepNo"] == 30)
    assert mounting["consumesMaterial"] and mounting["stationGroupCode"] == "SMT-A-MOUNT"
    dip = api("planner").get("/api/v1/routings/RT-P2001-DIP/versions").get_json()["data"]
    assert dip[0]["status"] == "READY"


def test_compile_unknown_routing_is_404(api):
    response = compile_(api, "RT-NOPE")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "ROUTE_NOT_FOUND"


def test_compile_empty_routing(api):
    create(api, rows=())
    response = compile_(api, "RT-TEST")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "ROUTING_EMPTY"


@pytest.mark.parametrize("step,config,code", [
    ({"stepNo": 10, "operationCode": "PRINTING", "stationGroupCode": "SMT-A-PRINT"}, [], "STATION_TYPE_MISSING"),
    ({"stepNo": 10, "operationCode": "PRINTING", "stationType": "MANUAL"}, [], "STATION_CONSTRAINT_MISSING"),
    ({"stepNo": 10, "operationCode": "REFLOW", "stationGroupCode": "SMT-A-REFLOW", "stationType": "MANUAL"},
     [{"scope": "STEP", "stepNo": 10, "dataSpecs": ["paste_height_um"]}], "DATA_SPEC_OPERATION_MISMATCH"),
])
def test_each_compile_error_gives_an_invalid_version(api, app, step, config, code):
    create(api, rows=())
    assert api("engineer").put("/api/v1/routings/RT-TEST", json={"steps": [step], "executionConfig": config}).status_code == 200
    response = compile_(api, "RT-TEST")
    assert response.status_code == 200
    version = response.get_json()["data"]
    assert version["status"] == "INVALID" and version["created"] is True
    assert [(e["stepNo"], e["code"]) for e in version["errors"]] == [(10, code)]


def test_inactive_spec_gives_data_spec_inactive(api):
    spec = api("engineer").post("/api/v1/data-collection-specs", json={
        "operationCode": "PRINTING", "name": "print_speed_mm_s", "dataType": "NUMBER", "lsl": 20, "usl": 80}).get_json()["data"]
    create(api, executionConfig=[{"scope": "STEP", "stepNo": 10, "dataSpecs": [spec["id"]]}])
    assert compile_(api, "RT-TEST").get_json()["data"]["status"] == "READY"
    api("engineer").patch(f"/api/v1/data-collection-specs/{spec['id']}", json={"isActive": False})
    version = compile_(api, "RT-TEST").get_json()["data"]
    assert version["status"] == "INVALID" and version["versionNo"] == 2
    assert [e["code"] for e in version["errors"]] == ["DATA_SPEC_INACTIVE"]


def test_all_errors_are_collected_in_one_compile(api):
    create(api, rows=())
    api("engineer").put("/api/v1/routings/RT-TEST", json={"steps": [
        {"stepNo": 10, "operationCode": "PRINTING"},
        {"stepNo": 20, "operationCode": "REFLOW", "stationType": "MANUAL", "stationGroupCode": "SMT-A-REFLOW"}],
        "executionConfig": [{"scope": "STEP", "stepNo": 20, "dataSpecs": ["squeegee_pressure_kg", "peak_temp_c"]}]})
    errors = compile_(api, "RT-TEST").get_json()["data"]["errors"]
    assert sorted((e["stepNo"], e["code"]) for e in errors) == [
        (10, "STATION_CONSTRAINT_MISSING"), (10, "STATION_TYPE_MISSING"), (20, "DATA_SPEC_OPERATION_MISMATCH")]


def test_precedence_step_over_operation_over_route_over_defaults(api):
    create(api, rows=((10, "PRINTING", "SMT-A-PRINT"), (20, "REFLOW", "SMT-A-REFLOW"), (30, "REFLOW", "SMT-A-REFLOW")))
    api("engineer").put("/api/v1/routings/RT-TEST", json={"executionConfig": [
        {"scope": "ROUTE", "stationType": "AUTO", "requiresFai": True},
        {"scope": "OPERATION", "operationCode": "REFLOW", "stationType": "BATCH",
         "stationGroupCode": "SMT-A-AOI", "dataSpecs": ["peak_temp_c"]},
        {"scope": "STEP", "stepNo": 30, "stationType": "TEST", "requiresFai": False,
         "allowedStationCodes": ["ST-REFLOW-01"], "dataSpecs": ["conveyor_speed_m_min"]},
    ]})
    version = compile_(api, "RT-TEST").get_json()["data"]
    snapshot = api("engineer").get(f"/api/v1/routings/RT-TEST/versions/{version['versionNo']}").get_json()["data"]["snapshot"]
    by_no = {s["stepNo"]: s for s in snapshot["steps"]}
    # step 10: route config over step defaults; a route config without specs binds none
    assert (by_no[10]["stationType"], by_no[10]["stationGroupCode"], by_no[10]["requiresFai"]) == ("AUTO", "SMT-A-PRINT", True)
    assert by_no[10]["dataSpecs"] == []
    # step 20: operation config over route; specs from the operation scope
    assert (by_no[20]["stationType"], by_no[20]["stationGroupCode"], by_no[20]["requiresFai"]) == ("BATCH", "SMT-A-AOI", True)
    assert [d["name"] for d in by_no[20]["dataSpecs"]] == ["peak_temp_c"]
    # step 30: step config wins; its spec binding replaces (does not merge with) the operation's
    assert (by_no[30]["stationType"], by_no[30]["requiresFai"]) == ("TEST", False)
    assert by_no[30]["stationGroupCode"] == "SMT-A-AOI"  # not set at step scope: a null never overrides
    assert by_no[30]["allowedStationCodes"] == ["ST-REFLOW-01"]
    assert [d["name"] for d in by_no[30]["dataSpecs"]] == ["conveyor_speed_m_min"]


def test_identical_snapshot_returns_the_latest_version_and_writes_nothing(api, app):
    first = compile_(api, SMT).get_json()["data"]
    assert first["versionNo"] == 1 and first["created"] is False
    with app.app_context():
        versions = count(ExecutableRouteVersion)
        events = count(AuditEvent)
    again = compile_(api, SMT).get_json()["data"]
    assert again["versionNo"] == 1 and again["created"] is False
    with app.app_context():
        assert count(ExecutableRouteVersion) == versions and count(AuditEvent) == events


def test_versions_are_immutable_and_master_data_edits_do_not_change_them(api, app):
    specs = api("engineer").get("/api/v1/data-collection-specs?name=peak_temp_c").get_json()["data"]
    api("engineer").patch(f"/api/v1/data-collection-specs/{specs[0]['id']}", json={"usl": 270})
    frozen = api("engineer").get(f"/api/v1/routings/{SMT}/versions/1").get_json()["data"]["snapshot"]
    assert next(s for s in frozen["steps"] if s["stepNo"] == 40)["dataSpecs"][0]["usl"] == 265
    v2 = compile_(api, SMT).get_json()["data"]
    assert v2["versionNo"] == 2 and v2["status"] == "READY"
    snapshot2 = api("engineer").get(f"/api/v1/routings/{SMT}/versions/2").get_json()["data"]["snapshot"]
    assert next(s for s in snapshot2["steps"] if s["stepNo"] == 40)["dataSpecs"][0]["usl"] == 270
    with app.app_context():
        version = db.session.execute(select(ExecutableRouteVersion).where(ExecutableRouteVersion.version_no == 1)).scalars().first()
        version.status = "INVALID"
        with pytest.raises(VersionImmutableError):
            db.session.flush()
        db.session.rollback()
        with db.engine.connect() as conn:
            for statement in ("UPDATE executable_route_version SET status = 'INVALID'", "DELETE FROM executable_route_version"):
                with pytest.raises(DBAPIError, match="immutable"):
                    with conn.begin():
                        conn.execute(text(statement))


def test_steps_and_config_edits_are_audited(api, app):
    create(api)
    api("engineer").put("/api/v1/routings/RT-TEST", json={"executionConfig": [
        {"scope": "STEP", "stepNo": 20, "dataSpecs": ["peak_temp_c"]}]})
    compile_(api, "RT-TEST")
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_key == "RT-TEST")
                                     .order_by(AuditEvent.id)).scalars().all()
        assert actions == ["ROUTING_CREATE", "ROUTING_UPDATE", "ROUTE_COMPILE"]


def test_bad_input_is_refused_and_writes_nothing(api, app):
    with app.app_context():
        before = count(Routing)
    eng = api("engineer")
    assert eng.post("/api/v1/routings", json={"code": SMT, "name": "x", "processType": "SMT"}).get_json()["error"]["code"] == "ROUTING_CODE_DUPLICATE"
    bad_op = eng.post("/api/v1/routings", json={"code": "RT-X", "name": "x", "processType": "SMT",
                                                "steps": [{"stepNo": 10, "operationCode": "WELDING"}]})
    assert bad_op.status_code == 400 and bad_op.get_json()["error"]["code"] == "OPERATION_NOT_FOUND"
    dup_steps = eng.post("/api/v1/routings", json={"code": "RT-X", "name": "x", "processType": "SMT",
                                                   "steps": steps((10, "SPI", None), (10, "AOI", None))})
    assert dup_steps.get_json()["error"]["code"] == "ROUTING_STEP_DUPLICATE"
    unknown_key = eng.post("/api/v1/routings", json={"code": "RT-X", "name": "x", "processType": "SMT", "colour": 1})
    assert unknown_key.status_code == 422
    wrong_process = eng.post("/api/v1/routings", json={"code": "RT-X", "name": "x", "processType": "DIP",
                                                       "productCode": "P-1001"})
    assert wrong_process.status_code == 422
    with app.app_context():
        assert count(Routing) == before


@pytest.mark.parametrize("user,read,write", [
    ("engineer", 200, True), ("admin", 200, True), ("planner", 200, False), ("quality", 200, False),
    ("leader", 200, False), ("manager", 200, False), ("operator", 403, False), ("material", 403, False),
    ("integration", 403, False),
])
def test_permission_matrix(api, user, read, write):
    caller = api(user)
    assert caller.get("/api/v1/routings").status_code == read
    assert caller.get(f"/api/v1/routings/{SMT}/versions").status_code == read
    assert caller.get("/api/v1/data-collection-specs").status_code == read
    put = caller.put(f"/api/v1/routings/{SMT}", json={"name": "Controller board A — SMT (edited)"})
    assert put.status_code == (200 if write else 403)
    assert compile_(api, SMT, user).status_code == (200 if write else 403)
    spec = caller.post("/api/v1/data-collection-specs", json={"operationCode": "AOI", "name": f"x_{user}"})
    assert spec.status_code == (201 if write else 403)


def test_routing_resolution_for_a_product(app_ctx):
    from datetime import datetime, timedelta, timezone

    from app.models import Product
    from app.services.platform.actor import SYSTEM
    from app.services.engineering.routing import RoutingInput, create_routing, resolve_routing
    product = db.session.execute(select(Product).filter_by(code="P-1001")).scalar_one()
    assert resolve_routing(product).code == SMT
    now = datetime.now(timezone.utc)
    newer = create_routing(actor=SYSTEM, data=RoutingInput(code="RT-NEWER", name="n", product_code="P-1001",
                                                           process_type="SMT", effective_from=now - timedelta(days=1)))
    assert resolve_routing(product).code == "RT-NEWER"  # latest effective_from wins
    create_routing(actor=SYSTEM, data=RoutingInput(code="RT-FUTURE", name="f", product_code="P-1001",
                                                   process_type="SMT", effective_from=now + timedelta(days=3)))
    assert resolve_routing(product).code == "RT-NEWER"  # not effective yet
    newer = db.session.execute(select(Routing).filter_by(code="RT-NEWER")).scalar_one()
    newer.source_system = "ERP"
    db.session.commit()
    assert resolve_routing(product).code == SMT  # MES before ERP
    explicit = db.session.execute(select(Routing).filter_by(code="RT-FUTURE")).scalar_one()
    assert resolve_routing(product, explicit=explicit).code == "RT-FUTURE"
    for r in db.session.execute(select(Routing).where(Routing.product_id == product.id)).scalars():
        r.is_active = False
    db.session.commit()
    assert resolve_routing(product) is None
