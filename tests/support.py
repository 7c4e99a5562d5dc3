"""Helpers and constants shared by the tests (import them with `from support import …`)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the suite's database (tests/conftest.py): SQLite, or PostgreSQL with MES_TEST_BACKEND=postgresql
BACKEND = os.environ.get("MES_TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("MES_TEST_DATABASE_URL")

from app.acceptance.client import DEMO_PASSWORD  # noqa: E402 (the demo users' password, 04 §1)
ADMIN_PASSWORD = "Admin-Pass-2026"
INTEGRATION_KEY = "sst_test_integration_key_0123456789abcdef"
SECRET_KEY = "test-secret-key-not-for-production"


def unique_tag() -> str:
    """A name part no other test process uses: the pytest-xdist worker (gw0, gw1; `main` when the suite
    runs serially) and a random part, e.g. for the PostgreSQL databases a test session creates."""
    import uuid
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"


def app_overrides(url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET_KEY,
        "TESTING": True,
        "MES_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MES_INTEGRATION_API_KEY": INTEGRATION_KEY,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashing for tests only
        "FAB_API_KEY_HASH_METHOD": "pbkdf2:sha256:1000",
    }


_token_cache: dict[tuple[str, str], str] = {}


def password_for(username: str) -> str:
    return ADMIN_PASSWORD if username == "admin" else DEMO_PASSWORD


def jwt_token(client, username: str, backend: str = "") -> str:
    """A JWT for a seeded user (cached: tokens depend only on the user id, the secret and the user's
    password hash, and every test restores the same seeded database)."""
    key = (backend, username)
    if key not in _token_cache:
        response = client.post("/api/v1/security/login", json={
            "username": username, "password": password_for(username), "provider": "db", "refresh": True})
        assert response.status_code == 200, response.get_data(as_text=True)
        _token_cache[key] = response.get_json()["access_token"]
    return _token_cache[key]


@dataclass
class ApiAs:
    client: Any
    headers: dict[str, str]

    def _call(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, **kw):
        return self._call("POST", path, **kw)

    def put(self, path, **kw):
        return self._call("PUT", path, **kw)

    def patch(self, path, **kw):
        return self._call("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)


def console_login(client, username: str, password: str | None = None):
    """Sign in through the console's login form (session cookie), CSRF token included."""
    page = client.get("/login/")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login/", data={"username": username, "password": password or password_for(username),
                                        "csrf_token": token}, follow_redirects=False)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def count(model, *where) -> int:
    """Rows of a model matching the conditions (inside an app context)."""
    from sqlalchemy import func, select

    from app.extensions import db
    stmt = select(func.count()).select_from(model)
    for clause in where:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).scalar_one()


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored; screenshots for reviewers


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


# ---------------------------------------------------------------------------------------------
# Production helpers. They go through the API, like users do, so when later gates arrive
# (readiness, loading, FAI) only `authorized_run` has to learn the extra steps — not every test.
# ---------------------------------------------------------------------------------------------

# the demo data set's lines, stations and valid step data: one definition, the acceptance scenarios'
from perf.statements import StatementCounter  # noqa: E402,F401  (the statement budget's counter)
from app.acceptance.scenarios import DIP_DATA, DIP_LINE, DIP_STATIONS, SMT_DATA, SMT_LINE, SMT_STATIONS  # noqa: E402,F401

_wo_counter = [0]


def sql(app, query: str, **params) -> list:
    """Run SQL on the test database (rows of a SELECT, else []), committed: a test's look at the state."""
    from sqlalchemy import text

    from app.extensions import db
    with app.app_context():
        result = db.session.execute(text(query), params)
        rows = result.all() if result.returns_rows else []
        db.session.commit()
        return rows


def ok_data(response) -> Any:
    body = response.get_json()
    assert response.status_code in (200, 201), body
    return body["data"]


