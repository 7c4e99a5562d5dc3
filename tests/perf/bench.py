#!/usr/bin/env python3
"""LineMES performance benchmark (`make bench`; issue 4 §6). Not a test: it measures and reports.

Everything runs over real HTTP against gunicorn processes on 127.0.0.1 (the production server and
configuration of `make run`), on databases migrated and seeded through the `flask` CLI:

1. Throughput — TrackIn + TrackOut pairs per second (aggregate and per worker), latency percentiles
   and the CPU time per pair of the gunicorn workers, of PostgreSQL and of the clients (/proc), units
   flowing through the 5 SMT steps of P-1001 with their data values: workers/clients 1/1 (the
   targets: 150 pairs/s on SQLite, PostgreSQL >= 0.8x SQLite), 2/4 and 4/8 on SQLite and on
   PostgreSQL when it answers (127.0.0.1:5432, user postgres; MES_BENCH_PG_URL), and 4/4 on SQLite.
   The 1/1 SQLite flow once more with an SPC chart armed on the paste height (SQLite+SPC, issue 18).
2. Load with invariants (`--soak SECONDS`, tests/perf/load.py) — 4 workers and 8 clients mixing
   TrackIn/TrackOut with SPI/AOI results, reel replacements and trace reads, on PostgreSQL and on
   SQLite; then plain SQL on the database checks that nothing was lost or doubled. A broken
   invariant fails the benchmark (exit status 1).
3. Trace — latency of GET /api/v1/trace/units/{sn} over random SNs at 10k and 1M units of history
   (bulk-generated once into tests/perf/data/, cached), with a cold and then a warm OS page cache.
4. Reports — latency of the production report, the quality report and the dashboard over the same
   histories (the last day per hour, the last 7 and 31 days per day), and the SQL statements of each.

Prints a table and writes tests/perf/results/bench-<YYYYmmdd-HHMMSS>.json. Targets (issues 4, 14, 16)
are reported PASS/MISS, never asserted; the exit status is non-zero only when something failed
(an HTTP error, a server that did not start, an invariant broken under load).

    python tests/perf/bench.py [--quick] [--skip-pg] [--skip-trace] [--skip-throughput] [--pairs N] [--soak SECONDS]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datagen  # noqa: E402
from harness import (  # noqa: E402
    DATA_DIR, DEFAULT_PG_URL, DEMO_PASSWORD, INTEGRATION_KEY, PROJECT_ROOT, RESULTS_DIR, SMT_STATIONS, SPC_SPEC,
    BenchError, Client,
    FlowResult, GunicornServer, PostgresServer, Staff, authorized_run, copy_sqlite, finish_oqc, create_sqlite_template,
    expect, flow_worker, gunicorn_cpu, latency_summary, login, migrate_and_seed, postgres_cpu, postgres_cpu_unavailable,
    remove_sqlite, run_clients, sqlite_url,
)
from load import format_checks, run_load  # noqa: E402

STEPS = len(SMT_STATIONS)
SPC_STATEMENTS = 2              # a TrackOut at a charted step: the chart, its last points (tests/api/test_statement_budget.py)
TARGET_PAIRS_PER_S = 150        # one SQLite worker, one client
TARGET_PG_RATIO = 0.8           # PostgreSQL 1/1 >= 0.8 x SQLite 1/1 of the same run (issue 16)
# (scenario, database, workers, clients) in the order they run: each PostgreSQL scenario next to the
# SQLite one of the same load, so that both see the same machine (the VM is shared and drifts)
# sqlite_1w1c_spc: the 1/1 SQLite flow with an SPC chart armed on the paste height of step 20 (every Nelson
# rule, frozen limits): what the incremental run-rule check costs a TrackOut (issue 18)
THROUGHPUT_SCENARIOS = (("sqlite_1w1c", "SQLite", 1, 1), ("sqlite_1w1c_spc", "SQLite+SPC", 1, 1),
                        ("pg_1w1c", "PostgreSQL", 1, 1),
                        ("sqlite_2w4c", "SQLite", 2, 4), ("pg_2w4c", "PostgreSQL", 2, 4),
                        ("sqlite_4w4c", "SQLite", 4, 4),
                        ("sqlite_4w8c", "SQLite", 4, 8), ("pg_4w8c", "PostgreSQL", 4, 8))
SOAK_WORKERS, SOAK_CLIENTS = 4, 8
SOAK_SECONDS = 180              # per database in a full run; --soak SECONDS to choose, 0 for none
TARGET_TRACE_P95_MS = 50        # at 1M units
TARGET_TRACE_GROWTH = 1.5       # p95 at 1M within 1.5x of p95 at 10k
HISTORIES = {"10k": 10_000, "1M": 1_000_000}
TARGET_REPORT_P95_MS = 1000     # each report and the dashboard at 1M units (issue 14)
REPORT_PERIODS = (("1 day/hour", 1, "hour"), ("7 days/day", 7, "day"), ("31 days/day", 31, "day"))
REPORTS = (("production", "/api/v1/reports/production"), ("quality", "/api/v1/reports/quality"),
           ("dashboard", "/api/v1/reports/dashboard"))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="LineMES benchmark: TrackIn/TrackOut throughput and trace latency "
                                                 "over HTTP against gunicorn.")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 100 pairs per client, 10k history only, 100 trace requests, no load with "
                             "invariants (unless --soak)")
    parser.add_argument("--skip-pg", action="store_true", help="skip the PostgreSQL scenarios")
    parser.add_argument("--skip-trace", action="store_true", help="skip the trace and report latency scenarios")
    parser.add_argument("--skip-throughput", action="store_true", help="skip the TrackIn/TrackOut throughput scenarios")
    parser.add_argument("--pairs", type=int, default=None,
                        help="measured TrackIn+TrackOut pairs per client (rounded up to whole units of 5 steps; "
                             "default 1500, 100 with --quick)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="warm-up pairs per client, not measured (default 20, 10 with --quick)")
    parser.add_argument("--trace-requests", type=int, default=None,
                        help="measured trace requests per history size and cache state (default 300, 100 with --quick)")
    parser.add_argument("--only", default=None, metavar="SCENARIO[,…]",
                        help="run only these throughput scenarios, e.g. sqlite_1w1c,sqlite_1w1c_spc (names: "
                             + ", ".join(s[0] for s in THROUGHPUT_SCENARIOS) + ")")
    parser.add_argument("--soak", type=float, default=None, metavar="SECONDS",
                        help=f"the load with invariants: {SOAK_WORKERS} workers x {SOAK_CLIENTS} clients for SECONDS on "
                             f"PostgreSQL and on SQLite (default {SOAK_SECONDS}; none with --quick; 0 for none)")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(",")) if args.only else None
    if args.only and args.only - {s[0] for s in THROUGHPUT_SCENARIOS}:
        parser.error("--only: unknown scenario(s) " + ", ".join(sorted(args.only - {s[0] for s in THROUGHPUT_SCENARIOS})))
    args.pairs = args.pairs or (100 if args.quick else 1500)
    args.warmup = args.warmup if args.warmup is not None else (10 if args.quick else 20)
    args.trace_requests = args.trace_requests or (100 if args.quick else 300)
    args.soak = args.soak if args.soak is not None else (0 if args.quick else SOAK_SECONDS)
    if args.pairs < 1 or args.warmup < 0 or args.trace_requests < 1 or args.soak < 0:
        parser.error("--pairs and --trace-requests must be positive, --warmup and --soak not negative")
    return args


# ---------------------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    cpu_model, mem_kib = None, None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    except OSError:
        pass
    try:
        import gunicorn
        gunicorn_version = gunicorn.__version__
    except ImportError:
        gunicorn_version = None
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model or platform.processor() or platform.machine(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "gunicorn": gunicorn_version,
    }


# ---------------------------------------------------------------------------------------------
# Throughput
# ---------------------------------------------------------------------------------------------

class PostgresTemplate:
    """The PostgreSQL server of MES_BENCH_PG_URL with a migrated and seeded template database, from which
    each scenario gets a copy; `reason` says why there is none (the scenarios are then skipped)."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.server_url = os.environ.get("MES_BENCH_PG_URL") or DEFAULT_PG_URL
        self.pg = PostgresServer(self.server_url)
        self.template: Optional[str] = None
        self.reason = self.pg.unavailable_reason()
        self.cpu_note = postgres_cpu_unavailable(self.server_url)  # None: its CPU can be read in /proc
        if self.reason:
            print(f"  PostgreSQL skipped: {self.reason}")
            results["skipped"]["postgresql"] = self.reason
            return
        results["machine"]["postgresql"] = self.pg.version()
        print(f"PostgreSQL {results['machine']['postgresql']}: migrating and seeding a template database …", flush=True)
        self.template = self.pg.create("tmpl")
        migrate_and_seed(self.pg.url_for(self.template))

    def copy(self, name: str) -> tuple[str, str]:
        """A fresh copy of the template: (database name, URL)."""
        database = self.pg.create(name, template=self.template)
        return database, self.pg.url_for(database)

    def drop_all(self) -> None:
        self.pg.drop_all()


