#!/usr/bin/env python3
"""LineMES performance benchmark (`make bench`; issue 4 §6). Not a test: it measures and reports.

Everything runs over real HTTP against gunicorn processes on 127.0.0.1 (the production server and
configuration of `make run`), on databases migrated and seeded through the `flask` CLI:

1. Throughput — TrackIn + TrackOut pairs per second and latency percentiles, units flowing through the
   5 SMT steps of P-1001 with their data values: SQLite with 1 worker and 1 client (the target),
   SQLite with 4 workers and 4 clients (for comparison), and PostgreSQL with 1/1 and 4 workers and
   4 concurrent clients when PostgreSQL answers (127.0.0.1:5432, user postgres; MES_BENCH_PG_URL).
2. Trace — latency of GET /api/v1/trace/units/{sn} over random SNs at 10k and 1M units of history
   (bulk-generated once into tests/perf/data/, cached), with a cold and then a warm OS page cache.
3. Reports — latency of the production report, the quality report and the dashboard over the same
   histories (the last day per hour, the last 7 and 31 days per day), and the SQL statements of each.

Prints a table and writes tests/perf/results/bench-<YYYYmmdd-HHMMSS>.json. Targets (issue 4) are
reported PASS/MISS, never asserted; the exit status is non-zero only when something failed
(an HTTP error, a server that did not start).

    python tests/perf/bench.py [--quick] [--skip-pg] [--skip-trace] [--skip-throughput] [--pairs N]
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import queue as queue_module
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
    DATA_DIR, DEFAULT_PG_URL, DEMO_PASSWORD, PROJECT_ROOT, RESULTS_DIR, SMT_STATIONS, BenchError, Client, FlowResult, GunicornServer,
    PostgresServer, Staff, authorized_run, copy_sqlite, finish_oqc, create_sqlite_template, expect, flow_units, flow_worker,
    latency_summary, login, migrate_and_seed, remove_sqlite, sqlite_url,
)

STEPS = len(SMT_STATIONS)
TARGET_PAIRS_PER_S = 150        # one SQLite worker, one client
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
                        help="smoke check: 100 pairs per client, 10k history only, 100 trace requests")
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
    args = parser.parse_args(argv)
    args.pairs = args.pairs or (100 if args.quick else 1500)
    args.warmup = args.warmup if args.warmup is not None else (10 if args.quick else 20)
    args.trace_requests = args.trace_requests or (100 if args.quick else 300)
    if args.pairs < 1 or args.warmup < 0 or args.trace_requests < 1:
        parser.error("--pairs and --trace-requests must be positive, --warmup not negative")
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

def _run_clients(server: GunicornServer, token: str, plans: list[tuple[str, list[str], list[str]]]) -> list[FlowResult]:
    """One client in this process, or one process per client started together behind a barrier."""
    if len(plans) == 1:
        run_no, warm, sns = plans[0]
        return [flow_units(server.host, server.port, token, run_no, warm, sns)]
    ctx = multiprocessing.get_context("fork")
    barrier, results_queue = ctx.Barrier(len(plans)), ctx.Queue()
    processes = [ctx.Process(target=flow_worker, args=((server.host, server.port, token, run_no, warm, sns),
                                                       barrier, results_queue), daemon=True)
                 for run_no, warm, sns in plans]
    for process in processes:
        process.start()
    results: list[FlowResult] = []
    while len(results) < len(processes):
        try:
            results.append(results_queue.get(timeout=5))
        except queue_module.Empty:
            if not any(p.is_alive() for p in processes) and results_queue.empty():
                missing = len(processes) - len(results)
                results += [FlowResult(errors=["a client process died without a result"]) for _ in range(missing)]
    for process in processes:
        process.join(timeout=30)
    return results


def measure_throughput(name: str, label: str, db_url: str, *, workers: int, clients: int, pairs: int,
                       warmup: int) -> dict[str, Any]:
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
        results = _run_clients(server, operator_token, plans)
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
        "pairs_per_s_per_client": [round(r.pairs / (r.ended - r.started), 1) for r in results],
        "track_in": latency_summary(merged["track_in"]), "track_out": latency_summary(merged["track_out"]),
        "pair": latency_summary(merged["pair"]),
        "connections_opened": sum(r.connects for r in results),
        "requests": 2 * (total + clients * warm_units * STEPS),
    }
    print(f"    {row['pairs_per_s']} pairs/s, pair p50 {row['pair']['p50_ms']} ms, p95 {row['pair']['p95_ms']} ms",
          flush=True)
    return row


def sqlite_throughput(template: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for name, label, workers, clients in (("sqlite_1w1c", "SQLite", 1, 1), ("sqlite_4w4c", "SQLite", 4, 4)):
        path = copy_sqlite(template, DATA_DIR / f"{name}.db")
        try:
            rows.append(measure_throughput(name, label, sqlite_url(path), workers=workers, clients=clients,
                                           pairs=args.pairs, warmup=args.warmup))
        finally:
            remove_sqlite(path)
    return rows


def postgres_throughput(args: argparse.Namespace, results: dict[str, Any]) -> list[dict[str, Any]]:
    server_url = os.environ.get("MES_BENCH_PG_URL") or DEFAULT_PG_URL
    pg = PostgresServer(server_url)
    reason = pg.unavailable_reason()
    if reason:
        print(f"  PostgreSQL skipped: {reason}")
        results["skipped"]["postgresql"] = reason
        return []
    results["machine"]["postgresql"] = pg.version()
    rows = []
    try:
        print(f"  PostgreSQL {results['machine']['postgresql']}: migrating and seeding a template database …",
              flush=True)
        template = pg.create("tmpl")
        migrate_and_seed(pg.url_for(template))
        for name, workers, clients in (("pg_1w1c", 1, 1), ("pg_4w4c", 4, 4)):
            database = pg.create(name.split("_", 1)[1], template=template)
            rows.append(measure_throughput(name, "PostgreSQL", pg.url_for(database), workers=workers,
                                           clients=clients, pairs=args.pairs, warmup=args.warmup))
    finally:
        pg.drop_all()
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
        header = (f"{'database':<11} {'workers':>7} {'clients':>7} {'pairs':>6} {'pairs/s':>8}  "
                  f"{'track-in':<20} {'track-out':<20} {'pair':<20} target")
        print(header)
        print("-" * len(header))
        for r in results["throughput"]:
            target = ""
            if r["scenario"] == "sqlite_1w1c":
                target = f"{'PASS' if r['pairs_per_s'] >= TARGET_PAIRS_PER_S else 'MISS'} (>= {TARGET_PAIRS_PER_S})"
            print(f"{r['label']:<11} {r['workers']:>7} {r['clients']:>7} {r['pairs']:>6} {r['pairs_per_s']:>8.1f}  "
                  f"{_lat(r['track_in']):<20} {_lat(r['track_out']):<20} {_lat(r['pair']):<20} {target}")
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
        print("Targets (issues 4 and 14)")
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
                    "skip_throughput": args.skip_throughput},
        "throughput": [], "trace": [], "reports": [], "targets": [], "skipped": {}, "error": None,
    }
    started = time.monotonic()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    template = DATA_DIR / "template.db"
    try:
        print("SQLite template: flask db upgrade + flask mes seed --demo …", flush=True)
        revision = create_sqlite_template(template)
        results["migration"] = revision
        if args.skip_throughput:
            results["skipped"]["throughput"] = "--skip-throughput"
        else:
            print("Throughput", flush=True)
            results["throughput"] += sqlite_throughput(template, args)
            if args.skip_pg:
                results["skipped"]["postgresql"] = "--skip-pg"
            else:
                results["throughput"] += postgres_throughput(args, results)
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
    results["targets"] = evaluate_targets(results)
    results["duration_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    path = write_json(results, stamp)
    print(f"\nresults: {path}  ({results['duration_s']} s)")
    if results["error"]:
        print(f"\nBENCHMARK FAILED: {results['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
