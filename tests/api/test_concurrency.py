"""Concurrency (02_rules §4): the same unit tracked in at the same moment by several processes —
exactly one succeeds, the others get UNIT_ALREADY_IN_STATION, and there is never a second open
track. Real HTTP against four gunicorn worker processes, on SQLite and on PostgreSQL."""
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import create_engine, text

from support import DEMO_PASSWORD, SMT_DATA, SMT_STATIONS, LiveApi, authorized_run, build_unit, ok_data

PARALLEL = 8


def _post(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _login(base: str, username: str) -> str:
    status, body = _post(f"{base}/api/v1/security/login",
                         {"username": username, "password": DEMO_PASSWORD, "provider": "db"})
    assert status == 200, body
    return body["access_token"]


def _track_in_at(args) -> tuple[int, str | None]:
    base, token, sn, run_no, start_at = args
    time.sleep(max(0.0, start_at - time.time()))  # every process fires at the same moment
    status, body = _post(f"{base}/api/v1/stations/ST-PRINT-01/track-in", {"sn": sn, "runNo": run_no}, token)
    return status, (body.get("error") or {}).get("code")


def _race(base: str, token: str, sn: str, run_no: str) -> list[tuple[int, str | None]]:
    start_at = time.time() + 1.0
    with ProcessPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(_track_in_at, [(base, token, sn, run_no, start_at)] * PARALLEL))


def _tracks_of(db_url: str, sn: str) -> tuple[int, int, int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            units = conn.execute(text("SELECT count(*) FROM unit WHERE sn = :sn"), {"sn": sn}).scalar_one()
            tracks, open_tracks = conn.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE t.out_at IS NULL) FROM track t JOIN unit u ON u.id = t.unit_id "
                "WHERE u.sn = :sn"), {"sn": sn}).one()
        return units, tracks, open_tracks
    finally:
        engine.dispose()


def test_the_same_unit_tracked_in_at_the_same_moment_succeeds_once(multiprocess_server):
    base = multiprocess_server.url
    operator = _login(base, "operator")
    run_no = authorized_run(LiveApi(base), qty=10, wo_no="WO-RACE-1", units=1)
    sn = f"{run_no}-0001"
    outcomes = _race(base, operator, sn, run_no)
    assert sorted(outcomes) == [(200, None)] + [(409, "UNIT_ALREADY_IN_STATION")] * (PARALLEL - 1), outcomes
    assert _tracks_of(multiprocess_server.db_url, sn) == (1, 1, 1)


def test_a_new_sn_registered_by_several_scans_at_once_exists_once(multiprocess_server):
    base = multiprocess_server.url
    operator = _login(base, "operator")
    run_no = authorized_run(LiveApi(base), qty=10, wo_no="WO-RACE-2")
    outcomes = _race(base, operator, "RACE-NEW-SN", run_no)
    assert sorted(outcomes) == [(200, None)] + [(409, "UNIT_ALREADY_IN_STATION")] * (PARALLEL - 1), outcomes
    assert _tracks_of(multiprocess_server.db_url, "RACE-NEW-SN") == (1, 1, 1)


def _register_at(args) -> tuple[int, str | None]:
    base, token, sn, run_no, start_at = args
    time.sleep(max(0.0, start_at - time.time()))
    status, body = _post(f"{base}/api/v1/stations/ST-PRINT-01/track-in", {"sn": sn, "runNo": run_no}, token)
    return status, (body.get("error") or {}).get("code")


def test_new_sns_registered_at_once_never_exceed_the_run_plan(multiprocess_server):
    """Eight different new SNs at the same moment into a run with room for three: exactly three become
    units. (On PostgreSQL the run's row is locked before its units are counted, in a statement of its
    own: a count that waited for the lock inside one statement would read the units before the lock's
    holder added its own, and let a fourth in.)"""
    base = multiprocess_server.url
    operator = _login(base, "operator")
    run_no = authorized_run(LiveApi(base), qty=3, wo_no="WO-RACE-3")  # plan 4: the FAI board and three more
    start_at = time.time() + 1.0
    with ProcessPoolExecutor(max_workers=PARALLEL) as pool:
        outcomes = list(pool.map(_register_at, [(base, operator, f"RACE-ROOM-{i}", run_no, start_at)
                                                for i in range(PARALLEL)]))
    assert sorted(outcomes) == [(200, None)] * 3 + [(400, "UNIT_NOT_FOUND")] * (PARALLEL - 3), outcomes
    engine = create_engine(multiprocess_server.db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM unit u JOIN run r ON r.id = u.run_id "
                                     "WHERE r.run_no = :run_no"), {"run_no": run_no}).scalar_one() == 4
    finally:
        engine.dispose()


def _track_out_at(args) -> tuple[int, str | None, str | None]:
    base, token, sn, run_no, start_at = args
    time.sleep(max(0.0, start_at - time.time()))
    status, body = _post(f"{base}/api/v1/stations/{SMT_STATIONS[50]}/track-out",
                         {"sn": sn, "runNo": run_no, "result": "PASS", "data": SMT_DATA[50]}, token)
    return status, (body.get("error") or {}).get("code"), (body.get("data") or {}).get("result")


def test_the_last_units_finished_at_once_close_the_run_out_once(multiprocess_server):
    """Four boards, the run's last, tracked out of the last step at the same moment: every TrackOut passes
    and the automatic closeout runs exactly once (none of them may count the others as still in work and
    leave the run open; on PostgreSQL the finishing UPDATE locks the run's row before the units are
    counted: execution.FINISH_UNIT_LOCKING_RUN)."""
    base = multiprocess_server.url
    api = LiveApi(base)
    operator = _login(base, "operator")
    boards = 4
    run_no = authorized_run(api, qty=boards, wo_no="WO-RACE-4")  # the FAI board is DONE already
    sns = [f"{run_no}-LAST{i}" for i in range(boards)]
    for sn in sns:
        build_unit(api, run_no, sn, until=40)
        ok_data(api("operator").post(f"/api/v1/stations/{SMT_STATIONS[50]}/track-in", json={"sn": sn, "runNo": run_no}))
    start_at = time.time() + 1.0
    with ProcessPoolExecutor(max_workers=boards) as pool:
        outcomes = list(pool.map(_track_out_at, [(base, operator, sn, run_no, start_at) for sn in sns]))
    assert outcomes == [(200, None, "PASS")] * boards, outcomes
    engine = create_engine(multiprocess_server.db_url)
    try:
        with engine.connect() as conn:
            status = conn.execute(text("SELECT status FROM run WHERE run_no = :r"), {"r": run_no}).scalar_one()
            closeouts = conn.execute(text(
                "SELECT count(*) FROM audit_event WHERE entity_key = :r AND action = 'RUN_COMPLETE'"),
                {"r": run_no}).scalar_one()
            oqcs = conn.execute(text(
                "SELECT count(*) FROM inspection i JOIN run r ON r.id = i.run_id WHERE r.run_no = :r "
                "AND i.type = 'OQC'"), {"r": run_no}).scalar_one()
    finally:
        engine.dispose()
    assert (status, closeouts, oqcs) in (("COMPLETED", 1, 0), ("IN_PROGRESS", 0, 1)), (status, closeouts, oqcs)
