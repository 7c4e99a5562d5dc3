"""Authentication: JWT login, API keys, login lockout and rate limit, audited logins, envelopes."""
import pytest
import time
from datetime import timedelta

from flask_jwt_extended import create_access_token, create_refresh_token

from app.models import AuditEvent, MesUser
from support import DEMO_PASSWORD, INTEGRATION_KEY, count


def login(client, username, password):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db", "refresh": True})


def test_login_gives_tokens_that_open_the_api(client):
    response = login(client, "planner", DEMO_PASSWORD)
    assert response.status_code == 200
    tokens = response.get_json()
    assert tokens["access_token"] and tokens["refresh_token"]
    me = client.get("/api/v1/audit-events", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["meta"]["total"] >= 1  # the login itself is an audit event of the user


def test_bad_password_is_401_in_the_envelope_and_audited(client, app):
    response = login(client, "planner", "wrong-password")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        row = db.session.execute(select(AuditEvent).where(AuditEvent.action == "LOGIN_FAILED")
                                 .order_by(AuditEvent.id.desc())).scalars().first()
        assert row.entity_key == "planner" and row.status == "FAIL" and row.error_code == "UNAUTHORIZED"


def test_unknown_user_login_is_audited_too(client, app):
    assert login(client, "nobody", "whatever-1").status_code == 401
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "LOGIN_FAILED", AuditEvent.entity_key == "nobody") == 1


def test_successful_login_is_audited(client, app):
    assert login(client, "quality", DEMO_PASSWORD).status_code == 200
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "LOGIN", AuditEvent.actor_username == "quality") == 1


def test_five_failures_lock_the_account_and_an_admin_unlocks_it(client, app):
    for _ in range(5):
        assert login(client, "operator", "Wrong-Pass-0000").status_code == 401
    locked = login(client, "operator", DEMO_PASSWORD)
    assert locked.status_code == 401
    assert locked.get_json()["error"]["code"] == "ACCOUNT_LOCKED"
    with app.app_context():
        assert count(AuditEvent, AuditEvent.error_code == "ACCOUNT_LOCKED") >= 1
        from app.extensions import db
        user = db.session.execute(db.select(MesUser).filter_by(username="operator")).scalar_one()
        user.fail_login_count = 0  # what the admin's "Unlock login" action does
        db.session.commit()
    assert login(client, "operator", DEMO_PASSWORD).status_code == 200


def test_login_rate_limit_per_address(client):
    statuses = [login(client, "nobody", "x").status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    body = login(client, "nobody", "x").get_json()
    assert body["error"]["code"] == "RATE_LIMITED"


def test_api_key_authenticates_the_integration_account(client):
    response = client.get("/api/v1/audit-events", headers={"Authorization": f"Bearer {INTEGRATION_KEY}"})
    # the integration role has no audit:read (it is a machine account): authenticated, then refused
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"


def test_wrong_api_key_is_401(client):
    response = client.get("/api/v1/audit-events", headers={"Authorization": "Bearer sst_not-a-real-key"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"
    fab = client.get("/api/v1/products/", headers={"Authorization": "Bearer sst_not-a-real-key"})
    assert fab.status_code == 401 and fab.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_no_credentials_and_malformed_tokens_are_401_envelopes(client):
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Bearer abc"}):
        for path in ("/api/v1/audit-events", "/api/v1/products/"):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_expired_and_refresh_tokens_are_refused(client, app):
    with app.app_context():
        from app.extensions import db
        user_id = str(db.session.execute(db.select(MesUser.id).filter_by(username="planner")).scalar_one())
        expired = create_access_token(identity=user_id, expires_delta=timedelta(seconds=-10))
        refresh = create_refresh_token(identity=user_id)
    for token in (expired, refresh):
        for path in ("/api/v1/audit-events", "/api/v1/products/"):
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, path
            assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_a_token_accepted_before_is_refused_once_it_expires(client, app):
    """The verified claims of a token are kept per process, but only until the token expires."""
    with app.app_context():
        from app.extensions import db
        user_id = str(db.session.execute(db.select(MesUser.id).filter_by(username="planner")).scalar_one())
        token = create_access_token(identity=user_id, expires_delta=timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/audit-events", headers=headers).status_code == 200
    time.sleep(2.1)
    response = client.get("/api/v1/audit-events", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_deactivated_user_loses_access_at_once(client, app, api):
    assert api("manager").get("/api/v1/audit-events").status_code == 200
    with app.app_context():
        from app.extensions import db
        user = db.session.execute(db.select(MesUser).filter_by(username="manager")).scalar_one()
        user.active = False
        db.session.commit()
    assert api("manager").get("/api/v1/audit-events").status_code == 401
    assert api("manager").get("/api/v1/products/").status_code == 401


def test_console_login_is_rate_limited_too(client):
    from support import csrf_from
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    statuses = [client.post("/login/", data={"username": "nobody", "password": "x", "csrf_token": token}).status_code
                for _ in range(21)]
    assert statuses[:20] == [302] * 20 and statuses[20] == 429
    page = client.post("/login/", data={"username": "nobody", "password": "x", "csrf_token": token})
    assert page.status_code == 429 and "Too many attempts" in page.get_data(as_text=True)


def test_locked_account_is_told_so_on_the_console(client):
    from support import console_login
    for _ in range(5):
        login(client, "material", "Wrong-Pass-0000")
    response = console_login(client, "material")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "locked after 5 failed sign-ins" in page


def test_integration_account_cannot_sign_in_with_the_demo_password(client):
    assert login(client, "integration", DEMO_PASSWORD).status_code == 401


def test_the_first_use_of_an_api_key_waits_for_a_writer_instead_of_failing(app, fresh_db):
    """SQLite: the first use of an API key in a process runs the slow hash check (tens of milliseconds)
    in a read transaction; a writer that commits meanwhile must not make the save of the key's last use
    fail ("database is locked", a 500): the save takes the write lock in a transaction of its own."""
    import sqlite3
    import threading

    from app.security.actors import clear_caches
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        pytest.skip("SQLite's single writer (PostgreSQL locks rows)")
    path = url[len("sqlite:///"):]

    def write() -> None:
        writer = sqlite3.connect(path, isolation_level=None, timeout=10)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("CREATE TABLE IF NOT EXISTS zz_writer_probe (x INTEGER)")
        writer.execute("INSERT INTO zz_writer_probe VALUES (1)")
        writer.execute("COMMIT")
        writer.close()

    answers = []
    for delay in (0.005, 0.015, 0.03):  # a writer committing during the check, wherever it falls
        clear_caches()  # the key is new to this process: the full check again
        timer = threading.Timer(delay, write)
        timer.start()
        answers.append(app.test_client().get("/api/v1/audit-events",
                                             headers={"Authorization": f"Bearer {INTEGRATION_KEY}"}))
        timer.join()
    # authenticated, then refused: the integration account has no audit:read (never a 500, never a 401)
    assert [(a.status_code, a.get_json()["error"]["code"]) for a in answers] == [(403, "FORBIDDEN")] * 3
