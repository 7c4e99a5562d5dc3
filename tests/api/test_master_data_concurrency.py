"""Concurrent master-data writes (02_rules §0, §4): on SQLite a write request takes the database's
write lock before it reads anything (BEGIN IMMEDIATE, as the domain endpoints do), so parallel creates
and updates through the master-data API wait for each other instead of failing with "database is
locked"; a constraint the database itself refuses is a catalogued code, never raw SQL. Real HTTP
against several gunicorn worker processes, on SQLite and on PostgreSQL."""
import http.cookiejar
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from support import DEMO_PASSWORD, csrf_from

PARALLEL = 20


def _call(method: str, url: str, body: dict | None, token: str) -> tuple[int, str]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _login(base: str, username: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/security/login", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": username, "password": DEMO_PASSWORD, "provider": "db"}).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


def _at_once(calls) -> list[tuple[int, str]]:
    """Run every call at the same moment from its own thread."""
    start_at = time.time() + 1.0

    def fire(call):
        time.sleep(max(0.0, start_at - time.time()))
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(fire, calls))


def _scalar(db_url: str, sql: str, **params):
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


def _no_sql_in(body: str) -> bool:
    lowered = body.lower()
    return not any(word in lowered for word in ("insert into", "update ", "select ", "[sql", "parameters:",
                                                "database is locked", "sqlite", "psycopg"))


def test_parallel_product_creates_all_succeed(multiprocess_server):
    base = multiprocess_server.url
    token = _login(base, "engineer")
    calls = [(lambda i=i: _call("POST", f"{base}/api/v1/products/",
                                {"code": f"P-PAR-{i:02d}", "name": f"Parallel {i}", "process_type": "SMT"}, token))
             for i in range(PARALLEL)]
    outcomes = _at_once(calls)
    assert [status for status, _ in outcomes] == [201] * PARALLEL, outcomes
    assert _scalar(multiprocess_server.db_url, "SELECT count(*) FROM product WHERE code LIKE 'P-PAR-%'") == PARALLEL


def test_parallel_creates_of_the_same_code_store_one_and_answer_duplicate(multiprocess_server):
    base = multiprocess_server.url
    token = _login(base, "engineer")
    calls = [(lambda: _call("POST", f"{base}/api/v1/products/",
                            {"code": "P-SAME", "name": "Same", "process_type": "SMT"}, token))] * PARALLEL
    outcomes = _at_once(calls)
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] + [409] * (PARALLEL - 1), outcomes
    for status, body in outcomes:
        if status == 409:
            assert json.loads(body)["error"]["code"] == "PRODUCT_CODE_DUPLICATE"
        assert _no_sql_in(body), body
    assert _scalar(multiprocess_server.db_url, "SELECT count(*) FROM product WHERE code = 'P-SAME'") == 1


def test_parallel_updates_never_fail_and_never_show_sql(multiprocess_server):
    base = multiprocess_server.url
    token = _login(base, "engineer")
    status, body = _call("POST", f"{base}/api/v1/products/",
                         {"code": "P-UPD", "name": "To update", "process_type": "SMT"}, token)
    assert status == 201, body
    pk = json.loads(body)["id"]
    calls = [(lambda i=i: _call("PUT", f"{base}/api/v1/products/{pk}", {"name": f"Name {i}"}, token))
             for i in range(PARALLEL)]
    outcomes = _at_once(calls)
    assert [status for status, _ in outcomes] == [200] * PARALLEL, outcomes
    assert all(_no_sql_in(body) for _, body in outcomes), outcomes
    name = _scalar(multiprocess_server.db_url, "SELECT name FROM product WHERE code = 'P-UPD'")
    assert name in {f"Name {i}" for i in range(PARALLEL)}


def test_parallel_renames_to_one_code_store_it_once_and_answer_duplicate(multiprocess_server):
    base = multiprocess_server.url
    token = _login(base, "engineer")
    ids = []
    for i in range(PARALLEL):
        status, body = _call("POST", f"{base}/api/v1/products/",
                             {"code": f"P-REN-{i:02d}", "name": "Rename", "process_type": "SMT"}, token)
        assert status == 201, body
        ids.append(json.loads(body)["id"])
    calls = [(lambda pk=pk: _call("PUT", f"{base}/api/v1/products/{pk}", {"code": "P-RENAMED"}, token))
             for pk in ids]
    outcomes = _at_once(calls)
    assert sorted(status for status, _ in outcomes) == [200] + [409] * (PARALLEL - 1), outcomes
    for status, body in outcomes:
        assert _no_sql_in(body), body
        if status == 409:
            assert json.loads(body)["error"]["code"] == "PRODUCT_CODE_DUPLICATE"
    assert _scalar(multiprocess_server.db_url, "SELECT count(*) FROM product WHERE code = 'P-RENAMED'") == 1


class _ConsoleSession:
    """A browser's session on the console (cookie jar, CSRF token)."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        token = csrf_from(self.get("/login/"))
        self.post("/login/", {"username": username, "password": DEMO_PASSWORD, "csrf_token": token})

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read().decode()

    def post(self, path: str, form: dict) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data, method="POST"),
                                  timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def test_parallel_creates_in_the_console_forms_all_succeed(multiprocess_server):
    base = multiprocess_server.url
    sessions = [_ConsoleSession(base, "engineer") for _ in range(PARALLEL)]
    tokens = [csrf_from(session.get("/products/add")) for session in sessions]
    calls = [(lambda i=i: sessions[i].post("/products/add", {
        "code": f"P-CON-{i:02d}", "name": f"Console {i}", "process_type": "SMT", "is_active": "y",
        "csrf_token": tokens[i]})) for i in range(PARALLEL)]
    outcomes = _at_once(calls)
    assert all(status == 200 and " saved." in body for status, body in outcomes), \
        [(status, body[:300]) for status, body in outcomes if " saved." not in body]
    assert _scalar(multiprocess_server.db_url, "SELECT count(*) FROM product WHERE code LIKE 'P-CON-%'") == PARALLEL
