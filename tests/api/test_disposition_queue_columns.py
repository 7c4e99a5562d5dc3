"""Issue 17, "Finish": the disposition queue shows when each defect was recorded, at which station and by
whom — a station FAIL (the station, its operator), an AOI machine FAIL (the AOI station, the system), a
defect found by hand (no station, the quality user) — on the screen, in `GET /defects/queue` and in
its CSV / XLSX export."""
import csv
import io
import uuid
from datetime import datetime, timezone

from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Defect
from support import SMT_STATIONS, authorized_run, build_unit, console_login, ok_data

SPI, AOI = SMT_STATIONS[20], SMT_STATIONS[50]


def boards_with_defects(api):
    """Three boards of one run: a station FAIL at SPI, an AOI machine FAIL, a defect found by hand."""
    run_no = authorized_run(api, qty=3, units=3)
    station_fail, machine_fail, by_hand = (f"{run_no}-000{i}" for i in (1, 2, 3))
    build_unit(api, run_no, station_fail, until=10)
    ok_data(api("leader").post(f"/api/v1/stations/{SPI}/track-in", json={"sn": station_fail, "runNo": run_no}))
    ok_data(api("leader").post(f"/api/v1/stations/{SPI}/track-out", json={
        "sn": station_fail, "runNo": run_no, "result": "FAIL", "data": [],
        "defect": {"code": "INSUFFICIENT_SOLDER", "location": "U2"}}))
    build_unit(api, run_no, machine_fail, until=40)
    ok_data(api("integration").post("/api/v1/integration/inspection-results", json={
        "eventId": f"EV-{uuid.uuid4().hex[:12]}", "eventTime": datetime.now(timezone.utc).isoformat(),
        "type": "AOI", "sn": machine_fail, "stationCode": AOI, "result": "FAIL",
        "defects": [{"code": "SOLDER_BRIDGE", "location": "U7"}]}))
    ok_data(api("operator").post(f"/api/v1/stations/{AOI}/track-in", json={"sn": machine_fail, "runNo": run_no}))
    ok_data(api("operator").post(f"/api/v1/stations/{AOI}/track-out", json={
        "sn": machine_fail, "runNo": run_no, "result": "PASS", "data": []}))
    build_unit(api, run_no, by_hand, until=10)
    ok_data(api("quality").post("/api/v1/defects", json={"sn": by_hand, "code": "TOMBSTONE", "location": "C3"}))
    return run_no, {station_fail: (SPI, "leader"), machine_fail: (AOI, "AOI"), by_hand: (None, "quality")}


def test_the_queue_names_time_station_and_person_on_screen_api_and_files(api, app):
    run_no, expected = boards_with_defects(api)
    queue = ok_data(api("quality").get(f"/api/v1/defects/queue?runNo={run_no}"))
    assert {e["sn"]: (e["defects"][0]["stationCode"], e["defects"][0]["recordedBy"]) for e in queue} == expected
    with app.app_context():
        recorded = {d.id: d.created_at for d in db.session.execute(select(Defect)).scalars()}
    for entry in queue:
        assert datetime.fromisoformat(entry["defects"][0]["recordedAt"]) == recorded[entry["defects"][0]["id"]]

    client = app.test_client()
    console_login(client, "quality")
    page = client.get(f"/disposition/?run={run_no}").get_data(as_text=True)
    assert "<th>Recorded</th><th>Station</th><th>By</th>" in page
    for sn, (station, person) in expected.items():
        panel = page[page.index(f'id="queue-{sn}"'):]
        row = panel[panel.index('class="mes-defect"'):panel.index("</tr>", panel.index('class="mes-defect"'))]
        assert f'<td class="mes-station">{station or "—"}</td>' in row
        assert f'<td class="mes-recorded-by">{person}</td>' in row
        assert "UTC</td>" in row  # the time, in the plant's zone (UTC in the tests)

    export = client.get(f"/disposition/csv?run={run_no}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert {r["sn"]: (r["station"] or None, r["recorded by"]) for r in rows} == expected
    assert all(r["recorded at"] for r in rows)
    workbook = client.get(f"/disposition/xlsx?run={run_no}")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    header = [c.value for c in sheet[1]]
    assert header[-3:] == ["recorded at", "station", "recorded by"]
    cells = {r[0]: (r[-2], r[-1]) for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells == {sn: (station or None, person) for sn, (station, person) in expected.items()}
