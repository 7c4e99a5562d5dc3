"""Benchmark plumbing: databases (SQLite files, throw-away PostgreSQL databases), the production
server (gunicorn) as a separate process on 127.0.0.1, and a small timed HTTP client.

Everything goes through the same doors as production: `flask db upgrade` and `flask mes seed --demo`
in subprocesses, gunicorn with `app.gunicorn_conf`, JSON over real HTTP.
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import queue as queue_module
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit, urlunsplit

PERF_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PERF_DIR.parents[1]
DATA_DIR = PERF_DIR / "data"          # git-ignored: databases and server logs
RESULTS_DIR = PERF_DIR / "results"    # git-ignored *.json

PYTHON = sys.executable
SECRET_KEY = "bench-secret-key-not-for-production"
ADMIN_PASSWORD = "Admin-Pass-2026"
DEMO_PASSWORD = "Demo-Pass-2026"
INTEGRATION_KEY = "sst_bench_integration_key_0123456789abcdef"  # given to `integration` by the seed
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# The SMT route of the demo product P-1001 (seed/demo.yaml): station and data of every step.
SMT_LINE = "LINE-SMT-A"
SMT_STATIONS = {10: "ST-PRINT-01", 20: "ST-SPI-01", 30: "ST-MOUNT-01", 40: "ST-REFLOW-01", 50: "ST-AOI-01"}
SMT_DATA = {10: [{"spec": "squeegee_pressure_kg", "value": 6.0}], 20: [{"spec": "paste_height_um", "value": 150}],
            30: [], 40: [{"spec": "peak_temp_c", "value": 250}], 50: []}


SPC_SPEC, SPC_STEP = "paste_height_um", 20   # the numeric spec `--only …_spc` charts (tests/perf/bench.py)


def step_data(step: int, sn: str) -> list[dict]:
    """The data a TrackOut sends at `step`: SMT_DATA, the paste height varying from board to board around
    150 µm (a stable process, seeded by the SN: the same boards give the same values on every run), so
    that a chart of it raises an alarm now and then, not at every board."""
    if step != SPC_STEP:
        return SMT_DATA[step]
    return [{"spec": SPC_SPEC, "value": round(150 + random.Random(sn).uniform(-9.5, 9.5), 1)}]


class BenchError(RuntimeError):
    """Something the benchmark cannot go on with (a failed request, a server that does not start)."""


# ---------------------------------------------------------------------------------------------
# Environment and databases
# ---------------------------------------------------------------------------------------------

def base_env(db_url: str) -> dict[str, str]:
    """The process environment for the app: the caller's, minus any MES_*/DATABASE_URL settings
    (the benchmark fixes its own configuration so that runs are comparable)."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MES_") or k == "DATABASE_URL")}
    env.update({"DATABASE_URL": db_url, "FLASK_APP": "app", "MES_ENV": "test", "SECRET_KEY": SECRET_KEY,
                "MES_ADMIN_PASSWORD": ADMIN_PASSWORD, "MES_INTEGRATION_API_KEY": INTEGRATION_KEY,
                "MES_LOG_LEVEL": "WARNING", "MES_LOG_FORMAT": "json"})
    return env


