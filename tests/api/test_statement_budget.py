"""The hot path's statement budget (issue 16): a TrackIn + TrackOut pair at a step with data values sends
at most 12 statements to the database, BEGIN included (support.StatementCounter says what counts),
on both databases — and the security version it no longer reads up front is still confirmed in the
scan's own transaction: a security change between two scans takes effect on the very next one.

Runs in both passes of `make test` (SQLite, then PostgreSQL); the same figures for every step are
printed by `tests/perf/counts.py`."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from support import (
    DIP_DATA, SMT_DATA, StatementCounter, authorized_run, count, ok_data, stations_for,
)

PAIR_AT_A_STEP = 12     # the budget: a pair at a step (with data values, genealogy, an SPI/AOI check), the
                        # last step included (a finished unit: the automatic closeout counts the run's units; on
                        # PostgreSQL the run's row is locked by the unit's own UPDATE, execution.FINISH_UNIT_LOCKING_RUN)
PAIR_REGISTERING = 16   # the first TrackIn of a new SN registers it (the run's row locked, its room counted)
SPC_CHARTED = 2         # a TrackOut storing a value of a spec whose SPC chart is armed: the chart (locked on
                        # PostgreSQL) and its last points from the index (services/quality/spc_alarms.py)


def _pairs(api, app, product: str, data: dict) -> list[tuple[int, int, int, list[str]]]:
    """(step, TrackIn, TrackOut, statements) for one new unit through the whole route of `product`."""
    from app.extensions import db
    run_no = authorized_run(api, product=product, qty=2)
    stations, operator, sn = stations_for(product), api("operator"), f"{run_no}-B1"
    pairs = []
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine, keep=True) as counter:
        for step in sorted(stations):
            counter.take()
            ok_data(operator.post(f"/api/v1/stations/{stations[step]}/track-in", json={"sn": sn, "runNo": run_no}))
            log = list(counter.log)
            track_in = counter.take()
            out = ok_data(operator.post(f"/api/v1/stations/{stations[step]}/track-out", json={
                "sn": sn, "runNo": run_no, "result": "PASS", "data": data[step]}))
            assert out["result"] == "PASS"
            log += counter.log
            pairs.append((step, track_in, counter.take(), log))
    return pairs


@pytest.mark.parametrize("product,data", [("P-1001", SMT_DATA), ("P-2001", DIP_DATA)], ids=["SMT", "DIP"])
def test_a_pair_stays_within_the_statement_budget(api, app, product, data):
    pairs = _pairs(api, app, product, data)
    first = pairs[0][0]
    for step, track_in, track_out, log in pairs:
        budget = PAIR_REGISTERING if step == first else PAIR_AT_A_STEP
        assert track_in + track_out <= budget, (
            f"step {step}: TrackIn {track_in} + TrackOut {track_out} statements > {budget}:\n  " + "\n  ".join(log))
    assert any(data[step] for step, *_ in pairs[1:]), "a step with data values (not the registration) is measured"


def test_an_armed_spc_chart_costs_its_step_two_statements_and_the_other_steps_nothing(api, app):
    """paste_height_um (SPI, step 20) charted with every run rule and frozen limits: the pair at step 20 costs
    SPC_CHARTED statements more (no alarm fires: the value is on the centre line); every other step, the
    reflow's numeric value at step 40 included, stays within the plain budget."""
    from app.extensions import db
    spec_id = _spec_id(app, "paste_height_um")
    answer = api("engineer").put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR", "rules": list(range(1, 9))})
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():  # frozen limits around the value SMT_DATA sends (a baseline of 150 ± 5)
        db.session.execute(text("UPDATE spc_chart SET center = 150, sigma = 5, lcl = 135, ucl = 165, "
                                "sigma_within = 5 WHERE spec_id = :s"), {"s": spec_id})
        db.session.commit()
    pairs = _pairs(api, app, "P-1001", SMT_DATA)
    first = pairs[0][0]
    for step, track_in, track_out, log in pairs:
        budget = PAIR_REGISTERING if step == first else PAIR_AT_A_STEP
        if step == 20:
            budget += SPC_CHARTED
            assert [s.split(" FROM ")[0] for s in log if s.startswith(("SELECT spc_chart", "SELECT data_value"))] == [
                "SELECT spc_chart.id, spc_chart.spec_id, spc_chart.chart_type, spc_chart.subgroup_size, spc_chart.rules, "
                "spc_chart.same_side_run, spc_chart.on_alarm, spc_chart.center, spc_chart.sigma",
                "SELECT data_value.spc_seq, data_value.value_number"], log
        else:
            assert not any(s.startswith(("SELECT spc_chart", "SELECT data_value")) for s in log), log
        assert track_in + track_out <= budget, (
            f"step {step}: TrackIn {track_in} + TrackOut {track_out} statements > {budget}:\n  " + "\n  ".join(log))
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM spc_alarm")).scalar_one() == 0


def _spec_id(app, name: str) -> int:
    from app.extensions import db
    with app.app_context():
        return db.session.execute(text("SELECT id FROM data_collection_spec WHERE name = :n"), {"n": name}).scalar_one()


def test_the_data_values_of_a_trackout_are_one_insert(api, app):
    """Two values at the DIP test step: one INSERT INTO data_value, whatever the number of values."""
    pairs = dict((step, log) for step, _, _, log in _pairs(api, app, "P-2001", DIP_DATA))
    inserts = [s for s in pairs[40] if s.startswith("INSERT INTO data_value")]
    assert len(inserts) == 1 and len(DIP_DATA[40]) == 2


def _operator_token_cached(api, run_no: str) -> None:
    """One scan as the operator, so this process caches the operator's actor."""
    ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-C1", "runNo": run_no}))


