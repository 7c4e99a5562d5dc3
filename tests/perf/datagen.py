"""Bulk generation of production history for the trace benchmark, straight into a SQLite file.

Starting from a copy of the migrated, demo-seeded database, it writes what years of an SMT line leave
behind: work orders and runs (COMPLETED, frozen on the seeded READY version of RT-P1001-SMT), units
(DONE at step 50, ended at its last TrackOut), five closed PASS tracks per unit at the route's stations
(operator `operator`; each the unit's first TrackOut at its step but the repaired unit's second AOI visit),
the data values of steps 10, 20 and 40 (the seeded specs, values within limits), and for one unit in
250 a failed AOI visit with its defect (CLOSED) before the passing one. When the schema has them (the
readiness/loading capability), also the genealogy — one material_use row per loaded reel of the
seeded slot table at the material-consuming step — and one PASSED FORMAL readiness check per run with
an item per readiness check of the line. Audit events are not generated: the trace never reads them.

Rows are built in Python and written with sqlite3 `executemany` in large transactions, journal off
and `synchronous = OFF` (a crash only loses the `.tmp` file being generated). A `<name>.meta.json`
next to the database records what was generated; `ensure_history` reuses the file while the
generator version, the unit count and the migration head match.
"""
from __future__ import annotations

import json
import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from harness import copy_sqlite, remove_sqlite

DATAGEN_VERSION = 4  # 3: the report columns (unit.ended_at, unit.max_out_step_no, track.first_out); 4: ix_unit_ended with status (0008)
UNITS_PER_RUN = 1000
DEFECT_EVERY = 250                     # one unit in 250 failed AOI once, was repaired and passed
UNIT_SPACING = timedelta(seconds=30)   # a unit enters the line every 30 s (1M units ≈ 1 year)
STEP_SPACING = timedelta(seconds=90)   # a unit reaches the next step 90 s later
STEP_DURATION = timedelta(seconds=60)  # and spends 60 s in the station
BASE = datetime(2025, 1, 1, 0, 0, 0, 1000)  # UTC, stored naive like the app does on SQLite
DEFECT_CODES = ("SOLDER_BRIDGE", "INSUFFICIENT_SOLDER", "TOMBSTONE", "MISSING_PART")
COMMIT_EVERY_RUNS = 50


def ts(value: datetime) -> str:
    """The app's SQLite datetime format (SQLAlchemy: 'YYYY-MM-DD HH:MM:SS.ffffff'); BASE has a
    non-zero microsecond, so isoformat always prints the fraction."""
    return value.isoformat(" ")


@dataclass
class StepInfo:
    step_no: int
    station_id: int
    specs: list[tuple[int, str, float, float]]  # (spec id, name, low, high) — values are drawn in [low, high]
    consumes_material: bool


@dataclass
class Seeded:
    product_id: int
    routing_id: int
    version_id: int
    line_id: int
    operator_id: int
    steps: list[StepInfo]
    reels: list[tuple[str, int]]   # (slot code, lot id) of the slot table; empty without genealogy
    readiness_items: list[str]     # the line's readiness checks; empty without readiness
    route_key: str                 # "RT-P1001-SMT v1"