def flask_cli(db_url: str, *args: str) -> str:
    result = subprocess.run([PYTHON, "-m", "flask", *args], cwd=PROJECT_ROOT, env=base_env(db_url),
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"`flask {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def migrate_and_seed(db_url: str) -> None:
    flask_cli(db_url, "db", "upgrade")
    flask_cli(db_url, "mes", "seed", "--demo")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def checkpoint_sqlite(path: Path) -> None:
    """Fold the WAL into the main file, so that copying the file alone copies the database."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def create_sqlite_template(path: Path) -> str:
    """A fresh SQLite database: migrated to the head and seeded with the demo data. Returns the
    migration head it is at."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_sqlite(path)
    migrate_and_seed(sqlite_url(path))
    checkpoint_sqlite(path)
    return alembic_revision(path)


def alembic_revision(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


def copy_sqlite(template: Path, target: Path) -> Path:
    remove_sqlite(target)
    shutil.copyfile(template, target)
    return target


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresServer:
    """Throw-away databases `mes_bench_<pid>…` on the PostgreSQL server of `server_url` (any database
    on it: the admin connection goes there). `unavailable_reason()` says why it cannot be used."""

    def __init__(self, server_url: str) -> None:
        self.server_url = _libpq(server_url)
        self.prefix = f"mes_bench_{os.getpid()}"
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{name}"))

    def unavailable_reason(self) -> Optional[str]:
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed"
        try:
            with psycopg.connect(self.server_url, connect_timeout=3):
                return None
        except Exception as exc:
            first_line = (str(exc).strip().splitlines() or [""])[0]
            return f"PostgreSQL not reachable at {self.server_url}: {exc.__class__.__name__} {first_line}"

    def version(self) -> str:
        import psycopg
        with psycopg.connect(self.server_url, connect_timeout=3) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def _admin(self, statement: str) -> None:
        import psycopg
        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)

    def create(self, suffix: str, template: Optional[str] = None) -> str:
        """Create database `<prefix>_<suffix>` (empty, or a copy of `template`); returns its name."""
        name = f"{self.prefix}_{suffix}"
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""))
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        for name in reversed(self.created):
            try:
                self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except Exception as exc:  # report, but go on dropping the others
                print(f"  warning: could not drop database {name}: {exc}", file=sys.stderr)
        self.created.clear()


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    """`python -m gunicorn -c python:app.gunicorn_conf 'app:create_app()'` on 127.0.0.1 (the command
    of `make run` and of the live-server tests), with its log in tests/perf/data/logs/."""

    def __init__(self, db_url: str, *, workers: int, threads: int = 1, name: str = "server") -> None:
        self.db_url, self.workers, self.threads, self.name = db_url, workers, threads, name
        self.host, self.port = "127.0.0.1", free_port()
        self.log_path = DATA_DIR / "logs" / f"{name}.log"
        self.process: Optional[subprocess.Popen] = None

    def __enter__(self) -> "GunicornServer":
        env = base_env(self.db_url)
        env.update({"MES_HOST": self.host, "MES_PORT": str(self.port), "MES_WORKERS": str(self.workers),
                    "MES_THREADS": str(self.threads), "MES_LOGIN_RATE_LIMIT": "1000 per minute"})
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "app:create_app()"],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"gunicorn did not start ({self.name}); its log:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client:
    """JSON over one HTTP/1.1 connection (stdlib http.client), timed per request.

    The connection is kept open when the server allows it; gunicorn's sync worker (threads = 1)
    answers `Connection: close`, so http.client then opens a new loopback connection for the next
    request — that connect is part of the measured latency, as it is for a real terminal."""

    def __init__(self, host: str, port: int, token: Optional[str] = None) -> None:
        self.host, self.port, self.token = host, port, token
        self.conn = http.client.HTTPConnection(host, port, timeout=120)
        self.connects = 0

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.conn.sock is None:
            self.connects += 1
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            raise BenchError(f"{method} {path}: {exc.__class__.__name__}: {exc}") from exc
        return Reply(response.status, data, time.perf_counter() - started)

    def post(self, path: str, body: Any = None) -> Reply:
        return self.call("POST", path, {} if body is None else body)

    def get(self, path: str) -> Reply:
        return self.call("GET", path)

    def close(self) -> None:
        self.conn.close()


def expect(reply: Reply, status: int, what: str) -> Any:
    if reply.status != status:
        raise BenchError(f"{what}: HTTP {reply.status} (expected {status}): {reply.body[:500]!r}")
    return (reply.json() or {}).get("data")


def login(host: str, port: int, username: str) -> str:
    client = Client(host, port)
    try:
        reply = client.post("/api/v1/security/login",
                            {"username": username, "password": DEMO_PASSWORD, "provider": "db"})
        if reply.status != 200:
            raise BenchError(f"login as {username}: HTTP {reply.status}: {reply.body[:300]!r}")
        return reply.json()["access_token"]
    finally:
        client.close()


# The reels of the demo slot table of P-1001 / RT-P1001-SMT (seed/demo.yaml): slot -> barcode.
SMT_REELS = {"1-01": "MAT-R10K|LOT-R-001", "1-02": "MAT-C100N|LOT-C-001", "2-01": "MAT-MCU|LOT-M-001"}


@dataclass
class Staff:
    """API clients of the people (and the machine account) who prepare and finish a run."""
    planner: Client
    material: Client
    integration: Client
    quality: Client
    operator: Client

    @classmethod
    def login(cls, host: str, port: int, integration_key: str = INTEGRATION_KEY) -> "Staff":
        """The integration account's API key is the benchmark's unless given (the test suite seeds its own)."""
        return cls(*(Client(host, port, login(host, port, user)) for user in ("planner", "material")),
                   Client(host, port, integration_key),
                   *(Client(host, port, login(host, port, user)) for user in ("quality", "operator")))

    def close(self) -> None:
        for client in (self.planner, self.material, self.integration, self.quality, self.operator):
            client.close()


