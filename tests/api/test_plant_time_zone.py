"""One time zone on every console screen (issue 17): with MES_TIMEZONE=Asia/Shanghai the readiness card,
Lot Recall, Integration Status, the routing editor and the Audit Log show plant-local times labelled
with their UTC offset (never the ambiguous "CST"), and the Audit Log's date filter means plant days."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, IntegrationMessage, Routing
from support import authorized_run, console_login, ok_data, ready_run

SHANGHAI = timedelta(hours=8)


@pytest.fixture
def shanghai(app, monkeypatch):
    monkeypatch.setitem(app.config, "MES_TIMEZONE", "Asia/Shanghai")
    return app


def local(moment: datetime, seconds: bool = True) -> str:
    """What the console must show for a stored UTC time in Shanghai."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    shown = (moment.astimezone(timezone.utc) + SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{shown} UTC+08:00"


def no_cst(page: str) -> None:
    assert "CST" not in page


def test_readiness_card_shows_the_evidence_time_in_the_plant_zone(client, api, shanghai):
    run_no = ready_run(api, qty=1)
    event_time = datetime.now(timezone.utc)  # the latest stencil status: the check's evidence
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": "T-TZ-STN-1", "eventTime": event_time.isoformat(),
        "stencilId": "STN-1001-A", "status": "READY"}))
    check = ok_data(api("leader").post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "FORMAL"}))
    console_login(client, "planner")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    card = page[page.index('id="readiness-card"'):page.index('id="readiness-items"') + 4000]
    assert local(datetime.fromisoformat(check["checkedAt"])) in card  # the check's time
    assert f"at {local(event_time, seconds=False)}" in card  # the stencil's evidence
    utc_text = event_time.strftime("%Y-%m-%d %H:%M")
    assert f"at {utc_text}" not in card  # the UTC evidence time is gone
    no_cst(page)


def test_lot_recall_and_integration_status_show_plant_times(client, api, app, shanghai):
    run_no = authorized_run(api, qty=1)  # its FAI trial board used the reels
    console_login(client, "quality")
    recall = ok_data(api("quality").get("/api/v1/trace/material-lots/MAT-MCU/LOT-M-001"))
    used = [u for u in recall["units"] if u["runNo"] == run_no]
    assert used, recall
    page = client.get("/lot-recall/MAT-MCU/LOT-M-001").get_data(as_text=True)
    assert local(datetime.fromisoformat(used[0]["usedAt"])) in page
    assert "Used at (UTC+08:00 (Asia/Shanghai))" in page and "(UTC)" not in page
    no_cst(page)

    with app.app_context():
        last = db.session.execute(select(func.max(IntegrationMessage.received_at))
                                  .where(IntegrationMessage.system == "TPM")).scalar_one()
    status = client.get("/integration/").get_data(as_text=True)
    assert local(last) in status
    assert "Times in UTC" not in status and "UTC+08:00 (Asia/Shanghai)" in status
    no_cst(status)


def test_routing_effective_dates_are_plant_dates(client, app, shanghai):
    with app.app_context():
        routing = db.session.execute(select(Routing).where(Routing.code == "RT-P2001-DIP")).scalar_one()
        # 18:00 UTC on 1 March is 02:00 on 2 March in Shanghai
        routing.effective_from = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
        db.session.commit()
    console_login(client, "engineer")
    page = client.get("/routings/RT-P2001-DIP").get_data(as_text=True)
    assert 'name="effective_from" value="2026-03-02"' in page
    assert "Effective from" in page and "(UTC)" not in page
    no_cst(page)
    from app.web.times import local_to_utc
    with app.app_context():  # the date typed back is the plant day's midnight, in UTC
        assert local_to_utc("2026-03-02") == datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)


def test_audit_filter_takes_plant_dates_and_rows_show_plant_time(client, api, app, shanghai):
    # 20:30 UTC on 3 March is 04:30 on 4 March in Shanghai; 15:30 UTC on 3 March is 23:30 on 3 March
    admin_api = api("admin")  # its token before the console session (the login API takes no cookie)
    late, early = datetime(2026, 3, 3, 20, 30, tzinfo=timezone.utc), datetime(2026, 3, 3, 15, 30, tzinfo=timezone.utc)
    with app.app_context():
        for key, at in (("TZ-LATE", late), ("TZ-EARLY", early)):
            db.session.add(AuditEvent(at=at, actor_username="admin", actor_type="USER", action="TZ_PROBE",
                                      entity_type="PROBE", entity_key=key, status="SUCCESS"))
        db.session.commit()
    console_login(client, "admin")
    march_4 = client.get("/audit/?action=TZ_PROBE&from=2026-03-04&to=2026-03-04").get_data(as_text=True)
    assert "TZ-LATE" in march_4 and "TZ-EARLY" not in march_4
    assert local(late) in march_4  # 2026-03-04 04:30:00 UTC+08:00
    march_3 = client.get("/audit/?action=TZ_PROBE&from=2026-03-03&to=2026-03-03").get_data(as_text=True)
    assert "TZ-EARLY" in march_3 and "TZ-LATE" not in march_3
    assert local(early) in march_3
    # a local time range: 04:00–05:00 plant time on 4 March holds only the late event
    hour = client.get("/audit/?action=TZ_PROBE&from=2026-03-04T04:00&to=2026-03-04T05:00").get_data(as_text=True)
    assert "TZ-LATE" in hour and "TZ-EARLY" not in hour
    assert 'id="audit-zone"' in hour and "UTC+08:00 (Asia/Shanghai)" in hour
    no_cst(march_4 + march_3 + hour)
    # the API reads the same plant dates; an explicit offset is honoured as given
    events = ok_data(admin_api.get("/api/v1/audit-events?action=TZ_PROBE&from=2026-03-04"))
    assert [e["entityKey"] for e in events] == ["TZ-LATE"]
    events = ok_data(admin_api.get(
        "/api/v1/audit-events?action=TZ_PROBE&from=2026-03-03T15:00:00%2B00:00&to=2026-03-03T16:00:00%2B00:00"))
    assert [e["entityKey"] for e in events] == ["TZ-EARLY"]