def _cpu_counters(server: GunicornServer, pg_database: Optional[str]) -> dict[str, Any]:
    counters: dict[str, Any] = {"workers": gunicorn_cpu(server.process.pid)}
    if pg_database:
        counters["postgresql"] = postgres_cpu(pg_database)
    return counters


def _cpu_per_pair(before: dict[str, Any], after: dict[str, Any], results: list[FlowResult], pairs: int,
                  pg_cpu_note: Optional[str]) -> dict[str, Any]:
    """CPU milliseconds per measured pair: the gunicorn workers, PostgreSQL (the benchmark database's
    backends with the server's auxiliary processes, and the whole server), the clients."""
    def per_pair(seconds: float) -> float:
        return round(1000 * seconds / pairs, 2)
    cpu: dict[str, Any] = {"workers_ms": per_pair(after["workers"] - before["workers"]),
                           "clients_ms": per_pair(sum(r.cpu for r in results))}
    if "postgresql" in after:
        cpu["postgresql_ms"] = per_pair(after["postgresql"]["database"] - before["postgresql"]["database"])
        cpu["postgresql_all_ms"] = per_pair(after["postgresql"]["all"] - before["postgresql"]["all"])
    elif pg_cpu_note:
        cpu["postgresql_ms"] = cpu["postgresql_all_ms"] = None
        cpu["postgresql_note"] = pg_cpu_note
    return cpu


