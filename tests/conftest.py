"""Test fixtures: a real database (SQLite, or PostgreSQL with MES_TEST_BACKEND=postgresql), migrated
and seeded once into a template, restored before every test that uses it; one app per backend; JWT
and API-key helpers; a live gunicorn server for browser tests.

`make test` runs the suite twice: on SQLite, then on PostgreSQL (MES_TEST_DATABASE_URL, set by
.ci/run). Without a reachable PostgreSQL the second pass skips every test with the reason.

Each pass runs on 2 pytest-xdist worker processes (Makefile PYTEST_WORKERS; 0 = serial). Everything
here is per worker process, so two workers never share anything: each has its own session fixtures
(its own SQLite folder under its own tmp_path_factory base, its own PostgreSQL databases named after
the worker — `mes_test_gw0_<uuid>`, see `unique_tag()` in support.py —, its own app), and a live
gunicorn server gets a socket the test process already holds (`bound_socket()`: bound to port 0 and
listening, handed over as `--bind fd://N`), never a port number picked, released and bound again,
which another worker could take in between. Files tests write go to tmp_path (per test); the
screenshots in tests/artifacts/ have one name per test.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

os.environ["MES_ENV"] = "test"
os.environ.setdefault("MES_LOG_FORMAT", "text")

PROJECT_ROOT = Path(__file__).resolve().parents[1]

for path in (PROJECT_ROOT, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support import (  # noqa: E402
    BACKEND, INTEGRATION_KEY, PG_URL, SECRET_KEY, ApiAs, app_overrides, jwt_token, unique_tag,
)
from support import libpq as _libpq  # noqa: E402
from support import pg_unavailable_reason as _pg_unavailable_reason  # noqa: E402
from app.web.i18n import compile_catalogues  # noqa: E402

compile_catalogues()  # the .mo files `make translations` builds: `cd tests && pytest` works without make


def pytest_report_header(config):
    where = PG_URL if BACKEND == "postgresql" else "SQLite (temporary files)"
    return f"LineMES test backend: {BACKEND} — {where}"


def pytest_collection_modifyitems(config, items):
    if BACKEND == "postgresql":
        reason = _pg_unavailable_reason()
        for item in items:
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
            elif "browser" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="browser tests run in the SQLite pass only"))
    else:
        for item in items:
            if "postgresql_only" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="PostgreSQL-only test (runs in the PostgreSQL pass)"))


# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------

class SqliteTestDatabase:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "mes_test.db"
        self.template = folder / "mes_template.db"
        self.url = f"sqlite:///{self.path}"

    def snapshot(self) -> None:
        shutil.copyfile(self.path, self.template)

    def restore(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.path)

    def copy_to(self, name: str) -> str:
        """A separate copy of the template (for a live server process)."""
        target = self.folder / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def drop_copy(self, url: str) -> None:
        path = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def cleanup(self) -> None:
        pass


class PostgresTestDatabase:
    def __init__(self, base_url: str) -> None:
        import psycopg
        self.psycopg = psycopg
        self.base_url = base_url
        tag = unique_tag()  # the xdist worker in it (gw0, gw1; main when serial): no clash between workers
        self.name = f"mes_test_{tag}"
        self.template_name = f"mes_tmpl_{tag}"
        head, _, _ = base_url.rpartition("/")
        self.head = head
        self.url = f"{head}/{self.name}"
        self._admin("CREATE DATABASE {}".format(self.name))

    def _admin(self, *statements: str) -> None:
        with self.psycopg.connect(_libpq(f"{self.head}/postgres"), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def snapshot(self) -> None:
        self._admin(f"CREATE DATABASE {self.template_name} TEMPLATE {self.name} STRATEGY FILE_COPY")

    def restore(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)",
                    f"CREATE DATABASE {self.name} TEMPLATE {self.template_name} STRATEGY FILE_COPY")

    def copy_to(self, name: str) -> str:
        db_name = f"{self.name}_{name}"
        self._admin(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)",
                    f"CREATE DATABASE {db_name} TEMPLATE {self.template_name} STRATEGY FILE_COPY")
        return f"{self.head}/{db_name}"

    def drop_copy(self, url: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {url.rpartition('/')[2]} WITH (FORCE)")

    def cleanup(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)",
                    f"DROP DATABASE IF EXISTS {self.template_name} WITH (FORCE)")


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    if BACKEND == "postgresql":
        reason = _pg_unavailable_reason()
        if reason:
            pytest.skip(reason)
        db = PostgresTestDatabase(PG_URL)
    else:
        db = SqliteTestDatabase(tmp_path_factory.mktemp("db"))
    yield db
    db.cleanup()


@pytest.fixture(scope="session")
def app(database):
    """One app per backend, on a database migrated and seeded with the demo data (the template)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from seed.loader import seed_demo

    application = create_app(app_overrides(database.url))
    with application.app_context():
        upgrade()
        # the demo data without its OQC sampling rules: a test's run completes at closeout unless the
        # test adds a rule (test_seed_and_cli checks the demo's rules); the demo's reels sealed (tests open
        # their own) and its paste jar thawed long ago, not thawing, so a readiness check does not wait for
        # it (test_solder_paste checks the thaw window)
        seed_demo(oqc_rules=False, msd_reels=False, paste_thawing=False)
        db.session.remove()
        db.engine.dispose()
    database.snapshot()
    yield application
    with application.app_context():
        db.engine.dispose()


