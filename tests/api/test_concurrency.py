"""Concurrency (02_rules §4): the same unit tracked in at the same moment by several processes —
exactly one succeeds, the others get UNIT_ALREADY_IN_STATION, and there is never a second open
track. Real HTTP against four gunicorn worker processes, on SQLite and on PostgreSQL."""
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import create_engine, text

from support import DEMO_PASSWORD, LiveApi, authorized_run

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