def fresh_consumable_statuses(staff: Staff, tag: str) -> None:
    """The stencil and solder-paste statuses (and the paste's thaw start) the line's readiness check
    wants, as the TPM/WMS integrations send them."""
    now = datetime.now(timezone.utc)
    expect(staff.integration.post("/api/v1/integration/stencil-status", {
        "eventId": f"BENCH-STN-{tag}", "eventTime": now.isoformat(), "stencilId": "STN-1001-A",
        "status": "READY"}), 200, "stencil status")
    expect(staff.integration.post("/api/v1/integration/solder-paste-status", {
        "eventId": f"BENCH-SP-{tag}", "eventTime": now.isoformat(), "lotNo": "SP-LOT-0001", "status": "COMPLIANT",
        "expiresAt": (now + timedelta(days=7)).isoformat()}), 200, "solder paste status")
    # the demo's jar is seeded thawing (issue 18 paste timers): WMS reports it out of the refrigerator 5 h ago
    expect(staff.integration.post("/api/v1/integration/solder-paste-events", {
        "eventId": f"BENCH-SPT-{tag}", "eventTime": (now - timedelta(hours=5)).isoformat(), "lineCode": "LINE-SMT-A",
        "lotNo": "SP-LOT-0001", "kind": "THAW_START"}), 200, "solder paste thaw start")


def authorized_run(staff: Staff, wo_no: str, qty: int) -> str:
    """A run of `qty` units of P-1001 on LINE-SMT-A brought to AUTHORIZED the way the plant does it:
    the planner receives and releases the work order and creates the run; the line's consumables
    report fresh statuses; the material user loads the slot table and scans the reels; quality runs the
    FAI (one trial board `{run}-FAI1` built through the FAI step, an item, PASS, signed — the trial
    board takes one extra place of the plan); the planner authorizes (the readiness and FAI gates).
    Mirrors `authorized_run` of tests/support.py: when a new authorization gate arrives, this is the
    one place to teach it."""
    planner, quality = staff.planner, staff.quality
    expect(planner.post("/api/v1/integration/work-orders",
                        {"woNo": wo_no, "productCode": "P-1001", "plannedQty": qty + 1}), 200, f"receive {wo_no}")
    expect(planner.post(f"/api/v1/work-orders/{wo_no}/release", {"lineCode": SMT_LINE}), 200, f"release {wo_no}")
    fresh_consumable_statuses(staff, wo_no)
    run_no = expect(planner.post(f"/api/v1/work-orders/{wo_no}/runs", {"lineCode": SMT_LINE, "planQty": qty + 1}),
                    201, f"create a run of {wo_no}")["runNo"]
    expect(staff.material.post(f"/api/v1/runs/{run_no}/loading/load-table"), 200, f"load the slot table of {run_no}")
    for slot, barcode in SMT_REELS.items():
        record = expect(staff.material.post("/api/v1/loading/verify",
                                            {"runNo": run_no, "slotCode": slot, "barcode": barcode}),
                        200, f"load slot {slot} of {run_no}")
        if record.get("verifyResult") not in ("PASS", "WARNING"):
            raise BenchError(f"loading slot {slot} of {run_no} with {barcode}: {record}")
    fai = expect(quality.post(f"/api/v1/runs/{run_no}/fai", {"sampleQty": 1}), 201, f"create the FAI of {run_no}")["id"]
    expect(quality.post(f"/api/v1/inspections/{fai}/start"), 200, f"start FAI {fai}")
    trial, sn = FlowResult(), f"{run_no}-FAI1"
    for step in sorted(SMT_STATIONS):
        _pass_step(staff.operator, run_no, sn, step, trial, record=False)
    if trial.errors:
        raise BenchError(f"FAI trial of {run_no}: {trial.errors[0]}")
    expect(quality.post(f"/api/v1/inspections/{fai}/items", {"unitSn": sn, "itemName": "first article",
                                                             "result": "PASS"}), 201, f"FAI {fai} item")
    expect(quality.post(f"/api/v1/inspections/{fai}/complete", {"decision": "PASS"}), 200, f"decide FAI {fai}")
    expect(quality.post(f"/api/v1/inspections/{fai}/sign", {"password": DEMO_PASSWORD}), 200, f"sign FAI {fai}")
    expect(planner.post(f"/api/v1/runs/{run_no}/authorize"), 200, f"authorize {run_no}")
    return run_no