def load_seeded(conn: sqlite3.Connection) -> Seeded:
    """Ids of the demo master data the history refers to, and the steps of the frozen version."""
    def one(sql: str, *args):
        row = conn.execute(sql, args).fetchone()
        if row is None:
            raise RuntimeError(f"seeded data missing: {sql} {args}")
        return row
    product_id, = one("SELECT id FROM product WHERE code = 'P-1001'")
    routing_id, = one("SELECT id FROM routing WHERE code = 'RT-P1001-SMT'")
    version_id, snapshot = one("SELECT id, snapshot FROM executable_route_version WHERE routing_id = ? "
                               "AND status = 'READY' ORDER BY version_no DESC LIMIT 1", routing_id)
    line_id, = one("SELECT id FROM line WHERE code = 'LINE-SMT-A'")
    operator_id, = one("SELECT id FROM ab_user WHERE username = 'operator'")
    steps = []
    for raw in sorted(json.loads(snapshot)["steps"], key=lambda s: s["stepNo"]):
        station_id, = one("SELECT s.id FROM station s JOIN station_group g ON g.id = s.group_id "
                          "WHERE g.code = ? AND s.line_id = ? AND s.is_active ORDER BY s.code LIMIT 1",
                          raw["stationGroupCode"], line_id)
        specs = []
        for spec in raw.get("dataSpecs") or []:
            lsl, usl, target = spec.get("lsl"), spec.get("usl"), spec.get("target")
            centre = target if target is not None else ((lsl + usl) / 2 if lsl is not None and usl is not None else 1.0)
            half = (usl - lsl) / 6 if lsl is not None and usl is not None else 0.1
            specs.append((spec["id"], spec["name"], centre - half, centre + half))
        steps.append(StepInfo(raw["stepNo"], station_id, specs, bool(raw.get("consumesMaterial"))))
    version_no, = one("SELECT version_no FROM executable_route_version WHERE id = ?", version_id)
    tables = {name for name, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    reels, items = [], []
    if {"material_use", "feeder_slot", "slot_material_mapping"} <= tables:
        # each slot's primary material (lowest priority, not an alternate) and its first accepted lot
        reels = conn.execute(
            "SELECT s.slot_code, (SELECT l.id FROM material_lot l WHERE l.material_id = m.material_id "
            "                     AND l.iqc_result = 'ACCEPTED' ORDER BY l.id LIMIT 1) "
            "FROM feeder_slot s JOIN slot_material_mapping m ON m.slot_id = s.id "
            "WHERE s.line_id = ? AND NOT m.is_alternate AND m.priority = "
            "      (SELECT min(priority) FROM slot_material_mapping WHERE slot_id = s.id AND NOT is_alternate) "
            "ORDER BY s.position, s.slot_code", (line_id,)).fetchall()
        reels = [(slot, lot) for slot, lot in reels if lot is not None]
    if {"readiness_check", "readiness_item"} <= tables:
        enabled, = one("SELECT readiness_checks_enabled FROM line WHERE id = ?", line_id)
        items = list(json.loads(enabled or "[]"))
    return Seeded(product_id, routing_id, version_id, line_id, operator_id, steps, reels, items,
                  f"RT-P1001-SMT v{version_no}")


class IdSequence:
    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        self.next = (conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0) + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


INSERTS = {
    "work_order": "INSERT INTO work_order (id, wo_no, product_id, planned_qty, routing_id, status, source_system, "
                  "line_id, released_at, closed_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "run": "INSERT INTO run (id, run_no, work_order_id, line_id, route_version_id, plan_qty, status, started_at, "
           "ended_at, fai_waived, authorized_by, authorized_at, created_at, updated_at) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "unit": "INSERT INTO unit (id, sn, work_order_id, run_id, status, current_step_no, rework_count, created_at, "
            "updated_at, ended_at, max_out_step_no) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "track": "INSERT INTO track (id, unit_id, run_id, step_no, station_id, operator_id, operator, in_at, out_at, "
             "result, mode, source, open_unit_id, first_out) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,NULL,?)",
    "data_value": "INSERT INTO data_value (id, track_id, spec_id, spec_name, value_number, judge, alarmed, source, "
                  "collected_at) VALUES (?,?,?,?,?,?,?,?,?)",
    "defect": "INSERT INTO defect (id, unit_id, track_id, step_no, code, location, description, qty, status, source, "
              "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "material_use": "INSERT INTO material_use (id, unit_id, lot_id, track_id, slot_code, step_no, recorded_at) "
                    "VALUES (?,?,?,?,?,?,?)",
    "readiness_check": "INSERT INTO readiness_check (id, run_id, kind, status, checked_at, checked_by, inputs_hash) "
                       "VALUES (?,?,?,?,?,?,?)",
    "readiness_item": "INSERT INTO readiness_item (id, check_id, item_type, item_key, status, evidence) "
                      "VALUES (?,?,?,?,?,?)",
}


class HistoryWriter:
    def __init__(self, conn: sqlite3.Connection, seeded: Seeded) -> None:
        self.conn, self.seeded = conn, seeded
        skipped = set()
        if not seeded.reels:
            skipped.add("material_use")
        if not seeded.readiness_items:
            skipped |= {"readiness_check", "readiness_item"}
        tables = [table for table in INSERTS if table not in skipped]
        self.ids = {table: IdSequence(conn, table) for table in tables}
        self.rows: dict[str, list[tuple]] = {table: [] for table in tables}
        self.counts = {table: 0 for table in tables}
        self.rng = random.Random(20260101)
        # per step: offsets of TrackIn / TrackOut from the unit's start
        self.offsets = [(k * STEP_SPACING, k * STEP_SPACING + STEP_DURATION) for k in range(len(seeded.steps))]

    def flush(self) -> None:
        for table, rows in self.rows.items():
            if rows:
                self.conn.executemany(INSERTS[table], rows)
                self.counts[table] += len(rows)
                rows.clear()

    def _track(self, unit_id: int, run_id: int, step: StepInfo, in_at: datetime, out_at: datetime,
               result: str, first_out: bool = True) -> tuple[int, str]:
        track_id = self.ids["track"].take()
        out_text = ts(out_at)
        self.rows["track"].append((track_id, unit_id, run_id, step.step_no, step.station_id, self.seeded.operator_id,
                                   "operator", ts(in_at), out_text, result, "NORMAL", "MANUAL", int(first_out)))
        return track_id, out_text

    def run(self, run_index: int, first_unit: int, units: int) -> None:
        """One work order with one run of `units` units (global unit numbers from first_unit)."""
        s = self.seeded
        wo_id, run_id = self.ids["work_order"].take(), self.ids["run"].take()
        wo_no = f"WO-H{run_index + 1:06d}"
        run_no = f"{wo_no}-R01"
        start = BASE + first_unit * UNIT_SPACING
        last_unit_start = BASE + (first_unit + units - 1) * UNIT_SPACING
        end = last_unit_start + self.offsets[-1][1] + timedelta(minutes=15)  # room for a repaired unit
        self.rows["work_order"].append((wo_id, wo_no, s.product_id, units, s.routing_id, "COMPLETED", "ERP", s.line_id,
                                        ts(start - timedelta(minutes=50)), ts(end + timedelta(minutes=10)),
                                        ts(start - timedelta(hours=1)), ts(end + timedelta(minutes=10))))
        self.rows["run"].append((run_id, run_no, wo_id, s.line_id, s.version_id, units, "COMPLETED", ts(start), ts(end),
                                 0, "planner", ts(start - timedelta(minutes=5)), ts(start - timedelta(minutes=40)),
                                 ts(end)))
        if s.readiness_items:
            check_id = self.ids["readiness_check"].take()
            self.rows["readiness_check"].append((check_id, run_id, "FORMAL", "PASSED", ts(start - timedelta(minutes=6)),
                                                 "leader", f"{run_id:064x}"))
            keys = {"ROUTE": s.route_key, "EQUIPMENT": "LINE-SMT-A", "MATERIAL": "P-1001", "STENCIL": "STN-1001-A",
                    "SOLDER_PASTE": "SP-LOT-0001", "LOADING": run_no}
            for item_type in s.readiness_items:
                self.rows["readiness_item"].append((self.ids["readiness_item"].take(), check_id, item_type,
                                                    keys.get(item_type, item_type), "PASSED", '{"source": "AUTO"}'))
        last_step = s.steps[-1]
        for j in range(units):
            number = first_unit + j
            unit_id = self.ids["unit"].take()
            t0 = BASE + number * UNIT_SPACING
            repaired = number % DEFECT_EVERY == DEFECT_EVERY - 1
            last_out = None
            for step, (off_in, off_out) in zip(s.steps, self.offsets, strict=True):
                in_at, out_at = t0 + off_in, t0 + off_out
                if repaired and step is last_step:
                    # failed AOI, defect recorded, repaired (defect CLOSED), tracked in again and passed
                    failed_id, failed_out = self._track(unit_id, run_id, step, in_at, out_at, "FAIL")
                    self.rows["defect"].append((
                        self.ids["defect"].take(), unit_id, failed_id, step.step_no,
                        DEFECT_CODES[(number // DEFECT_EVERY) % len(DEFECT_CODES)], f"R{number % 97 + 1}",
                        "found at AOI, repaired", 1, "CLOSED", "MANUAL", failed_out,
                        ts(out_at + timedelta(minutes=5))))
                    in_at, out_at = in_at + timedelta(minutes=10), out_at + timedelta(minutes=10)
                track_id, last_out = self._track(unit_id, run_id, step, in_at, out_at, "PASS",
                                                 first_out=not (repaired and step is last_step))
                if step.consumes_material:
                    for slot_code, lot_id in s.reels:
                        self.rows["material_use"].append((self.ids["material_use"].take(), unit_id, lot_id, track_id,
                                                          slot_code, step.step_no, last_out))
                for spec_id, name, low, high in step.specs:
                    self.rows["data_value"].append((self.ids["data_value"].take(), track_id, spec_id, name,
                                                    round(self.rng.uniform(low, high), 2), "PASS", 0, "MANUAL",
                                                    last_out))
            self.rows["unit"].append((unit_id, f"{run_no}-{j + 1:04d}", wo_id, run_id, "DONE", last_step.step_no,
                                      1 if repaired else 0, ts(t0), last_out, last_out, last_step.step_no))


def generate(target: Path, template: Path, units: int, revision: str,
             progress: Callable[[str], None] = print) -> dict:
    """Write `units` units of history into a copy of `template` at `target` (replacing it)."""
    started = time.monotonic()
    tmp = target.with_name(target.name + ".tmp")
    copy_sqlite(template, tmp)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # leave WAL, then no journal at all while generating
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -524288")   # 512 MiB
        conn.execute("PRAGMA temp_store = MEMORY")
        writer = HistoryWriter(conn, load_seeded(conn))
        first_unit_id = writer.ids["unit"].next
        runs = (units + UNITS_PER_RUN - 1) // UNITS_PER_RUN
        conn.execute("BEGIN")
        for r in range(runs):
            first = r * UNITS_PER_RUN
            writer.run(r, first, min(UNITS_PER_RUN, units - first))
            if (r + 1) % COMMIT_EVERY_RUNS == 0 or r + 1 == runs:
                writer.flush()
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                progress(f"    {min(units, (r + 1) * UNITS_PER_RUN):>9,} / {units:,} units "
                         f"({time.monotonic() - started:.0f} s)")
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")     # the app's mode
    finally:
        conn.close()
    remove_sqlite(target)
    tmp.rename(target)
    meta = {"datagen_version": DATAGEN_VERSION, "units": units, "migration": revision,
            "unit_ids": [first_unit_id, first_unit_id + units - 1], "rows": writer.counts,
            "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "generation_seconds": round(time.monotonic() - started, 1), "size_bytes": target.stat().st_size}
    meta_path(target).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def meta_path(target: Path) -> Path:
    return target.with_name(target.stem + ".meta.json")


def cached_meta(target: Path, units: int, revision: str) -> dict | None:
    """The metadata of a usable cached history, or None when it must be (re)generated."""
    try:
        meta = json.loads(meta_path(target).read_text())
    except (OSError, ValueError):
        return None
    if not target.exists() or meta.get("datagen_version") != DATAGEN_VERSION or meta.get("units") != units \
            or meta.get("migration") != revision:
        return None
    return meta


def ensure_history(target: Path, template: Path, units: int, revision: str,
                   progress: Callable[[str], None] = print) -> tuple[dict, bool]:
    """(metadata, generated now?) of a history database of `units` units at `target`."""
    meta = cached_meta(target, units, revision)
    if meta is not None:
        return meta, False
    meta_path(target).unlink(missing_ok=True)
    return generate(target, template, units, revision, progress), True


def sample_sns(target: Path, meta: dict, count: int, seed: int = 7) -> list[str]:
    """`count` SNs of generated units, uniformly over the whole history."""
    first, last = meta["unit_ids"]
    rng = random.Random(seed)
    ids = [rng.randint(first, last) for _ in range(count)]
    conn = sqlite3.connect(target)
    try:
        by_id = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            by_id.update(conn.execute(f"SELECT id, sn FROM unit WHERE id IN ({','.join('?' * len(chunk))})",
                                      chunk).fetchall())
    finally:
        conn.close()
    return [by_id[i] for i in ids]
