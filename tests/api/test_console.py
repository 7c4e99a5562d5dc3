"""The console (FAB screens) over real HTTP forms: CSRF, validation, audit, exports, error pages."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, BomItem, Line, Material, MesUser, Product, Station
from support import console_login, count, csrf_from


def form_post(client, url, data):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)


def test_engineer_creates_a_product_and_a_bom_line_in_the_console(client, app):
    console_login(client, "engineer")
    page = form_post(client, "/products/add", {"code": "P-7001", "name": "Display board",
                                               "process_type": "SMT", "is_active": "y"})
    assert page.status_code == 200 and "Product P-7001 saved." in page.get_data(as_text=True)
    with app.app_context():
        product = db.session.execute(select(Product).filter_by(code="P-7001")).scalar_one()
        material = db.session.execute(select(Material).filter_by(code="MAT-MCU")).scalar_one()
        pid, mid = product.id, material.id
    page = form_post(client, "/bom/add", {"product": pid, "material": mid, "qty_per": "2"})
    assert "BOM item saved." in page.get_data(as_text=True) and "Added Row" not in page.get_data(as_text=True)
    with app.app_context():
        assert count(BomItem, BomItem.product_id == pid) == 1
        actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.actor_username == "engineer")
                                     .order_by(AuditEvent.id)).scalars().all()
        assert actions[-2:] == ["PRODUCT_CREATE", "BOM_ITEM_CREATE"]
    listing = client.get("/products/list/").get_data(as_text=True)
    assert "P-7001" in listing and "Display board" in listing


def test_a_deleted_record_is_named_in_the_message(client, app):
    console_login(client, "engineer")
    form_post(client, "/products/add", {"code": "P-7002", "name": "Spare board", "process_type": "SMT"})
    with app.app_context():
        pid = db.session.execute(select(Product.id).filter_by(code="P-7002")).scalar_one()
    token = csrf_from(client.get("/products/list/").get_data(as_text=True))
    page = client.post(f"/products/delete/{pid}", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Product P-7002 deleted." in page and "Deleted Row" not in page
    with app.app_context():
        assert db.session.get(Product, pid) is None


def test_duplicate_bom_line_in_the_console_shows_the_code_and_writes_nothing(client, app):
    console_login(client, "engineer")
    with app.app_context():
        pid = db.session.execute(select(Product.id).filter_by(code="P-1001")).scalar_one()
        mid = db.session.execute(select(Material.id).filter_by(code="MAT-MCU")).scalar_one()
        before = count(BomItem)
    page = form_post(client, "/bom/add", {"product": pid, "material": mid, "qty_per": "1"}).get_data(as_text=True)
    assert "BOM_ITEM_DUPLICATE" in page and "already on the product" in page
    assert "IntegrityError" not in page and "INSERT" not in page
    with app.app_context():
        assert count(BomItem) == before
        assert count(AuditEvent, AuditEvent.error_code == "BOM_ITEM_DUPLICATE") == 1


def test_a_refused_form_keeps_what_was_typed_with_the_rule_on_its_field(client, app):
    """views/fab_forms.py: a rule refusal in pre_add / pre_update shows the form again (not FAB's
    redirect that loses the input), the message and code on the field the rule names; nothing written."""
    from app.models import DefectCode
    console_login(client, "engineer")
    with app.app_context():
        pid = db.session.execute(select(Product.id).filter_by(code="P-1001")).scalar_one()
        mid = db.session.execute(select(Material.id).filter_by(code="MAT-MCU")).scalar_one()
        code_id = db.session.execute(select(DefectCode.id).filter_by(code="SPEC_OUT_OF_LIMIT")).scalar_one()
    page = form_post(client, "/bom/add", {"product": pid, "material": mid, "qty_per": "7.5"}).get_data(as_text=True)
    assert 'value="7.5"' in page and "[BOM_ITEM_DUPLICATE]" in page and 'id="qty_per"' in page
    page = form_post(client, f"/defect-codes/edit/{code_id}", {"code": "SPEC_OUT_OF_LIMIT", "name": "Typed just now",
                                                              "category": "test"}).get_data(as_text=True)
    assert "[DEFECT_CODE_SYSTEM]" in page and 'value="Typed just now"' in page
    with app.app_context():
        code = db.session.get(DefectCode, code_id)
        assert code.is_active is True and code.name != "Typed just now"


def test_duplicate_code_in_a_form_is_shown_on_the_field(client, app):
    console_login(client, "engineer")
    page = form_post(client, "/materials/add", {"code": "MAT-MCU", "name": "again", "uom": "PCS"}).get_data(as_text=True)
    assert "Already exists" in page
    with app.app_context():
        assert count(Material, Material.code == "MAT-MCU") == 1


def test_deactivating_with_an_unticked_checkbox_works(client, app):
    console_login(client, "engineer")
    with app.app_context():
        station = db.session.execute(select(Station).filter_by(code="ST-AOI-01")).scalar_one()
        sid, line_id, group_id = station.id, station.line_id, station.group_id
    page = form_post(client, f"/stations/edit/{sid}", {"code": "ST-AOI-01", "name": "AOI 1", "line": line_id,
                                                       "group": group_id, "station_type": "MANUAL"})
    assert "Station ST-AOI-01 saved." in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Station, sid).is_active is False
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "STATION_UPDATE")).scalar_one()
        assert event.diff == {"before": {"is_active": True}, "after": {"is_active": False}}


def test_line_readiness_items_are_edited_as_a_list(client, app):
    console_login(client, "engineer")
    with app.app_context():
        lid = db.session.execute(select(Line.id).filter_by(code="LINE-DIP-A")).scalar_one()
    form_post(client, f"/lines/edit/{lid}", {"code": "LINE-DIP-A", "name": "DIP line A", "process_type": "DIP",
                                             "readiness_checks_enabled": ["ROUTE", "MATERIAL"], "is_active": "y"})
    with app.app_context():
        assert db.session.get(Line, lid).readiness_checks_enabled == ["ROUTE", "MATERIAL"]


def test_delete_of_a_referenced_row_is_refused_with_advice(client, app):
    console_login(client, "engineer")
    with app.app_context():
        lid = db.session.execute(select(Line.id).filter_by(code="LINE-SMT-A")).scalar_one()
    token = csrf_from(client.get("/lines/list/").get_data(as_text=True))
    page = client.post(f"/lines/delete/{lid}", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "LINE_IN_USE" in page and "Deactivate" in page
    with app.app_context():
        assert db.session.get(Line, lid) is not None


def test_form_post_without_csrf_token_is_refused(client, app):
    console_login(client, "engineer")
    response = client.post("/products/add", data={"code": "P-NOCSRF", "name": "x", "process_type": "SMT"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Product, Product.code == "P-NOCSRF") == 0


def test_csv_export_of_a_filtered_list(client):
    console_login(client, "engineer")
    export = client.get("/materials/csv?_flt_0_code=MAT-R10K")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = export.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert rows[0].startswith("Code,Name") and len(rows) == 3  # MAT-R10K and MAT-R10K-ALT (starts with)
    assert all("MAT-R10K" in r for r in rows[1:])


def test_friendly_pages_never_a_stack_trace(client):
    console_login(client, "operator")
    for url, status in (("/products/add", 403), ("/no-such-page", 404)):
        response = client.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == status
        assert "What to do" in page and "Traceback" not in page


def test_home_page_per_role(client):
    console_login(client, "engineer")
    home = client.get("/").get_data(as_text=True)
    assert "Products &amp; BOM" in home and "Users &amp; bindings" not in home
    client.get("/logout/")
    console_login(client, "admin")
    assert "Users &amp; bindings" in client.get("/").get_data(as_text=True)
    client.get("/logout/")
    console_login(client, "operator")
    home = client.get("/").get_data(as_text=True)
    assert "Products &amp; BOM" not in home and "Audit log" in home and "SOP library" in home


def test_admin_edits_user_bindings_on_the_user_screen(client, app):
    console_login(client, "admin")
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="operator2")).scalar_one()
        uid = user.id
        role_ids = [r.id for r in user.roles]
        station_id = db.session.execute(select(Station.id).filter_by(code="ST-PRINT-01")).scalar_one()
        stations = [s.id for s in user.stations] + [station_id]
    page = form_post(client, f"/users/edit/{uid}", {
        "first_name": "Omar", "last_name": "Operator", "username": "operator2", "email": "",
        "active": "y", "roles": role_ids, "stations": stations})
    assert "User operator2 saved." in page.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(MesUser, uid)
        assert "ST-PRINT-01" in [s.code for s in user.stations]
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "USER_UPDATE",
                                                            AuditEvent.entity_key == "operator2")).scalar_one()
        assert "ST-PRINT-01" in event.diff["after"]["stations"]
        assert "ST-PRINT-01" not in event.diff["before"]["stations"]


def test_admin_unlocks_a_locked_user(client, app):
    for _ in range(5):
        client.post("/api/v1/security/login", json={"username": "leader", "password": "Wrong-0000-xx", "provider": "db"})
    console_login(client, "admin")
    with app.app_context():
        uid = db.session.execute(select(MesUser.id).filter_by(username="leader")).scalar_one()
    token = csrf_from(client.get("/users/list/").get_data(as_text=True))
    page = client.post("/users/action_post", data={"action": "unlock", "rowid": [uid], "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Unlocked 1 user" in page
    client.get("/logout/")
    assert console_login(client, "leader").status_code == 302
    assert "Welcome, leader" in client.get("/").get_data(as_text=True)


def test_a_user_created_on_the_user_screen_can_sign_in(client, app):
    from flask_appbuilder.security.sqla.models import Role
    console_login(client, "admin")
    with app.app_context():
        role_id = db.session.execute(select(Role.id).filter_by(name="Planner")).scalar_one()
    page = form_post(client, "/users/add", {
        "first_name": "New", "last_name": "Planner", "username": "planner2", "email": "planner2@plant.local",
        "active": "y", "roles": [role_id], "password": "Plan-Ner-2026x", "conf_password": "Plan-Ner-2026x"})
    assert "User planner2 saved." in page.get_data(as_text=True)
    with app.app_context():
        stored = db.session.execute(select(MesUser.password).filter_by(username="planner2")).scalar_one()
        assert stored != "Plan-Ner-2026x" and stored.startswith(("pbkdf2:", "scrypt:"))
        assert count(AuditEvent, AuditEvent.action == "USER_CREATE", AuditEvent.entity_key == "planner2") == 1
    client.get("/logout/")
    assert console_login(client, "planner2", "Plan-Ner-2026x").headers["Location"] == "/"


def test_weak_password_is_refused_on_the_user_screen(client, app):
    from flask_appbuilder.security.sqla.models import Role
    console_login(client, "admin")
    with app.app_context():
        role_id = db.session.execute(select(Role.id).filter_by(name="Planner")).scalar_one()
    page = form_post(client, "/users/add", {
        "first_name": "Weak", "last_name": "Pw", "username": "weak", "email": "weak@plant.local",
        "active": "y", "roles": [role_id], "password": "password", "conf_password": "password"})
    assert "two capital letters" in page.get_data(as_text=True)
    with app.app_context():
        assert count(MesUser, MesUser.username == "weak") == 0


def test_unlock_is_audited(client, app):
    for _ in range(5):
        client.post("/api/v1/security/login", json={"username": "planner", "password": "Wrong-0000-xx", "provider": "db"})
    console_login(client, "admin")
    with app.app_context():
        uid = db.session.execute(select(MesUser.id).filter_by(username="planner")).scalar_one()
    token = csrf_from(client.get("/users/list/").get_data(as_text=True))
    client.post("/users/action_post", data={"action": "unlock", "rowid": [uid], "csrf_token": token})
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "USER_UNLOCK")).scalar_one()
        assert event.actor_username == "admin" and event.payload["unlocked"][0]["username"] == "planner"


def test_lists_show_blank_yes_no_and_relation_items_not_python_values(client):
    """Every CRUD list of the admin menu (master data, users, API keys): an empty value is a blank
    cell, a flag Yes/No, a relation its items — never None, True, False, [] or [a, b]. (List Roles has
    FAB's own widget, a dump of each role's permissions; it is left as FAB shows it.)"""
    console_login(client, "admin")
    home = client.get("/").get_data(as_text=True)
    lists = sorted(set(re.findall(r'href="(/[^"#?]*/list/)"', home)) - {"/roles/list/"})
    assert {"/products/list/", "/stations/list/", "/users/list/", "/apikeys/list/"} <= set(lists)
    python_cell = re.compile(r"<td>\s*(None|True|False|\[.*?\])\s*</td>", re.S)
    for url in lists:
        page = client.get(url).get_data(as_text=True)
        assert python_cell.findall(page) == [], url
    products = client.get("/products/list/").get_data(as_text=True)
    assert re.search(r"<td>\s*Yes\s*</td>", products)
    users = client.get("/users/list/").get_data(as_text=True)
    assert re.search(r"<td>\s*Admin\s*</td>", users) and "LINE-DIP-A, LINE-SMT-A" in users
    bom = client.get("/bom/list/").get_data(as_text=True)
    assert re.search(r"<td>\s*</td>", bom)  # a BOM line without a position: blank