def finish_oqc(staff: Staff, run_no: str) -> None:
    """After the last unit, the closeout created the run's OQC (the demo's sampling rule): quality
    inspects the sampled units and passes it, which completes the run."""
    open_oqc = [i for i in expect(staff.quality.get(f"/api/v1/runs/{run_no}/inspections?type=OQC"), 200,
                                  f"OQC of {run_no}") if i["status"] in ("PENDING", "INSPECTING")]
    for oqc in open_oqc:
        if oqc["status"] == "PENDING":
            expect(staff.quality.post(f"/api/v1/inspections/{oqc['id']}/start"), 200, f"start OQC {oqc['id']}")
        for sn in oqc["sampledSns"]:
            expect(staff.quality.post(f"/api/v1/inspections/{oqc['id']}/items",
                                      {"unitSn": sn, "itemName": "final visual", "result": "PASS"}), 201, "OQC item")
        expect(staff.quality.post(f"/api/v1/inspections/{oqc['id']}/complete",
                                  {"decision": "PASS", "password": DEMO_PASSWORD}), 200,
               f"decide OQC {oqc['id']}")


# ---------------------------------------------------------------------------------------------
# Units through the SMT route (one client)
# ---------------------------------------------------------------------------------------------

@dataclass
class FlowResult:
    pairs: int = 0
    started: float = 0.0                  # time.monotonic() (comparable across processes)
    ended: float = 0.0
    track_in: list[float] = field(default_factory=list)   # seconds per request
    track_out: list[float] = field(default_factory=list)
    pair: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connects: int = 0
    cpu: float = 0.0                      # CPU seconds of the client process in the measured part


def _pass_step(client: Client, run_no: str, sn: str, step: int, result: FlowResult, record: bool) -> None:
    station = SMT_STATIONS[step]
    into = client.post(f"/api/v1/stations/{station}/track-in", {"sn": sn, "runNo": run_no})
    if into.status != 200:
        result.errors.append(f"track-in {sn} @{station}: HTTP {into.status} {into.body[:300]!r}")
        return
    out = client.post(f"/api/v1/stations/{station}/track-out",
                      {"sn": sn, "runNo": run_no, "result": "PASS", "data": step_data(step, sn)})
    if out.status != 200:
        result.errors.append(f"track-out {sn} @{station}: HTTP {out.status} {out.body[:300]!r}")
        return
    verdict = out.json()["data"]["result"]
    if verdict != "PASS":
        result.errors.append(f"track-out {sn} @{station}: result {verdict}, expected PASS")
    if record:
        result.pairs += 1
        result.track_in.append(into.seconds)
        result.track_out.append(out.seconds)
        result.pair.append(into.seconds + out.seconds)


def flow_units(host: str, port: int, token: str, run_no: str, warmup_sns: list[str], sns: list[str],
               barrier=None, max_errors: int = 20) -> FlowResult:
    """Take units through the 5 SMT steps (TrackIn + TrackOut with the step's data, all PASS), unit
    after unit, on one connection. The warm-up units are not counted; with a barrier, the measured
    part starts when every client has warmed up."""
    client = Client(host, port, token)
    result = FlowResult()
    try:
        for sn in warmup_sns:
            for step in SMT_STATIONS:
                _pass_step(client, run_no, sn, step, result, record=False)
        if barrier is not None:
            barrier.wait(timeout=600)
        result.started, cpu_started = time.monotonic(), time.process_time()
        for sn in sns:
            for step in SMT_STATIONS:
                _pass_step(client, run_no, sn, step, result, record=True)
            if len(result.errors) >= max_errors:
                break
        result.cpu = time.process_time() - cpu_started
    except threading.BrokenBarrierError:
        result.errors.append("another client failed before the start")
    except BenchError as exc:
        result.errors.append(str(exc))
        if barrier is not None:
            barrier.abort()  # do not leave the other clients waiting
    finally:
        result.ended = time.monotonic()
        result.connects = client.connects
        client.close()
    return result


def flow_worker(args: tuple, barrier, queue) -> None:
    """run_clients target: one concurrent client; its FlowResult goes to the queue."""
    try:
        queue.put(flow_units(*args, barrier=barrier))
    except BaseException as exc:  # never leave the parent waiting
        barrier.abort()
        queue.put(FlowResult(errors=[f"client crashed: {exc!r}"]))
        raise


