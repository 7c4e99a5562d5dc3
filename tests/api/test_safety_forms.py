"""Consequential console forms (issue 17, Safety): they start with nothing chosen (a "choose…" prompt,
validated on submit) and ask before an action that cannot be undone, naming its consequence."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import BomItem, Defect, Product, Unit
from support import authorized_run, build_unit, console_login, count, csrf_from, ok_data


def test_a_new_bom_line_starts_without_product_and_material(client, app):
    console_login(client, "engineer")
    page = client.get("/bom/add").get_data(as_text=True)
    for field, prompt in (("product", "choose a product…"), ("material", "choose a material…")):
        select_html = re.search(rf'<select[^>]*id="{field}".*?</select>', page, re.S).group(0)
        first = re.search(r"<option([^>]*)>([^<]*)</option>", select_html)
        assert first.group(2) == prompt and 'value="__None"' in first.group(1), select_html[:300]
        assert re.findall(r'<option selected value="([^"]*)"', select_html) == ["__None"]  # nothing pre-chosen
    with app.app_context():
        before = count(BomItem)
    answer = client.post("/bom/add", data={"csrf_token": csrf_from(page), "product": "__None",
                                           "material": "__None", "qty_per": "1"}, follow_redirects=True)
    assert answer.status_code == 200 and "This field is required." in answer.get_data(as_text=True)
    with app.app_context():
        assert count(BomItem) == before
    # from a product's page the product comes filled in (FAB's related view), the material still not
    with app.app_context():
        pid = db.session.execute(select(Product.id).filter_by(code="P-1001")).scalar_one()
    page = client.get(f"/bom/add?_flt_0_product={pid}").get_data(as_text=True)
    material = re.search(r'<select[^>]*id="material".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option selected value="([^"]*)"', material) == ["__None"]


def fail_at_aoi(api, run_no, sn):
    build_unit(api, run_no, sn, until=40)
    ok_data(api("operator").post("/api/v1/stations/ST-AOI-01/track-in", json={"sn": sn, "runNo": run_no}))
    ok_data(api("operator").post("/api/v1/stations/ST-AOI-01/track-out", json={
        "sn": sn, "runNo": run_no, "result": "FAIL", "data": [], "defect": {"code": "SOLDER_BRIDGE", "location": "U3"}}))


def test_disposition_type_and_manual_defect_code_start_empty_and_scrap_asks_first(app, api):
    client = app.test_client()
    run_no = authorized_run(api, qty=2, units=2)
    failed, queued = f"{run_no}-0001", f"{run_no}-0002"
    fail_at_aoi(api, run_no, failed)
    console_login(client, "quality")
    page = client.get("/disposition/").get_data(as_text=True)
    form = re.search(rf'<form[^>]*id="decide-{failed}".*?</form>', page, re.S).group(0)
    assert 'data-confirm="SCRAP board' in form and 'data-confirm-if="type=SCRAP"' in form
    assert re.search(rf'id="type-{failed}" required><option value="">choose…</option>', form)
    record = re.search(r'<form[^>]*id="record-defect".*?</form>', page, re.S).group(0)
    assert re.search(r'name="code"[^>]*required[^>]*><option value="">choose a defect code…</option>', record)
    token = csrf_from(page)
    defect = int(re.search(r"/disposition/defects/(\d+)/decide", form).group(1))
    # nothing chosen → refused, nothing changes
    client.post(f"/disposition/defects/{defect}/decide", data={"csrf_token": token, "sn": failed, "type": "",
                                                               "reason": "burnt"}, follow_redirects=True)
    answer = client.post("/disposition/record", data={"csrf_token": token, "sn": queued, "code": ""},
                         follow_redirects=True).get_data(as_text=True)
    assert "[" in answer  # a refusal with its code is flashed
    with app.app_context():
        statuses = dict(db.session.execute(select(Unit.sn, Unit.status).where(Unit.sn.in_([failed, queued]))).all())
        assert statuses == {failed: "OUT_FAILED", queued: "QUEUED"}
        assert count(Defect, Defect.unit_id.in_(select(Unit.id).where(Unit.sn == queued))) == 0