def test_a_security_change_reaches_the_next_scan_although_its_version_is_read_in_the_scan(api, app):
    """The operator's actor is cached; the operator is then unbound from the printer station. The next
    TrackIn there is refused (FORBIDDEN, nothing written): the scan's query saw the new security version,
    the request was authenticated again and ran with the operator's current rights."""
    from app.extensions import db
    from app.models import MesUser, Track
    run_no = authorized_run(api, qty=2)
    _operator_token_cached(api, run_no)
    with app.app_context():
        user = db.session.execute(select(MesUser).filter_by(username="operator")).scalar_one()
        user.stations = [s for s in user.stations if s.code != "ST-PRINT-01"]
        db.session.commit()
    with app.app_context():
        tracks = count(Track)
    answer = api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-C2", "runNo": run_no})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "FORBIDDEN"
    with app.app_context():
        assert count(Track) == tracks


def test_a_scan_after_an_unrelated_security_change_runs_once_with_fresh_rights(api, app):
    """A security change that does not concern the operator (another user's role): the next TrackIn
    finds a new version in its scan query, is authenticated again and succeeds — once: one track, one
    TRACK_IN event."""
    from app.extensions import db
    from app.models import AuditEvent, MesUser, Track
    from flask_appbuilder.security.sqla.models import Role
    run_no = authorized_run(api, qty=2)
    _operator_token_cached(api, run_no)
    with app.app_context():
        planner = db.session.execute(select(MesUser).filter_by(username="planner")).scalar_one()
        planner.roles.append(db.session.execute(select(Role).filter_by(name="Engineer")).scalar_one())
        db.session.commit()
    sn = f"{run_no}-C2"
    out = ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": sn, "runNo": run_no}))
    assert out["unit"]["status"] == "IN_STATION"
    with app.app_context():
        assert count(Track, Track.id == out["track"]["id"], Track.out_at.is_(None)) == 1
        assert count(AuditEvent, AuditEvent.entity_key == sn, AuditEvent.action == "TRACK_IN") == 1
        assert count(AuditEvent, AuditEvent.entity_key == sn, AuditEvent.action == "UNIT_REGISTER") == 1


# ---------------------------------------------------------------------------------------------
# The Station Terminal: the same scans with the console's session cookie (+ CSRF header)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def plain_api(app, fresh_db):
    """`api` on a test client that keeps no request context: the `api` fixture's client preserves its last
    request's context, whose `g` (its signed-in actor) would be lent to the terminal's requests."""
    from support import INTEGRATION_KEY, ApiAs, jwt_token
    client = app.test_client()

    def as_user(username: str) -> ApiAs:
        token = INTEGRATION_KEY if username == "integration" else jwt_token(client, username)
        return ApiAs(client, {"Authorization": f"Bearer {token}"})
    return as_user


def _terminal(app, username: str = "operator"):
    """A browser signed in to the console, posting the terminal's API calls with its CSRF token."""
    from support import console_login, csrf_from
    browser = app.test_client()
    assert console_login(browser, username).status_code == 302
    token = csrf_from(browser.get("/").get_data(as_text=True))
    return browser, {"X-CSRFToken": token}


def test_a_terminal_pair_stays_within_the_budget_too(plain_api, app):
    """The Station Terminal authenticates with the session cookie: its cached actor is confirmed by the
    same scan query (the session's version against the user's), so its pairs cost what the API's do."""
    from app.extensions import db
    run_no = authorized_run(plain_api, qty=2)
    browser, headers = _terminal(app)
    stations, sn = stations_for("P-1001"), f"{run_no}-T1"
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine, keep=True) as counter:
        for step in sorted(stations):
            counter.take()
            for action, body in (("track-in", {}), ("track-out", {"result": "PASS", "data": SMT_DATA[step]})):
                answer = browser.post(f"/api/v1/stations/{stations[step]}/{action}",
                                      json={"sn": sn, "runNo": run_no, **body}, headers=headers)
                assert answer.status_code == 200, answer.get_json()
            budget = PAIR_REGISTERING if step == min(stations) else PAIR_AT_A_STEP
            log = list(counter.log)
            assert counter.take() <= budget, f"step {step}:\n  " + "\n  ".join(log)


def test_a_terminal_session_copied_before_logout_cannot_scan_after_it(plain_api, app):
    """The operator's actor is cached (a scan), a copy of the session cookie is taken, the operator signs
    out: the copy's next TrackIn is refused 401 and writes nothing — the scan query read the user's new
    session version, the request was authenticated the full way and the session is over."""
    from app.extensions import db
    from app.models import Track
    run_no = authorized_run(plain_api, qty=2)
    browser, headers = _terminal(app)
    ok_data(browser.post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-T1", "runNo": run_no},
                         headers=headers))
    thief = app.test_client()
    thief.set_cookie("session", browser.get_cookie("session").value)
    browser.get("/logout/")
    with app.app_context():
        tracks = count(Track)
    answer = thief.post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-T2", "runNo": run_no},
                        headers=headers)
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "UNAUTHORIZED"
    with app.app_context():
        assert count(Track) == tracks
        db.session.remove()


def test_a_console_page_reads_the_security_version_once(plain_api, app):
    """The menu and view gates of a console page share one read of the security version per request
    (security/actors.request_security_version); the next request reads it again, so a role change
    shows on the next page."""
    from app.extensions import db
    browser, _ = _terminal(app, "planner")
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine, keep=True) as counter:
        for path in ("/", "/runs/", "/work-orders/"):
            counter.take()
            page = browser.get(path, follow_redirects=True)
            assert page.status_code == 200, path
            reads = [s for s in counter.log if "FROM security_version" in s and "session_version" not in s]
            assert len(reads) <= 2, (path, len(reads))  # the gates' one read, and authenticate()'s own
