"""The audit trail: append-only at the database, own events vs all events, filters, exports."""
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AuditEvent
from app.models.audit import AuditAppendOnlyError
from support import console_login


def test_update_and_delete_fail_at_the_database(app_ctx):
    event_id = db.session.execute(select(AuditEvent.id).limit(1)).scalar_one()
    with db.engine.connect() as conn:
        for statement in (f"UPDATE audit_event SET action = 'TAMPERED' WHERE id = {event_id}",
                          f"DELETE FROM audit_event WHERE id = {event_id}",
                          "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="append-only"):
                with conn.begin():
                    conn.execute(text(statement))
    assert db.session.get(AuditEvent, event_id).action != "TAMPERED"


@pytest.mark.postgresql_only
def test_truncate_fails_on_postgresql(app_ctx):
    with db.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            with conn.begin():
                conn.execute(text("TRUNCATE audit_event"))


def test_the_orm_refuses_too(app_ctx):
    event = db.session.execute(select(AuditEvent).limit(1)).scalar_one()
    event.action = "TAMPERED"
    with pytest.raises(AuditAppendOnlyError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.execute(select(AuditEvent).limit(1)).scalar_one())
    with pytest.raises(AuditAppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_triggers_exist(app_ctx):
    if db.engine.dialect.name == "sqlite":
        names = {r[0] for r in db.session.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))}
        assert {"audit_event_no_update", "audit_event_no_delete"} <= names
    else:
        names = {r[0] for r in db.session.execute(text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass AND NOT tgisinternal"))}
        assert {"audit_event_no_update_delete", "audit_event_no_truncate"} <= names


def test_users_see_their_own_events_managers_see_all(api):
    api("engineer").post("/api/v1/products/", json={"code": "P-AUD", "name": "x", "process_type": "SMT"})
    own = api("operator").get("/api/v1/audit-events?entityKey=P-AUD").get_json()
    assert own["data"] == [] and own["meta"]["total"] == 0
    engineer = api("engineer").get("/api/v1/audit-events?entityKey=P-AUD").get_json()["data"]
    assert [e["action"] for e in engineer] == ["PRODUCT_CREATE"]
    manager = api("manager").get("/api/v1/audit-events?entityKey=P-AUD").get_json()
    assert manager["meta"]["total"] == 1 and manager["data"][0]["actor"] == "engineer"
    assert all(e["actor"] == "operator" for e in api("operator").get("/api/v1/audit-events").get_json()["data"])


def test_filters_and_paging(api):
    for code in ("P-F1", "P-F2", "P-F3"):
        api("engineer").post("/api/v1/products/", json={"code": code, "name": "x", "process_type": "SMT"})
    api("engineer").post("/api/v1/products/", json={"code": "P-F1", "name": "dup", "process_type": "SMT"})
    manager = api("manager")
    body = manager.get("/api/v1/audit-events?action=PRODUCT_CREATE&actor=engineer&status=SUCCESS&pageSize=2").get_json()
    assert body["meta"] == {"page": 1, "pageSize": 2, "total": 3}
    assert len(body["data"]) == 2
    page2 = manager.get("/api/v1/audit-events?action=PRODUCT_CREATE&actor=engineer&status=SUCCESS&pageSize=2&page=2").get_json()
    assert len(page2["data"]) == 1
    fails = manager.get("/api/v1/audit-events?status=FAIL&entityType=PRODUCT").get_json()["data"]
    assert [(e["entityKey"], e["errorCode"]) for e in fails] == [("P-F1", "PRODUCT_CODE_DUPLICATE")]
    today = manager.get("/api/v1/audit-events?from=2000-01-01&to=2999-12-31&action=PRODUCT_CREATE").get_json()  # 3 + 1 FAIL
    assert today["meta"]["total"] == 4
    bad = manager.get("/api/v1/audit-events?from=yesterday")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_events_carry_request_id_and_address(api):
    api("engineer").post("/api/v1/products/", json={"code": "P-RID", "name": "x", "process_type": "SMT"},
                         headers={"X-Request-ID": "scanner-42-0001"})
    event = api("manager").get("/api/v1/audit-events?entityKey=P-RID").get_json()["data"][0]
    assert event["requestId"] == "scanner-42-0001" and event["ip"] == "127.0.0.1"
    assert event["actorRoles"] == ["Engineer"] and event["actorType"] == "USER"


def test_audit_log_screen_filters_and_exports_csv(client, api):
    api("engineer").post("/api/v1/products/", json={"code": "P-CSV", "name": "x", "process_type": "SMT"})
    console_login(client, "manager")
    page = client.get("/audit/?entityKey=P-CSV").get_data(as_text=True)
    assert "PRODUCT_CREATE" in page and "1 event(s)" in page
    export = client.get("/audit/csv?entityKey=P-CSV")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("at,actor") and len(lines) == 2 and "PRODUCT_CREATE" in lines[1]


def test_operator_audit_screen_shows_own_events_only(client, api):
    api("engineer").post("/api/v1/products/", json={"code": "P-OWN", "name": "x", "process_type": "SMT"})
    console_login(client, "operator")
    page = client.get("/audit/?entityKey=P-OWN").get_data(as_text=True)
    assert "your own events" in page and "0 event(s)" in page