def measure_throughput(name: str, label: str, db_url: str, *, workers: int, clients: int, pairs: int,
                       warmup: int, pg_database: Optional[str] = None, pg_cpu_note: Optional[str] = None) -> dict[str, Any]:
    units, warm_units = math.ceil(pairs / STEPS), math.ceil(warmup / STEPS)
    print(f"  {label}: {workers} worker(s), {clients} client(s), {units * STEPS} pairs per client "
          f"({units} units) after {warm_units * STEPS} warm-up pairs …", flush=True)
    with GunicornServer(db_url, workers=workers, name=name) as server:
        staff = Staff.login(server.host, server.port)
        operator_token = login(server.host, server.port, "operator")
        plans = []
        for c in range(clients):
            run_no = authorized_run(staff, f"WO-BENCH-{name.upper()}-{c + 1}", warm_units + units)
            plans.append((run_no, [f"{run_no}-W{i + 1:03d}" for i in range(warm_units)],
                          [f"{run_no}-{i + 1:05d}" for i in range(units)]))
        probe = pg_database if pg_cpu_note is None else None
        results, cpu_before = run_clients(
            flow_worker, [(server.host, server.port, operator_token, run_no, warm, sns) for run_no, warm, sns in plans],
            lambda why: FlowResult(errors=[why]), on_start=lambda: _cpu_counters(server, probe))
        cpu_after = _cpu_counters(server, probe)  # right after the last client's measured part
        errors = [e for r in results for e in r.errors]
        if errors:
            raise BenchError(f"{label}: {len(errors)} failed request(s), first ones:\n  " + "\n  ".join(errors[:5])
                             + f"\nserver log ({server.log_path}):\n{server.log_tail()}")
        for run_no, _warm, _sns in plans:  # every unit DONE → the automatic closeout, then the OQC
            finish_oqc(staff, run_no)
            run = expect(staff.planner.get(f"/api/v1/runs/{run_no}"), 200, f"read run {run_no}")
            if run["status"] != "COMPLETED":
                raise BenchError(f"{label}: run {run_no} is {run['status']} after the benchmark, expected COMPLETED")
        staff.close()
    total = sum(r.pairs for r in results)
    seconds = max(r.ended for r in results) - min(r.started for r in results)
    merged = {key: [v for r in results for v in getattr(r, key)] for key in ("track_in", "track_out", "pair")}
    row = {
        "scenario": name, "label": label, "workers": workers, "clients": clients, "pairs": total, "errors": 0,
        "seconds": round(seconds, 2), "pairs_per_s": round(total / seconds, 1),
        "pairs_per_s_per_worker": round(total / seconds / workers, 1),
        "pairs_per_s_per_client": [round(r.pairs / (r.ended - r.started), 1) for r in results],
        "track_in": latency_summary(merged["track_in"]), "track_out": latency_summary(merged["track_out"]),
        "pair": latency_summary(merged["pair"]),
        "cpu_per_pair": _cpu_per_pair(cpu_before, cpu_after, results, total, pg_cpu_note if pg_database else None),
        "connections_opened": sum(r.connects for r in results),
        "requests": 2 * (total + clients * warm_units * STEPS),
    }
    cpu = row["cpu_per_pair"]
    pg_cpu = (f", PostgreSQL {_ms(cpu.get('postgresql_ms'))}" if "postgresql_ms" in cpu else "")
    print(f"    {row['pairs_per_s']} pairs/s ({row['pairs_per_s_per_worker']} per worker), pair p50 "
          f"{row['pair']['p50_ms']} ms, p95 {row['pair']['p95_ms']} ms; CPU per pair: workers {cpu['workers_ms']} ms"
          f"{pg_cpu}, clients {cpu['clients_ms']} ms", flush=True)
    return row


def arm_spc_chart(path: Path) -> None:
    """Chart SPC_SPEC in the database at `path` as an engineer would have (I-MR, all eight Nelson rules,
    alarm only) with frozen limits 150 ± 3 x 5 µm — written with SQL, as no history exists to freeze
    them from; the harness sends paste heights of 150 ± 9.5 µm."""
    with sqlite3.connect(path) as conn:
        spec_id = conn.execute("SELECT id FROM data_collection_spec WHERE name = ?", (SPC_SPEC,)).fetchone()[0]
        now = datetime.utcnow().isoformat(" ")
        conn.execute(
            "INSERT INTO spc_chart (spec_id, chart_type, subgroup_size, rules, same_side_run, on_alarm, is_active, "
            "center, lcl, ucl, sigma, dispersion_center, dispersion_lcl, dispersion_ucl, sigma_within, "
            "baseline_points, baseline_by, baseline_at, created_at, updated_at) "
            "VALUES (?, 'IMR', 1, '[1, 2, 3, 4, 5, 6, 7, 8]', 9, 'ALARM', 1, 150, 135, 165, 5, 5.64, 0, 18.43, 5, "
            "20, 'bench', ?, ?, ?)", (spec_id, now, now, now))