def new_work_order(api, *, product: str = "P-1001", qty: int = 2, wo_no: str | None = None,
                   line: str | None = None) -> str:
    """A work order received and released to its line."""
    _wo_counter[0] += 1
    wo_no = wo_no or f"WO-T{_wo_counter[0]:04d}"
    ok_data(api("planner").post("/api/v1/integration/work-orders",
                                json={"woNo": wo_no, "productCode": product, "plannedQty": qty}))
    line = line or (SMT_LINE if product == "P-1001" else DIP_LINE)
    ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/release", json={"lineCode": line}))
    return wo_no


def prep_run(api, *, product: str = "P-1001", qty: int = 2, wo_no: str | None = None) -> str:
    wo_no = new_work_order(api, product=product, qty=qty, wo_no=wo_no)
    line = SMT_LINE if product == "P-1001" else DIP_LINE
    return ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                       json={"lineCode": line, "planQty": qty}))["runNo"]


SMT_REELS = {"1-01": "MAT-R10K|LOT-R-001", "1-02": "MAT-C100N|LOT-C-001", "2-01": "MAT-MCU|LOT-M-001"}


def fresh_consumable_statuses(api) -> None:
    """Every SMT scenario starts with fresh AUTO statuses of the stencil and the paste (04 §2)."""
    import uuid
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc)
    tag = uuid.uuid4().hex[:10]
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": f"T-STN-{tag}", "eventTime": now.isoformat(), "stencilId": "STN-1001-A", "status": "READY"}))
    ok_data(api("integration").post("/api/v1/integration/solder-paste-status", json={
        "eventId": f"T-SP-{tag}", "eventTime": now.isoformat(), "lotNo": "SP-LOT-0001", "status": "COMPLIANT",
        "expiresAt": (now + timedelta(days=7)).isoformat()}))


def load_reels(api, run_no: str, reels: dict[str, str] | None = None) -> None:
    """The material user loads the run's slot table and scans the right reels."""
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    for slot, barcode in (reels or SMT_REELS).items():
        record = ok_data(api("material").post("/api/v1/loading/verify", json={
            "runNo": run_no, "slotCode": slot, "barcode": barcode}))
        assert record["verifyResult"] in ("PASS", "WARNING"), record


def ready_run(api, *, product: str = "P-1001", qty: int = 2, wo_no: str | None = None, units: int = 0) -> str:
    """A PREP run whose line is ready: fresh consumable statuses and, on SMT, the reels loaded."""
    if product == "P-1001":
        fresh_consumable_statuses(api)
    run_no = prep_run(api, product=product, qty=qty, wo_no=wo_no)
    if product == "P-1001":
        load_reels(api, run_no)
    if units:
        ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": units}))
    return run_no


FAI_STEP = {"P-1001": 50, "P-2001": 10}  # the last `requires_fai` step of the demo routes


def pass_fai(api, run_no: str, *, product: str = "P-1001") -> str:
    """Quality's FAI of a ready PREP run (02_rules §7): sample 1, one trial board built through the FAI
    step at the Station Terminal's API, an item, PASS, signed. Returns the trial board's SN."""
    fai = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}))["id"]
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/start"))
    sn = f"{run_no}-FAI1"
    build_unit(api, run_no, sn, product=product, until=FAI_STEP[product])
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/items",
                                json={"unitSn": sn, "itemName": "first article", "result": "PASS"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": DEMO_PASSWORD}))
    return sn


def authorized_run(api, *, product: str = "P-1001", qty: int = 2, wo_no: str | None = None,
                   units: int = 0) -> str:
    """A run brought to AUTHORIZED through the services (the shared fixture helper): readiness
    (statuses, loading), the FAI, then the authorization.

    The FAI's trial board is a production board of the run: the run plans `qty + 1` boards and the
    trial board `{run}-FAI1` takes the extra place, so a test still has `qty` boards of its own
    (`{run}-0001`… when `units` are generated). On SMT the trial board is DONE (the FAI step is the
    last step); on DIP it waits at step 20."""
    run_no = ready_run(api, product=product, qty=qty + 1, wo_no=wo_no, units=units)
    pass_fai(api, run_no, product=product)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    return run_no


def finish_trial_board(api, run_no: str, *, product: str = "P-1001", operator: str = "operator") -> dict | None:
    """Build the FAI trial board `{run}-FAI1` of an authorized run through the steps after the FAI step
    (DIP: 20–40; on SMT it is DONE already, nothing to do). Returns the last TrackOut's answer."""
    last = None
    for step in sorted(stations_for(product)):
        if step > FAI_STEP[product]:
            last = pass_step(api, run_no, f"{run_no}-FAI1", step, product=product, operator=operator)
    return last


def stations_for(product: str) -> dict[int, str]:
    return SMT_STATIONS if product == "P-1001" else DIP_STATIONS


def pass_step(api, run_no: str, sn: str, step: int, *, product: str = "P-1001", operator: str = "operator",
              data: list | None = None) -> dict:
    station = stations_for(product)[step]
    ok_data(api(operator).post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no}))
    defaults = SMT_DATA if product == "P-1001" else DIP_DATA
    return ok_data(api(operator).post(f"/api/v1/stations/{station}/track-out", json={
        "sn": sn, "runNo": run_no, "result": "PASS", "data": defaults[step] if data is None else data}))