def run_clients(target: Callable, arg_list: list[tuple], failed: Callable[[str], Any], *,
                on_start: Optional[Callable[[], Any]] = None, timeout: float = 600) -> tuple[list[Any], Any]:
    """One process per entry of `arg_list` running `target(args, barrier, queue)`: each prepares (logs in,
    warms up), waits at the barrier, does its measured part and puts its result on the queue. This
    process is the barrier's last party: `on_start()` runs the moment the barrier opens (e.g. reading
    the servers' CPU counters), and its value is returned with the results. A process that dies without
    a result counts as `failed(reason)`."""
    ctx = multiprocessing.get_context("fork")
    barrier, results_queue = ctx.Barrier(len(arg_list) + 1), ctx.Queue()
    processes = [ctx.Process(target=target, args=(args, barrier, results_queue), daemon=True) for args in arg_list]
    for process in processes:
        process.start()
    mark = None
    try:
        barrier.wait(timeout=timeout)
        mark = on_start() if on_start is not None else None
    except threading.BrokenBarrierError:
        pass  # a client failed before the start: its result says why
    results: list[Any] = []
    while len(results) < len(processes):
        try:
            results.append(results_queue.get(timeout=5))
        except queue_module.Empty:
            if not any(p.is_alive() for p in processes) and results_queue.empty():
                results += [failed("a client process died without a result")
                            for _ in range(len(processes) - len(results))]
    for process in processes:
        process.join(timeout=30)
    return results, mark


# ---------------------------------------------------------------------------------------------
# CPU time of the servers (from /proc)
# ---------------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PG_AUXILIARIES = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "autovacuum worker",
                   "logical replication launcher", "archiver", "stats collector", "walsender", "walreceiver")


@dataclass
class ProcStat:
    pid: int
    comm: str
    ppid: int
    own: float          # utime + stime, seconds
    children: float     # cutime + cstime: the children it has waited for (ended ones)


def proc_stat(pid: int) -> Optional[ProcStat]:
    """utime, stime, cutime and cstime of /proc/<pid>/stat in seconds (None when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")  # the command name may hold spaces and parentheses
    fields = rest.split()                  # fields[0] is field 3 (state) of proc(5)
    ticks = [int(v) for v in fields[11:15]]
    return ProcStat(pid, head.partition("(")[2], int(fields[1]), (ticks[0] + ticks[1]) / CLOCK_TICKS,
                    (ticks[2] + ticks[3]) / CLOCK_TICKS)


def all_processes() -> list[ProcStat]:
    stats = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                stats.append(stat)
    return stats


def gunicorn_cpu(master_pid: int) -> float:
    """CPU seconds of a gunicorn server so far: the master and its workers, and the workers it has
    already reaped (the master's children time)."""
    total = 0.0
    for stat in all_processes():
        if stat.pid == master_pid or stat.ppid == master_pid:
            total += stat.own + stat.children
    return total


def _process_title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def postgres_cpu(database: str) -> dict[str, float]:
    """CPU seconds of the local PostgreSQL server so far (processes whose command name starts with
    "postgres"): `all` = every server process plus what the postmaster has reaped (backends that have
    ended), the whole server including other databases' work; `database` = the backends of `database`
    (their process title names it) plus the shared auxiliary processes (WAL writer, checkpointer,
    background writer …), which mostly work for whoever commits."""
    stats = [s for s in all_processes() if s.comm.startswith("postgres")]
    pids = {s.pid for s in stats}
    total, own = 0.0, 0.0
    for stat in stats:
        total += stat.own + (stat.children if stat.ppid not in pids else 0.0)  # the postmaster reaps backends
        title = _process_title(stat.pid)  # "postgres: 15/main: user db 127.0.0.1(5432) idle", "…: walwriter"
        if database in title.split() or any(f": {aux}" in title for aux in _PG_AUXILIARIES):
            own += stat.own
    return {"all": total, "database": own}


def postgres_cpu_unavailable(server_url: str) -> Optional[str]:
    """Why the CPU of PostgreSQL cannot be read here (None: it can)."""
    host = urlsplit(_libpq(server_url)).hostname or "localhost"
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
        return f"PostgreSQL runs on {host}, not on this machine"
    if not any(s.comm.startswith("postgres") for s in all_processes()):
        return "no PostgreSQL process visible in /proc (another machine, or a container)"
    return None


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of seconds, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return 1000 * (ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def latency_summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 2), "p95_ms": round(percentile(values, 95), 2),
            "p99_ms": round(percentile(values, 99), 2), "max_ms": round(1000 * max(values), 2) if values else None,
            "mean_ms": round(1000 * sum(values) / len(values), 2) if values else None}
