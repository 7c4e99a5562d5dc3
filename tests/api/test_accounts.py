"""Accounts (issue 17): every person changes their own password on the Profile page; a line leader unlocks
a locked operator (Security → Locked Accounts, `POST /api/v1/users/{username}/unlock`), never an
administrator; the users list shows who is locked; e-mail is optional; the user screen says what it saved."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, MesUser
from app.security.permissions import HUMAN, PRESET_ROLES, ROLE_LETTERS, SELF_SERVICE_PAIRS, role_pairs
from support import BACKEND, DEMO_PASSWORD, ApiAs, console_login, count, csrf_from, jwt_token, password_for

NEW_PASSWORD = "Own-Choice-2027!"
WRONG = "Wrong-Pass-0000x"
# the demo user of each human preset role (seed/demo.yaml; admin from MES_ADMIN_PASSWORD)
DEMO_USER = {"Admin": "admin", "Planner": "planner", "Engineer": "engineer", "Quality": "quality",
             "Leader": "leader", "Material": "material", "Operator": "operator", "Manager": "manager"}


@pytest.fixture
def browser(app, fresh_db):
    """`browser()`: a new, plain test client (like a new browser; no preserved request context)."""
    return app.test_client


@pytest.fixture
def api(app, fresh_db):
    """`api("leader")`: REST calls with the user's JWT from a plain test client (the conftest `api` client
    preserves its request context, which would lend its user to the console sign-ins of these tests)."""
    def as_user(username):
        client = app.test_client()
        return ApiAs(client, {"Authorization": f"Bearer {jwt_token(client, username, BACKEND)}"})
    return as_user


def _signed_in(client, username, password=None):
    response = console_login(client, username, password)
    assert response.status_code == 302 and "/login" not in response.headers["Location"], response.data[:300]
    return client


def _refused(client, username, password) -> bool:
    response = console_login(client, username, password)
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _user(username) -> MesUser:
    return db.session.execute(select(MesUser).filter_by(username=username)).scalar_one()


def _post_form(client, url, data):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _lock(browser, username, times=5):
    client = browser()
    for _ in range(times):
        assert _refused(client, username, WRONG)


# ---------------------------------------------------------------------------------------------
# 1. Own profile and password, for every human preset role
# ---------------------------------------------------------------------------------------------

def test_every_human_preset_role_gets_the_self_service_permissions_and_has_a_demo_user():
    humans = {ROLE_LETTERS[letter] for letter in HUMAN}
    assert humans == set(DEMO_USER) and humans <= set(PRESET_ROLES)
    for role in humans - {"Admin"}:
        assert set(SELF_SERVICE_PAIRS) <= role_pairs(role), role
    # the device and machine accounts sign in with API keys: no profile, no password form
    for role in ("Board", "Integration"):
        assert not set(SELF_SERVICE_PAIRS) & role_pairs(role), role


@pytest.mark.parametrize("role", sorted(DEMO_USER))
def test_every_role_changes_its_own_password_on_the_profile_page(browser, app, role):
    username = DEMO_USER[role]
    client = _signed_in(browser(), username)
    profile = client.get("/users/userinfo/")
    assert profile.status_code == 200
    page = profile.get_data(as_text=True)
    assert username in page and "Reset my password" in page
    assert f"[{role}]" not in page and ">True<" not in page  # the role and flag as words, not Python values
    with app.app_context():
        old_hash = _user(username).password
        uid = _user(username).id
    button = client.post(f"/users/action/resetmypassword/{uid}", data={"csrf_token": csrf_from(page)})
    assert button.status_code == 302 and button.headers["Location"].endswith("/resetmypassword/form")

    weak = _post_form(client, "/resetmypassword/form", {"password": "short", "conf_password": "short"})
    assert weak.status_code == 200
    assert "Must have at least two capital letters, one special character, two digits, three lower case " \
           "letters and a minimal length of 10." in weak.get_data(as_text=True)
    mismatch = _post_form(client, "/resetmypassword/form", {"password": NEW_PASSWORD,
                                                            "conf_password": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 200 and "Passwords must match" in mismatch.get_data(as_text=True)
    with app.app_context():
        assert _user(username).password == old_hash  # nothing changed by the refused forms

    changed = _post_form(client, "/resetmypassword/form", {"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})
    assert changed.status_code == 302, changed.get_data(as_text=True)[:500]
    client.get("/logout/")
    assert _refused(browser(), username, password_for(username))  # the old password is refused
    _signed_in(browser(), username, NEW_PASSWORD)
    with app.app_context():
        assert _user(username).password != old_hash


def test_the_profile_reaches_nobody_elses_account(browser, app):
    client = _signed_in(browser(), "leader")
    with app.app_context():
        operator_id = _user("operator").id
        operator_hash = _user("operator").password
        leader_id = _user("leader").id
    for path in (f"/users/edit/{operator_id}", f"/users/show/{operator_id}", f"/users/edit/{leader_id}",
                 "/users/list/", f"/resetpassword/form?pk={operator_id}"):
        assert client.get(path).status_code == 403, path
    token = csrf_from(client.get("/resetmypassword/form").get_data(as_text=True))
    assert client.post(f"/resetpassword/form?pk={operator_id}", data={
        "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD, "csrf_token": token}).status_code == 403
    # the own-password form changes the signed-in user's password whatever the URL says
    assert client.post(f"/resetmypassword/form?pk={operator_id}", data={
        "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD, "csrf_token": token}).status_code == 302
    with app.app_context():
        assert _user("operator").password == operator_hash
    _signed_in(browser(), "leader", NEW_PASSWORD)
    _signed_in(browser(), "operator", DEMO_PASSWORD)
    # "Edit User" on the profile: the own name only, whatever else the form is sent
    admin_role = _role_id(app, "Admin")
    edited = _post_form(client, "/userinfoeditview/form", {"first_name": "Leo", "last_name": "Lead",
                                                           "username": "root", "roles": [admin_role], "active": ""})
    assert edited.status_code == 302
    with app.app_context():
        leader = _user("leader")
        assert (leader.first_name, leader.username, leader.active) == ("Leo", "leader", True)
        assert [r.name for r in leader.roles] == ["Leader"]


# ---------------------------------------------------------------------------------------------
# 2. A line leader unlocks a locked operator
# ---------------------------------------------------------------------------------------------

def test_a_leader_unlocks_a_locked_operator_on_the_locked_accounts_screen(browser, app):
    _lock(browser, "operator")
    locked = console_login(browser(), "operator", DEMO_PASSWORD)  # the right password, but locked
    assert "/login" in locked.headers["Location"]

    leader = _signed_in(browser(), "leader")
    home = leader.get("/").get_data(as_text=True)
    assert "/locked-accounts/" in home  # Security → Locked Accounts
    page = leader.get("/locked-accounts/").get_data(as_text=True)
    assert 'data-username="operator"' in page and 'id="unlock-operator"' in page
    done = _post_form(leader, "/locked-accounts/operator/unlock", {"reason": "Olga mistyped at shift start"})
    assert done.status_code == 302
    after = leader.get("/locked-accounts/").get_data(as_text=True)
    assert "operator is unlocked and can sign in again." in after
    assert 'data-username="operator"' not in after and 'id="no-locked-accounts"' in after
    help_link = re.search(r'href="(/help/[^"#]+)#([^"]+)"', after)
    assert help_link and f'id="{help_link.group(2)}"' in leader.get(help_link.group(1)).get_data(as_text=True)

    _signed_in(browser(), "operator", DEMO_PASSWORD)
    with app.app_context():
        user = _user("operator")
        assert user.last_failed_login_at is None
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "USER_UNLOCK")).scalar_one()
        assert (event.actor_username, event.entity_key, event.status) == ("leader", "operator", "SUCCESS")
        assert event.reason == "Olga mistyped at shift start"
        assert event.payload["unlocked"] == [{"username": "operator", "failedCount": 5, "wasLocked": True}]


def test_a_leader_cannot_unlock_an_administrator_nor_a_user_of_other_lines(browser, api, app):
    as_admin = api("admin")  # signed in (a token) before the account locks
    _lock(browser, "admin")
    _lock(browser, "planner")  # scope ALL, bound to no line: not the leader's to unlock
    leader = _signed_in(browser(), "leader")
    page = leader.get("/locked-accounts/").get_data(as_text=True)
    assert 'data-username="admin"' not in page and 'data-username="planner"' not in page
    refused = _post_form(leader, "/locked-accounts/admin/unlock", {})
    assert refused.status_code == 302
    assert "admin is an administrator account: only an administrator can unlock it." in \
        leader.get("/locked-accounts/").get_data(as_text=True)

    answer = api("leader").post("/api/v1/users/admin/unlock", json={})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "FORBIDDEN"
    answer = api("leader").post("/api/v1/users/planner/unlock", json={})
    assert answer.status_code == 403 and "none of your lines" in answer.get_json()["error"]["message"]
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "USER_UNLOCK", AuditEvent.status == "SUCCESS") == 0
        assert _user("admin").last_failed_login_at is not None
    assert "/login" in console_login(browser(), "admin").headers["Location"]  # still locked

    # an administrator unlocks both
    assert {r["username"] for r in as_admin.get("/api/v1/users/locked").get_json()["data"]} == {"admin", "planner"}
    assert as_admin.post("/api/v1/users/admin/unlock", json={}).get_json()["data"]["unlocked"] is True
    assert as_admin.post("/api/v1/users/planner/unlock", json={"reason": "phone call"}).status_code == 200
    _signed_in(browser(), "admin")
    _signed_in(browser(), "planner")


@pytest.mark.parametrize("user", ["operator", "planner", "quality", "material", "manager", "engineer"])
def test_only_leaders_and_administrators_may_unlock(browser, api, app, user):
    _lock(browser, "operator2")
    client = _signed_in(browser(), user)
    assert client.get("/locked-accounts/").status_code == 403
    profile = client.get("/users/userinfo/").get_data(as_text=True)
    assert "/locked-accounts/" not in profile  # not in the menu
    token = csrf_from(profile)
    assert client.post("/locked-accounts/operator2/unlock", data={"csrf_token": token}).status_code == 403
    for call in (api(user).get("/api/v1/users/locked"), api(user).post("/api/v1/users/operator2/unlock", json={})):
        assert call.status_code == 403 and call.get_json()["error"]["code"] == "FORBIDDEN"
    with app.app_context():
        assert _user("operator2").last_failed_login_at is not None
        assert count(AuditEvent, AuditEvent.action == "USER_UNLOCK") == 0


def test_the_unlock_api_lists_and_unlocks_within_the_leaders_lines(browser, api, app):
    _lock(browser, "operator2")
    _lock(browser, "material", times=3)  # failed sign-ins, not locked
    locked = api("leader").get("/api/v1/users/locked")
    assert locked.status_code == 200
    rows = locked.get_json()["data"]
    assert [r["username"] for r in rows] == ["operator2"]
    assert rows[0]["locked"] is True and rows[0]["failedLogins"] == 5 and rows[0]["lockedUntil"]
    assert rows[0]["stations"] == ["ST-DIP-INS-01", "ST-DIP-POST-01", "ST-DIP-TEST-01", "ST-DIP-WAVE-01"]

    unknown = api("leader").post("/api/v1/users/nobody/unlock", json={})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "USER_NOT_FOUND"
    bad = api("leader").post("/api/v1/users/operator2/unlock", json={"reason": "x" * 2001})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"

    done = api("leader").post("/api/v1/users/operator2/unlock", json={"reason": "new shift"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["data"]["unlocked"] is True and done.get_json()["data"]["locked"] is False
    again = api("leader").post("/api/v1/users/operator2/unlock", json={})
    assert again.status_code == 200 and again.get_json()["data"]["unlocked"] is False  # nothing to clear
    # failed sign-ins below the limit are cleared too (the counter starts again)
    assert api("leader").post("/api/v1/users/material/unlock", json={}).get_json()["data"]["unlocked"] is True
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "USER_UNLOCK")
                                    .order_by(AuditEvent.id)).scalars().all()
        assert [(e.entity_key, e.actor_username, e.status, e.error_code, e.reason) for e in events] == [
            ("nobody", "leader", "FAIL", "USER_NOT_FOUND", None),  # a refused attempt is audited too
            ("operator2", "leader", "SUCCESS", None, "new shift"), ("material", "leader", "SUCCESS", None, None)]
        assert _user("operator2").fail_login_count == 0
    _signed_in(browser(), "operator2")


def test_the_login_page_tells_a_locked_user_to_ask_the_leader(browser):
    _lock(browser, "operator")
    client = browser()
    response = console_login(client, "operator", DEMO_PASSWORD)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This account is locked after 5 failed sign-ins. Wait 5 minutes, or ask your line leader or an " \
           "administrator to unlock it." in page


# ---------------------------------------------------------------------------------------------
# 3. The users list shows who is locked
# ---------------------------------------------------------------------------------------------

def _row_of(page: str, username: str) -> str:
    rows = [r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if re.search(rf"<td>\s*{username}\s*</td>", r)]
    assert len(rows) == 1, username
    return rows[0]


def test_the_users_list_shows_who_is_locked_until_when(browser, app):
    _lock(browser, "operator")
    admin = _signed_in(browser(), "admin")
    page = admin.get("/users/list/").get_data(as_text=True)
    assert "<th>Locked until</th>" in page
    with app.app_context():
        until = _user("operator").last_failed_login_at
    cells = re.findall(r"<td>\s*(.*?)\s*</td>", _row_of(page, "operator"), re.S)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", cells[-1]), cells
    assert cells[-1][:10] == until.strftime("%Y-%m-%d")
    assert re.findall(r"<td>\s*(.*?)\s*</td>", _row_of(page, "planner"), re.S)[-1] == ""
    with app.app_context():
        uid = _user("operator").id
    show = admin.get(f"/users/show/{uid}").get_data(as_text=True)
    assert "Locked until" in show


# ---------------------------------------------------------------------------------------------
# 4. E-mail optional, our help texts; 5. "User jdoe saved."
# ---------------------------------------------------------------------------------------------

def _role_id(app, name):
    from flask_appbuilder.security.sqla.models import Role
    with app.app_context():
        return db.session.execute(select(Role.id).filter_by(name=name)).scalar_one()


def _add_user(client, app, username, email="", role="Operator"):
    return _post_form(client, "/users/add", {
        "first_name": "Jo", "last_name": "Doe", "username": username, "email": email, "active": "y",
        "roles": [_role_id(app, role)], "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})


def test_two_users_without_e_mail_coexist_and_sign_in(browser, app):
    admin = _signed_in(browser(), "admin")
    form = admin.get("/users/add").get_data(as_text=True)
    assert "unused for OID auth" not in form and "OID" not in form
    assert "Optional. The person&#39;s e-mail address" in form or "Optional. The person's e-mail address" in form
    first = _add_user(admin, app, "jdoe")
    assert first.status_code == 302, first.get_data(as_text=True)[:800]
    assert "User jdoe saved." in admin.get(first.headers["Location"]).get_data(as_text=True)
    assert _add_user(admin, app, "asmith").status_code == 302
    with app.app_context():
        assert _user("jdoe").email == "jdoe@users.invalid" and _user("asmith").email == "asmith@users.invalid"
        assert count(AuditEvent, AuditEvent.action == "USER_CREATE", AuditEvent.entity_key == "jdoe") == 1
        jdoe_id = _user("jdoe").id
    listing = admin.get("/users/list/").get_data(as_text=True)
    assert "users.invalid" not in listing
    edit = admin.get(f"/users/edit/{jdoe_id}").get_data(as_text=True)
    assert "users.invalid" not in edit  # the e-mail field is blank
    _signed_in(browser(), "jdoe", NEW_PASSWORD)
    _signed_in(browser(), "asmith", NEW_PASSWORD)


def test_an_e_mail_is_kept_checked_and_unique(browser, app):
    admin = _signed_in(browser(), "admin")
    assert _add_user(admin, app, "jdoe", email="jdoe@plant.example").status_code == 302
    taken = _add_user(admin, app, "asmith", email="JDOE@plant.example")
    assert taken.status_code == 200  # the form again, with the message on the field
    assert "Another user has the e-mail JDOE@plant.example: give another one or leave it blank." in \
        taken.get_data(as_text=True)
    invalid = _add_user(admin, app, "asmith", email="not an address")
    assert invalid.status_code == 200 and "Give an e-mail address like name@example.com" in \
        invalid.get_data(as_text=True)
    with app.app_context():
        assert _user("jdoe").email == "jdoe@plant.example"
        assert count(MesUser, MesUser.username == "asmith") == 0
        jdoe_id = _user("jdoe").id
        role_id = _user("jdoe").roles[0].id
    # removing the e-mail on edit: blank is stored as the placeholder; the name is in the message
    changed = _post_form(admin, f"/users/edit/{jdoe_id}", {
        "first_name": "Jo", "last_name": "Doe", "username": "jdoe", "email": "", "active": "y",
        "roles": [role_id]})
    assert changed.status_code == 302, changed.get_data(as_text=True)[:800]
    assert "User jdoe saved." in admin.get(changed.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert _user("jdoe").email == "jdoe@users.invalid"


def test_the_user_screen_names_the_user_it_deleted(browser, app):
    admin = _signed_in(browser(), "admin")
    assert _add_user(admin, app, "temp1").status_code == 302
    with app.app_context():
        uid = _user("temp1").id
    token = csrf_from(admin.get("/users/list/").get_data(as_text=True))
    deleted = admin.post(f"/users/delete/{uid}", data={"csrf_token": token}, follow_redirects=True)
    page = deleted.get_data(as_text=True)
    assert "User temp1 deleted." in page and "Deleted Row" not in page
    with app.app_context():
        assert count(MesUser, MesUser.username == "temp1") == 0