def spc_comparison(rows: list[dict[str, Any]]) -> Optional[str]:
    """"SQLite+SPC x pairs/s = r x the plain 1/1 figure" when both ran."""
    by_name = {r["scenario"]: r for r in rows}
    plain, spc = by_name.get("sqlite_1w1c"), by_name.get("sqlite_1w1c_spc")
    if not plain or not spc:
        return None
    return (f"SPC rules enabled (paste height, I-MR, rules 1-8): {spc['pairs_per_s']} pairs/s against "
            f"{plain['pairs_per_s']} plain = {spc['pairs_per_s'] / plain['pairs_per_s']:.2f}x; statements per pair: "
            f"+{SPC_STATEMENTS} at the charted step only ({SPC_STATEMENTS / STEPS:.1f} per pair over the 5 steps; "
            "tests/perf/counts.py --spc counts them)")


def _ms(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value} ms"


def throughput(template: Path, pg: Optional[PostgresTemplate], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The scenarios of THROUGHPUT_SCENARIOS; the PostgreSQL ones when `pg` has a template."""
    rows = []
    for name, label, workers, clients in THROUGHPUT_SCENARIOS:
        if args.only and name not in args.only:
            continue
        options = dict(workers=workers, clients=clients, pairs=args.pairs, warmup=args.warmup)
        if label.startswith("SQLite"):
            path = copy_sqlite(template, DATA_DIR / f"{name}.db")
            try:
                if name.endswith("_spc"):
                    arm_spc_chart(path)
                rows.append(measure_throughput(name, label, sqlite_url(path), **options))
            finally:
                remove_sqlite(path)
        elif pg is not None and pg.template:
            database, url = pg.copy(name.split("_", 1)[1])
            rows.append(measure_throughput(name, label, url, pg_database=database, pg_cpu_note=pg.cpu_note, **options))
    return rows


# ---------------------------------------------------------------------------------------------
# Load with invariants (tests/perf/load.py)
# ---------------------------------------------------------------------------------------------

def measure_soak(name: str, label: str, db_url: str, seconds: float) -> dict[str, Any]:
    print(f"  {label}: {SOAK_WORKERS} workers, {SOAK_CLIENTS} clients for {seconds:g} s (TrackIn/TrackOut with SPI/AOI "
          "results, reel replacements and trace reads) …", flush=True)
    with GunicornServer(db_url, workers=SOAK_WORKERS, name=name) as server:
        result = run_load(server.host, server.port, db_url, clients=SOAK_CLIENTS, seconds=seconds,
                          integration_key=INTEGRATION_KEY, tag=name.upper())
    log = (server.log_path.read_text(errors="replace") if server.log_path.exists() else "").splitlines()
    result.update({"scenario": name, "label": label, "workers": SOAK_WORKERS, "server_log": str(server.log_path),
                   # log lines (one JSON line per event, its traceback inside)
                   "database_is_locked_in_log": sum("database is locked" in line for line in log),
                   "tracebacks_in_log": sum("Traceback" in line for line in log)})
    print(f"    {result['pairs_per_s']} pairs/s, pair p95 {result['latency']['pair']['p95_ms']} ms, "
          f"{result['requests']} requests {result['statuses']}; invariants "
          f"{'hold' if result['ok'] else 'BROKEN'}", flush=True)
    return result


def soak(template: Path, pg: Optional[PostgresTemplate], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    if pg is not None and pg.template:
        _database, url = pg.copy("soak")
        rows.append(measure_soak("soak_pg", "PostgreSQL", url, args.soak))
    path = copy_sqlite(template, DATA_DIR / "soak_sqlite.db")
    try:
        rows.append(measure_soak("soak_sqlite", "SQLite", sqlite_url(path), args.soak))
    finally:
        remove_sqlite(path)
    return rows


# ---------------------------------------------------------------------------------------------
# Trace
# ---------------------------------------------------------------------------------------------

def _page_cache(path: Path, *, load: bool) -> None:
    """Evict the database file (and its WAL) from the OS page cache, or read it all into it."""
    for file in (path, Path(f"{path}-wal")):
        if not file.exists():
            continue
        if load:
            with open(file, "rb") as fh:
                while fh.read(8 << 20):
                    pass
        elif hasattr(os, "posix_fadvise"):
            fd = os.open(file, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _trace_pass(client: Client, sns: list[str]) -> list[float]:
    times = []
    for sn in sns:
        reply = client.get(f"/api/v1/trace/units/{quote(sn)}")
        data = expect(reply, 200, f"trace of {sn}")
        if data["unit"]["sn"] != sn or len(data["tracks"]) < STEPS:
            raise BenchError(f"trace of {sn}: unexpected answer ({len(data['tracks'])} tracks)")
        times.append(reply.seconds)
    return times


def measure_trace(size: str, units: int, template: Path, revision: str, args: argparse.Namespace) -> dict[str, Any]:
    """Trace latency over random SNs of a history database, in two passes on one server: `cold` with
    the file evicted from the OS page cache before the server starts (every leaf page read from
    disk; a warm-up of 30 other SNs loads the app and the upper index levels), then `warm` after the
    whole file was read into the page cache (a server whose database fits in memory)."""
    path = DATA_DIR / f"trace_{size.lower()}.db"
    meta = datagen.cached_meta(path, units, revision)
    if meta is None:
        print(f"  generating {units:,} units of history into {path.relative_to(DATA_DIR.parents[2])} …", flush=True)
        meta, generated = datagen.ensure_history(path, template, units, revision)
        print(f"    generated in {meta['generation_seconds']} s: " +
              ", ".join(f"{n:,} {table}" for table, n in meta["rows"].items()) +
              f"; {meta['size_bytes'] / 2**20:,.0f} MiB", flush=True)
    else:
        generated = False
        print(f"  reusing {path.name} ({meta['units']:,} units, generated {meta['generated_at']})", flush=True)
    warmup, n = 30, args.trace_requests
    sns = datagen.sample_sns(path, meta, warmup + 2 * n)
    print(f"  trace at {size} units: {n} requests over random SNs with a cold page cache, then {n} warm …", flush=True)
    _page_cache(path, load=False)
    with GunicornServer(sqlite_url(path), workers=1, name=f"trace_{size.lower()}") as server:
        client = Client(server.host, server.port, login(server.host, server.port, "manager"))
        _trace_pass(client, sns[:warmup])
        cold = _trace_pass(client, sns[warmup:warmup + n])
        _page_cache(path, load=True)
        warm = _trace_pass(client, sns[warmup + n:])
        client.close()
    row = {"history": size, "units": meta["units"], "tracks": meta["rows"]["track"],
           "data_values": meta["rows"]["data_value"], "db_mib": round(meta["size_bytes"] / 2**20),
           "generated_now": generated, "generation_seconds": meta["generation_seconds"],
           "cold": latency_summary(cold), "warm": latency_summary(warm)}
    print(f"    cold p50 {row['cold']['p50_ms']} ms, p95 {row['cold']['p95_ms']} ms; "
          f"warm p50 {row['warm']['p50_ms']} ms, p95 {row['warm']['p95_ms']} ms", flush=True)
    return row


def _report_queries(units: int) -> list[tuple[str, str]]:
    """(label, query string) of the report periods, ending with the history's last day."""
    last = (datagen.BASE + units * datagen.UNIT_SPACING).date()
    return [(label, f"from={(last - timedelta(days=days - 1)).isoformat()}&to={last.isoformat()}&bucket={bucket}")
            for label, days, bucket in REPORT_PERIODS]


def _report_statements(path: Path, requests: list[str]) -> dict[str, int]:
    """SQL statements per report request, counted in this process (the app behind Flask's test client)
    on the history database: what does not depend on the machine."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db
    saved = {k: os.environ.get(k) for k in ("MES_ENV", "MES_LOG_LEVEL")}
    os.environ.update({"MES_ENV": "test", "MES_LOG_LEVEL": "ERROR"})  # this process only, for create_app
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url(path), "SECRET_KEY": "bench-secret-key-for-statement-counts", "TESTING": True})
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    counted: dict[str, int] = {}
    try:
        client = app.test_client()
        token = client.post("/api/v1/security/login", json={"username": "manager", "password": DEMO_PASSWORD,
                                                            "provider": "db"}).get_json()["access_token"]
        with app.app_context():
            engine = db.engine
        statements = {"n": 0}

        def count(*_args):
            statements["n"] += 1
        event.listen(engine, "before_cursor_execute", count)
        for request in requests:
            client.get(request, headers={"Authorization": f"Bearer {token}"})  # caches filled
            statements["n"] = 0
            answer = client.get(request, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 200:
                raise BenchError(f"{request}: HTTP {answer.status_code}: {answer.get_data(as_text=True)[:300]}")
            counted[request] = statements["n"]
        event.remove(engine, "before_cursor_execute", count)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return counted


def measure_reports(size: str, units: int, revision: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Report latency on the trace's history database with a warm page cache (one worker, one client)."""
    path = DATA_DIR / f"trace_{size.lower()}.db"
    if datagen.cached_meta(path, units, revision) is None:
        raise BenchError(f"no {size} history to report on ({path.name})")
    n, warmup = (5, 1) if args.quick else (20, 2)
    queries = _report_queries(units)
    print(f"  reports at {size} units: {n} requests per report and period …", flush=True)
    # the reports summarise closed hours on first need: start empty. Closed before _page_cache opens
    # and closes the file: closing any descriptor of a file drops the process's POSIX locks on it, and
    # a connection left open without its locks corrupts the database when it closes later
    conn = sqlite3.connect(path)
    try:
        conn.execute("DELETE FROM report_fpy_slot")
        conn.execute("DELETE FROM report_summary_hour")
        conn.commit()
    finally:
        conn.close()
    _page_cache(path, load=True)
    rows = []
    with GunicornServer(sqlite_url(path), workers=1, name=f"reports_{size.lower()}") as server:
        client = Client(server.host, server.port, login(server.host, server.port, "manager"))
        for label, query in queries:
            for kind, url in REPORTS:
                times = []
                for _ in range(warmup + n):
                    reply = client.get(f"{url}?{query}")
                    expect(reply, 200, f"{kind} report {label}")
                    times.append(reply.seconds)
                # the first request of a period's first report also summarises its closed hours
                rows.append({"history": size, "units": units, "report": kind, "period": label,
                             "first_ms": round(times[0] * 1000, 1), **latency_summary(times[warmup:])})
                print(f"    {kind:<10} {label:<12} first {rows[-1]['first_ms']} ms, p50 {rows[-1]['p50_ms']} ms, "
                      f"p95 {rows[-1]['p95_ms']} ms", flush=True)
        client.close()
    statements = _report_statements(path, [f"{url}?{query}" for _, query in queries for _, url in REPORTS])
    for row, request in zip(rows, [f"{url}?{query}" for _, query in queries for _, url in REPORTS]):
        row["statements"] = statements[request]
    return rows


# ---------------------------------------------------------------------------------------------
# Targets and report
# ---------------------------------------------------------------------------------------------

def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    sqlite_1 = next((r for r in results["throughput"] if r["scenario"] == "sqlite_1w1c"), None)
    if sqlite_1:
        targets.append({"target": f">= {TARGET_PAIRS_PER_S} pairs/s, SQLite, 1 worker, 1 client",
                        "measured": f"{sqlite_1['pairs_per_s']} pairs/s",
                        "met": sqlite_1["pairs_per_s"] >= TARGET_PAIRS_PER_S})
    ratio = pg_ratio(results)
    if ratio is not None:
        targets.append({"target": f"PostgreSQL 1 worker >= {TARGET_PG_RATIO}x SQLite 1 worker (1 client, same run)",
                        "measured": f"{ratio:.2f}x", "met": ratio >= TARGET_PG_RATIO})
    for r in results.get("soak", []):
        failed = [c["name"] for c in r["checks"] if not c["ok"]]
        targets.append({"target": f"invariants under {r['workers']} workers x {r['clients']} clients, {r['label']}",
                        "measured": "all hold" if not failed else "broken: " + "; ".join(failed), "met": not failed})
    trace = {r["history"]: r for r in results["trace"]}
    for cache in ("warm", "cold"):
        if "1M" not in trace:
            break
        p95_1m = trace["1M"][cache]["p95_ms"]
        targets.append({"target": f"trace p95 <= {TARGET_TRACE_P95_MS} ms at 1M units ({cache} page cache)",
                        "measured": f"{p95_1m} ms", "met": p95_1m <= TARGET_TRACE_P95_MS})
        if "10k" in trace:
            p95_10k = trace["10k"][cache]["p95_ms"]
            ratio = p95_1m / p95_10k
            targets.append({"target": f"trace p95 at 1M <= {TARGET_TRACE_GROWTH}x p95 at 10k ({cache} page cache)",
                            "measured": f"{ratio:.2f}x ({p95_1m} / {p95_10k} ms)",
                            "met": ratio <= TARGET_TRACE_GROWTH})
    for r in results.get("reports", []):
        if r["history"] == "1M":
            targets.append({"target": f"{r['report']} report ({r['period']}) p95 <= {TARGET_REPORT_P95_MS} ms at 1M units",
                            "measured": f"{r['p95_ms']} ms", "met": r["p95_ms"] <= TARGET_REPORT_P95_MS})
    return targets


def pg_ratio(results: dict[str, Any]) -> Optional[float]:
    """PostgreSQL 1/1 ÷ SQLite 1/1 pairs/s of this run (None without both)."""
    rows = {r["scenario"]: r for r in results["throughput"]}
    if "pg_1w1c" not in rows or "sqlite_1w1c" not in rows:
        return None
    return rows["pg_1w1c"]["pairs_per_s"] / rows["sqlite_1w1c"]["pairs_per_s"]


def _fmt(ms: Optional[float]) -> str:
    return "n/a" if ms is None else f"{ms:.2f}"


def _per_core(ms: Optional[float]) -> str:
    return f"{1000 / ms:.0f}" if ms else "n/a"


def _lat(summary: dict[str, Any]) -> str:
    return f"{summary['p50_ms']:.1f} / {summary['p95_ms']:.1f} / {summary['p99_ms']:.1f}"


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print()
    print(f"LineMES benchmark — {results['timestamp']}")
    print(f"machine: {m['cpu_model']}, {m['nproc']} CPU(s), {m['ram_gib']} GiB RAM, Python {m['python']}, "
          f"SQLite {m['sqlite']}, gunicorn {m['gunicorn']}"
          + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else ""))
    if results["throughput"]:
        print()
        print("TrackIn + TrackOut over HTTP (5 SMT steps with data; latency in ms, p50 / p95 / p99)")
        header = (f"{'database':<11} {'workers':>7} {'clients':>7} {'pairs':>6} {'pairs/s':>8} {'/worker':>8}  "
                  f"{'track-in':<20} {'track-out':<20} {'pair':<20} target")
        print(header)
        print("-" * len(header))
        ratio = pg_ratio(results)
        for r in results["throughput"]:
            target = ""
            if r["scenario"] == "sqlite_1w1c":
                target = f"{'PASS' if r['pairs_per_s'] >= TARGET_PAIRS_PER_S else 'MISS'} (>= {TARGET_PAIRS_PER_S})"
            elif r["scenario"] == "pg_1w1c" and ratio is not None:
                target = f"{'PASS' if ratio >= TARGET_PG_RATIO else 'MISS'} ({ratio:.2f}x SQLite, >= {TARGET_PG_RATIO})"
            print(f"{r['label']:<11} {r['workers']:>7} {r['clients']:>7} {r['pairs']:>6} {r['pairs_per_s']:>8.1f} "
                  f"{r['pairs_per_s_per_worker']:>8.1f}  "
                  f"{_lat(r['track_in']):<20} {_lat(r['track_out']):<20} {_lat(r['pair']):<20} {target}")
        comparison = spc_comparison(results["throughput"])
        if comparison:
            print(comparison)
        print()
        print("CPU per pair in the measured part (ms; /proc utime+stime): gunicorn workers, PostgreSQL (the benchmark "
              "database's backends + the server's auxiliary processes; all = every server process), clients; "
              "pairs/s one core buys")
        header = (f"{'database':<11} {'workers':>7} {'clients':>7} {'worker':>7} {'pg':>7} {'pg all':>7} {'client':>7}  "
                  f"{'per core: worker':>16} {'pg':>6} {'both':>6}")
        print(header)
        print("-" * len(header))
        notes = set()
        for r in results["throughput"]:
            cpu = r["cpu_per_pair"]
            if cpu.get("postgresql_note"):
                notes.add(cpu["postgresql_note"])
            if "postgresql_ms" in cpu:  # a PostgreSQL scenario: the worker and the server, n/a when unreadable
                pg_ms = cpu["postgresql_ms"]
                pg_cells = f"{_fmt(pg_ms):>7} {_fmt(cpu['postgresql_all_ms']):>7}"
                per_core_pg = _per_core(pg_ms)
                both = None if pg_ms is None else cpu["workers_ms"] + pg_ms
            else:  # SQLite runs inside the worker
                pg_cells, per_core_pg, both = f"{'-':>7} {'-':>7}", "-", cpu["workers_ms"]
            print(f"{r['label']:<11} {r['workers']:>7} {r['clients']:>7} {cpu['workers_ms']:>7.2f} {pg_cells} "
                  f"{cpu['clients_ms']:>7.2f}  {_per_core(cpu['workers_ms']):>16} {per_core_pg:>6} {_per_core(both):>6}")
        for note in sorted(notes):
            print(f"  PostgreSQL CPU n/a: {note}")
    if results.get("soak"):
        print()
        print(f"Load with invariants ({SOAK_WORKERS} workers x {SOAK_CLIENTS} clients: TrackIn/TrackOut, SPI/AOI "
              "results, reel replacements, trace reads; latency in ms, p50 / p95 / p99)")
        header = (f"{'database':<11} {'seconds':>7} {'pairs':>6} {'pairs/s':>8}  {'pair':<20} {'trace':<20} "
                  f"{'requests':>8} {'4xx':>5} {'5xx':>5} {'busy':>5} {'locked*':>7}  invariants")
        print(header)
        print("-" * len(header))
        for r in results["soak"]:
            codes = {int(k): v for k, v in r["statuses"].items()}
            print(f"{r['label']:<11} {r['seconds']:>7.1f} {r['pairs']:>6} {r['pairs_per_s']:>8.1f}  "
                  f"{_lat(r['latency']['pair']):<20} {_lat(r['latency']['trace']):<20} {r['requests']:>8} "
                  f"{sum(v for k, v in codes.items() if 400 <= k < 500):>5} "
                  f"{sum(v for k, v in codes.items() if k >= 500 or k == 0):>5} {r['busy']:>5} "
                  f"{r['database_is_locked_in_log']:>7}  {'hold' if r['ok'] else 'BROKEN'}")
        print("  (*) \"database is locked\" lines in the server log")
        for r in results["soak"]:
            print(f"  {r['label']}: {r['done']} units done, {r['inspections']} SPI/AOI results (+{r['duplicates']} sent "
                  f"again), {r['replaces']} reel replacements, {r['traces']} trace reads")
            print(format_checks(r))
            for failure in r["failures"][:5]:
                print(f"    {failure}")
    if results["trace"]:
        print()
        print("GET /api/v1/trace/units/{sn} (SQLite, 1 worker, random SNs; latency in ms)")
        header = (f"{'history':<8} {'units':>10} {'tracks':>10} {'cache':<5} {'requests':>8} {'p50':>7} {'p95':>7} "
                  f"{'p99':>7}  target")
        print(header)
        print("-" * len(header))
        for r in results["trace"]:
            for cache in ("cold", "warm"):
                lat = r[cache]
                target = ""
                if r["history"] == "1M":
                    met = lat["p95_ms"] <= TARGET_TRACE_P95_MS
                    target = f"{'PASS' if met else 'MISS'} (p95 <= {TARGET_TRACE_P95_MS})"
                print(f"{r['history']:<8} {r['units']:>10,} {r['tracks']:>10,} {cache:<5} {lat['n']:>8} "
                      f"{lat['p50_ms']:>7.1f} {lat['p95_ms']:>7.1f} {lat['p99_ms']:>7.1f}  {target}")
    if results.get("reports"):
        print()
        print("GET /api/v1/reports/… (SQLite, 1 worker, warm page cache; latency in ms)")
        header = (f"{'history':<8} {'report':<11} {'period':<13} {'first':>7} {'requests':>8} {'p50':>7} {'p95':>7} "
                  f"{'statements':>10}  target")
        print(header)
        print("-" * len(header))
        for r in results["reports"]:
            target = ""
            if r["history"] == "1M":
                target = f"{'PASS' if r['p95_ms'] <= TARGET_REPORT_P95_MS else 'MISS'} (p95 <= {TARGET_REPORT_P95_MS})"
            print(f"{r['history']:<8} {r['report']:<11} {r['period']:<13} {r.get('first_ms', 0):>7.1f} {r['n']:>8} {r['p50_ms']:>7.1f} "
                  f"{r['p95_ms']:>7.1f} {r['statements']:>10}  {target}")
    if results["targets"]:
        print()
        print("Targets (issues 4, 14 and 16)")
        for t in results["targets"]:
            print(f"  {'PASS' if t['met'] else 'MISS'}  {t['target']}: {t['measured']}")
    for what, reason in results["skipped"].items():
        print(f"  skipped {what}: {reason}")


