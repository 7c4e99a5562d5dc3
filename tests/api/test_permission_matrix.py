"""The permission matrix of the preset roles for the master-data screens and APIs (00_overview):
read for every human role, write for Admin and Engineer (defect codes: also Quality); the
Integration machine account reaches none of them. A refused call writes nothing."""
import pytest

from app.models import AuditEvent
from support import console_login, count

RESOURCES = {  # api path -> (console list URL, writers)
    "products": ("/products/list/", {"admin", "engineer"}),
    "materials": ("/materials/list/", {"admin", "engineer"}),
    "material-lots": ("/material-lots/list/", {"admin", "engineer"}),
    "bom-items": ("/bom/list/", {"admin", "engineer"}),
    "lines": ("/lines/list/", {"admin", "engineer"}),
    "station-groups": ("/station-groups/list/", {"admin", "engineer"}),
    "stations": ("/stations/list/", {"admin", "engineer"}),
    "operations": ("/operations/list/", {"admin", "engineer"}),
    "equipment": ("/equipment/list/", {"admin", "engineer"}),
    "defect-codes": ("/defect-codes/list/", {"admin", "engineer", "quality"}),
}
HUMANS = ["admin", "planner", "engineer", "quality", "leader", "material", "operator", "manager"]


@pytest.mark.parametrize("user", HUMANS + ["integration"])
def test_master_data_api_matrix(api, app, user):
    caller = api(user)
    with app.app_context():
        audit_before = count(AuditEvent, AuditEvent.status == "SUCCESS")
    for resource, (_, writers) in RESOURCES.items():
        read = caller.get(f"/api/v1/{resource}/")
        assert read.status_code == (403 if user == "integration" else 200), (user, resource)
        # an empty body: a writer gets past the permission check to validation (422), others 403
        write = caller.post(f"/api/v1/{resource}/", json={})
        expected = 422 if user in writers else 403
        assert write.status_code == expected, (user, resource, write.get_json())
        if expected == 403:
            assert write.get_json()["error"]["code"] == "FORBIDDEN"
    with app.app_context():
        assert count(AuditEvent, AuditEvent.status == "SUCCESS") == audit_before


@pytest.mark.parametrize("user", HUMANS)
def test_master_data_console_matrix(client, user):
    assert console_login(client, user).status_code == 302
    home = client.get("/").get_data(as_text=True)
    engineering_menu = "Engineering" in home and "/products/list/" in home
    assert engineering_menu == (user in ("admin", "engineer")), user
    for _, (list_url, writers) in RESOURCES.items():
        assert client.get(list_url).status_code == 200, (user, list_url)
        add_url = list_url.replace("/list/", "/add")
        response = client.get(add_url)
        assert response.status_code == (200 if user in writers else 403), (user, add_url)
        if response.status_code == 403:
            page = response.get_data(as_text=True)
            assert "Not allowed" in page and "Traceback" not in page


def test_defect_codes_menu_for_quality_not_for_operator(client):
    console_login(client, "quality")
    assert "/defect-codes/list/" in client.get("/").get_data(as_text=True)
    client.get("/logout/")
    console_login(client, "operator")
    page = client.get("/").get_data(as_text=True)
    assert "/defect-codes/list/" not in page and "/products/list/" not in page


@pytest.mark.parametrize("user,sees_security", [("admin", True), ("engineer", False), ("manager", False)])
def test_security_screens_are_admin_only(client, user, sees_security):
    console_login(client, user)
    assert (client.get("/users/list/").status_code == 200) == sees_security
    assert (client.get("/rolescopes/list/").status_code == 200) == sees_security
    assert (client.get("/apikeys/list/").status_code == 200) == sees_security