def build_unit(api, run_no: str, sn: str, *, product: str = "P-1001", operator: str = "operator",
               until: int | None = None) -> dict:
    """Take a unit through the steps (all PASS with valid data), up to and including `until`."""
    last = None
    for step in sorted(stations_for(product)):
        last = pass_step(api, run_no, sn, step, product=product, operator=operator)
        if until is not None and step >= until:
            break
    return last


class _LiveResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self._body = body

    def get_json(self):
        import json
        return json.loads(self._body) if self._body else None


class LiveApi:
    """`api(user)` for a live server over real HTTP (same interface as the Flask test client
    fixture), so the production helpers (`authorized_run`, …) also prepare browser tests."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.tokens: dict[str, str] = {}

    def _request(self, method: str, path: str, body=None, token: str | None = None) -> _LiveResponse:
        import json
        import urllib.error
        import urllib.request
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return _LiveResponse(response.status, response.read())
        except urllib.error.HTTPError as error:
            return _LiveResponse(error.code, error.read())

    def __call__(self, username: str) -> "LiveApi._As":
        if username == "integration":
            return LiveApi._As(self, INTEGRATION_KEY)
        if username not in self.tokens:
            response = self._request("POST", "/api/v1/security/login", {
                "username": username, "password": password_for(username), "provider": "db"})
            assert response.status_code == 200, response.get_json()
            self.tokens[username] = response.get_json()["access_token"]
        return LiveApi._As(self, self.tokens[username])

    class _As:
        def __init__(self, live: "LiveApi", token: str) -> None:
            self.live, self.token = live, token

        def get(self, path, **_):
            return self.live._request("GET", path, token=self.token)

        def post(self, path, json=None, **_):
            return self.live._request("POST", path, json if json is not None else {}, token=self.token)

        def put(self, path, json=None, **_):
            return self.live._request("PUT", path, json, token=self.token)


def flask_cli(db_url: str, *args: str):
    """A `flask …` command as an operator runs it: its own process in the project folder, the database
    from DATABASE_URL (the ops tests run the runbooks' commands this way)."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "FLASK_APP": "app", "MES_ENV": "test", "SECRET_KEY": SECRET_KEY, "DATABASE_URL": db_url,
           "MES_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


_pg_reason_cache: dict[str, "str | None"] = {}


def pg_unavailable_reason() -> "str | None":
    """Why the PostgreSQL of MES_TEST_DATABASE_URL cannot be used (None: it can)."""
    if "r" in _pg_reason_cache:
        return _pg_reason_cache["r"]
    reason = None
    if not PG_URL:
        reason = "PostgreSQL not available: MES_TEST_DATABASE_URL is not set (.ci/run sets it)"
    else:
        try:
            import psycopg
            with psycopg.connect(libpq(PG_URL), connect_timeout=3):
                pass
        except Exception as exc:  # pragma: no cover - depends on the machine
            reason = f"PostgreSQL not reachable at MES_TEST_DATABASE_URL: {exc.__class__.__name__}"
    _pg_reason_cache["r"] = reason
    return reason


def libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg, the command-line tools) takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")

