"""The Routing Editor over real HTTP forms: steps, config with the data-spec picker, compile results
next to the steps, version history and diff; read-only for readers."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import DataCollectionSpec, Operation
from support import console_login, csrf_from

SMT = "RT-P1001-SMT"


def spec_id(app, name, operation=None):
    with app.app_context():
        stmt = select(DataCollectionSpec.id).where(DataCollectionSpec.name == name)
        if operation:
            stmt = stmt.join(Operation).where(Operation.code == operation)
        return db.session.execute(stmt).scalar_one()


def test_binding_an_spi_spec_to_reflow_shows_the_error_next_to_step_40(client, api):
    api("engineer").put(f"/api/v1/routings/{SMT}", json={"executionConfig": [
        {"scope": "STEP", "stepNo": 10, "dataSpecs": ["squeegee_pressure_kg"]},
        {"scope": "STEP", "stepNo": 20, "dataSpecs": ["paste_height_um"]},
        {"scope": "STEP", "stepNo": 40, "dataSpecs": ["peak_temp_c", "paste_height_um"]}]})
    version = api("engineer").post(f"/api/v1/routings/{SMT}/compile").get_json()["data"]
    assert version["status"] == "INVALID"
    assert [(e["stepNo"], e["code"]) for e in version["errors"]] == [(40, "DATA_SPEC_OPERATION_MISMATCH")]
    console_login(client, "engineer")
    page = client.get(f"/routings/{SMT}").get_data(as_text=True)
    error_rows = re.findall(r'<tr class="danger step-error" data-step="(\d+)">(.*?)</tr>', page, re.S)
    assert [row[0] for row in error_rows] == ["40"]
    assert "DATA_SPEC_OPERATION_MISMATCH" in error_rows[0][1] and "paste_height_um" in error_rows[0][1]
    assert 'id="step-40" class="danger"' in page


def test_engineer_edits_a_routing_in_the_editor(client, app, api):
    console_login(client, "engineer")
    token = csrf_from(client.get("/routings/").get_data(as_text=True))
    post = lambda url, **data: client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)
    page = post("/routings/new", code="RT-P2001-ALT", name="Power board B — alternative", product_code="P-2001",
                process_type="DIP").get_data(as_text=True)
    assert "RT-P2001-ALT created" in page
    for no, op, group in ((10, "DIP_INSERT", "DIP-A-INS"), (20, "FUNC_TEST", "DIP-A-TEST")):
        post("/routings/RT-P2001-ALT/steps", step_no=str(no), operation_code=op, station_group_code=group,
             station_type="MANUAL", requires_fai="y" if no == 10 else "")
    # same number again: changes the step in place
    post("/routings/RT-P2001-ALT/steps", step_no="20", operation_code="FUNC_TEST", station_group_code="DIP-A-TEST",
         station_type="TEST")
    volt = spec_id(app, "output_voltage_v")
    page = post("/routings/RT-P2001-ALT/config", scope="STEP", step_no="20", configure_key="step:20",
                data_specs=[str(volt)]).get_data(as_text=True)
    assert "Execution config saved" in page
    compiled = post("/routings/RT-P2001-ALT/compile").get_data(as_text=True)
    assert "version 1 is READY" in compiled
    snapshot = api("engineer").get("/api/v1/routings/RT-P2001-ALT/versions/1").get_json()["data"]["snapshot"]
    assert [(s["stepNo"], s["stationType"], s["requiresFai"]) for s in snapshot["steps"]] == [(10, "MANUAL", True), (20, "TEST", False)]
    assert [d["name"] for d in snapshot["steps"][1]["dataSpecs"]] == ["output_voltage_v"]
    assert "Nothing changed since version 1" in post("/routings/RT-P2001-ALT/compile").get_data(as_text=True)
    post("/routings/RT-P2001-ALT/steps/20/delete")
    assert "version 2 is READY" in post("/routings/RT-P2001-ALT/compile").get_data(as_text=True)
    diff = client.get("/routings/RT-P2001-ALT/diff?a=1&b=2").get_data(as_text=True)
    assert 'id="version-diff"' in diff and "FUNC_TEST" in diff
    snapshot_page = client.get("/routings/RT-P2001-ALT/versions/1").get_data(as_text=True)
    assert "output_voltage_v" in snapshot_page and "READY" in snapshot_page


def test_the_picker_lists_the_steps_operation_and_can_show_all(client, app):
    console_login(client, "engineer")
    page = client.get(f"/routings/{SMT}?configure=step:40").get_data(as_text=True)
    picker = page.split('id="data_specs"')[1].split("</select>")[0]
    assert "peak_temp_c" in picker and "conveyor_speed_m_min" in picker and "paste_height_um" not in picker
    assert re.search(r'<option value="\d+" selected>peak_temp_c', picker)
    everything = client.get(f"/routings/{SMT}?configure=step:40&all_ops=1").get_data(as_text=True)
    assert "paste_height_um" in everything.split('id="data_specs"')[1].split("</select>")[0]


def test_inherited_specs_are_preselected_when_the_step_binds_none(client, api):
    api("engineer").put(f"/api/v1/routings/{SMT}", json={"executionConfig": [
        {"scope": "OPERATION", "operationCode": "REFLOW", "dataSpecs": ["peak_temp_c"]}]})
    console_login(client, "engineer")
    page = client.get(f"/routings/{SMT}?configure=step:40").get_data(as_text=True)
    assert "inherited from operation config" in page
    assert re.search(r'<option value="\d+" selected>peak_temp_c', page)


def test_readers_see_the_editor_without_forms_operators_not_at_all(client):
    console_login(client, "planner")
    page = client.get(f"/routings/{SMT}").get_data(as_text=True)
    assert "RT-P1001-SMT" in page and 'id="compile-button"' not in page and 'id="add-step"' not in page
    token = csrf_from(page)
    refused = client.post(f"/routings/{SMT}/compile", data={"csrf_token": token})
    assert refused.status_code == 403
    client.get("/logout/")
    console_login(client, "operator")
    assert client.get(f"/routings/{SMT}").status_code == 403