def write_json(results: dict[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    now = datetime.now().astimezone()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "timestamp": now.isoformat(timespec="seconds"), "machine": machine_info(),
        "options": {"quick": args.quick, "pairs_per_client": math.ceil(args.pairs / STEPS) * STEPS,
                    "warmup_pairs_per_client": math.ceil(args.warmup / STEPS) * STEPS,
                    "trace_requests": args.trace_requests, "skip_pg": args.skip_pg, "skip_trace": args.skip_trace,
                    "skip_throughput": args.skip_throughput, "soak_seconds": args.soak},
        "throughput": [], "soak": [], "trace": [], "reports": [], "targets": [], "skipped": {}, "error": None,
    }
    started = time.monotonic()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    template = DATA_DIR / "template.db"
    pg: Optional[PostgresTemplate] = None
    try:
        print("SQLite template: flask db upgrade + flask mes seed --demo …", flush=True)
        revision = create_sqlite_template(template)
        results["migration"] = revision
        if args.skip_pg:
            results["skipped"]["postgresql"] = "--skip-pg"
        elif not args.skip_throughput or args.soak:
            pg = PostgresTemplate(results)
        if args.skip_throughput:
            results["skipped"]["throughput"] = "--skip-throughput"
        else:
            print("Throughput", flush=True)
            results["throughput"] += throughput(template, pg, args)
        if not args.soak:
            results["skipped"]["load with invariants"] = "--quick" if args.quick else "--soak 0"
        else:
            print("Load with invariants", flush=True)
            results["soak"] += soak(template, pg, args)
        if args.skip_trace:
            results["skipped"]["trace"] = "--skip-trace"
        else:
            print("Trace latency", flush=True)
            sizes = ["10k"] if args.quick else ["10k", "1M"]
            if args.quick:
                results["skipped"]["trace 1M"] = "--quick"
            for size in sizes:
                results["trace"].append(measure_trace(size, HISTORIES[size], template, revision, args))
            print("Report latency", flush=True)
            for size in sizes:
                results["reports"] += measure_reports(size, HISTORIES[size], revision, args)
    except BenchError as error:
        results["error"] = str(error)
    except KeyboardInterrupt:
        results["error"] = "interrupted"
    finally:
        remove_sqlite(template)
        if pg is not None:
            pg.drop_all()
    results["targets"] = evaluate_targets(results)
    results["duration_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    path = write_json(results, stamp)
    print(f"\nresults: {path}  ({results['duration_s']} s)")
    if results["error"]:
        print(f"\nBENCHMARK FAILED: {results['error']}", file=sys.stderr)
        return 1
    broken = [r["label"] for r in results["soak"] if not r["ok"]]
    if broken:
        print(f"\nINVARIANTS BROKEN under load on {', '.join(broken)} (the checks above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