def restore_template(app, database) -> None:
    """The seeded template back in place, and the per-process caches that could remember the last test."""
    from app.extensions import db
    from app.security.actors import clear_caches
    from app.services.engineering.route_plans import clear_cache as clear_plans

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.restore()
    clear_caches()
    clear_plans()  # version ids are reused by the restored database
    app.appbuilder.sm.limiter.reset()


@pytest.fixture(scope="session")
def restorer(app, database):
    """`restorer()` puts the seeded template back: for module-scoped fixtures that build on it."""
    return lambda: restore_template(app, database)


@pytest.fixture
def fresh_db(app, database):
    """Restore the seeded template before the test (a real database, clean every time)."""
    restore_template(app, database)
    yield database


@pytest.fixture
def client(app, fresh_db):
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def app_ctx(app, fresh_db):
    with app.app_context():
        yield app
        from app.extensions import db
        db.session.remove()


@pytest.fixture
def api(client):
    """`api("engineer").post(...)`: calls with the user's JWT; `api("integration")` uses the API key."""
    def as_user(username: str) -> ApiAs:
        if username == "integration":
            return ApiAs(client, {"Authorization": f"Bearer {INTEGRATION_KEY}"})
        return ApiAs(client, {"Authorization": f"Bearer {jwt_token(client, username, BACKEND)}"})
    return as_user


# ---------------------------------------------------------------------------------------------
# Live server (browser tests)
# ---------------------------------------------------------------------------------------------

def bound_socket() -> socket.socket:
    """A socket on 127.0.0.1 that already holds its port (port 0: the system picks a free one) and
    listens: the server process inherits it (`--bind fd://N`), so no other process (another xdist
    worker, another server) can take the port between picking it and binding it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class LiveServer:
    url: str
    db_url: str
    process: subprocess.Popen


def _start_server(database, tmp_path_factory, *, workers: int, threads: int, db_url: Optional[str] = None):
    """The app served by gunicorn (the production server) on 127.0.0.1, on its own copy of the
    seeded database (or on `db_url`)."""
    db_url = db_url or database.copy_to(f"live_{uuid.uuid4().hex[:6]}")
    sock = bound_socket()
    port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET_KEY, "MES_ENV": "test",
           "MES_HOST": "127.0.0.1", "MES_PORT": str(port), "MES_WORKERS": str(workers),
           "MES_THREADS": str(threads), "MES_LOG_LEVEL": "WARNING"}
    log = tmp_path_factory.mktemp("live") / "server.log"
    # gunicorn serves the inherited socket (the command line's --bind wins over the config's MES_PORT
    # bind); the test process closes its own copy once the server has it
    with sock, open(log, "w") as fh:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "--bind", f"fd://{sock.fileno()}",
             "app:create_app()"],
            cwd=PROJECT_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),))
    url = f"http://127.0.0.1:{port}"
    import urllib.request
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                break
        except Exception as exc:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(f"live server did not start:\n{log.read_text()}") from exc
            time.sleep(0.2)
    return LiveServer(url, db_url, process)


def _stop_server(server: LiveServer, database) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    database.drop_copy(server.db_url)


@pytest.fixture(scope="module")
def live_server(app, database, tmp_path_factory):
    """One gunicorn worker with threads: the browser tests' server."""
    server = _start_server(database, tmp_path_factory, workers=1, threads=4)
    yield server
    _stop_server(server, database)


@pytest.fixture(scope="session")
def live_servers(app, database, tmp_path_factory):
    """`(start, stop)` for module-scoped fixtures: `start(db_url=…)` serves that database (one worker,
    four threads) and `stop(server)` stops it and drops the copy."""
    def start(*, db_url: Optional[str] = None) -> LiveServer:
        return _start_server(database, tmp_path_factory, workers=1, threads=4, db_url=db_url)
    return start, lambda server: _stop_server(server, database)


@pytest.fixture(scope="module")
def multiprocess_server(app, database, tmp_path_factory):
    """Four gunicorn worker processes: for concurrency tests."""
    server = _start_server(database, tmp_path_factory, workers=4, threads=1)
    yield server
    _stop_server(server, database)


@pytest.fixture
def server_factory(app, database, tmp_path_factory):
    """Start a gunicorn server on its own copy of the seeded database (or on `db_url`): `start()` →
    LiveServer. The
    test may stop the process itself (`server.process.terminate()`) and keep working on its database
    (e.g. to restore a backup into it); every server is stopped and every copy dropped at the end."""
    started: list[LiveServer] = []

    def start(*, workers: int = 1, threads: int = 4, db_url: Optional[str] = None) -> LiveServer:
        server = _start_server(database, tmp_path_factory, workers=workers, threads=threads, db_url=db_url)
        started.append((server, db_url is None))
        return server

    yield start
    for server, own_copy in started:
        if own_copy:
            _stop_server(server, database)
        else:  # a database the test brought: the test drops it
            server.process.terminate()
            server.process.wait(timeout=10)
