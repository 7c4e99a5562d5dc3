"""Demo history (`flask mes seed --demo-history [--days N] [--seed N]`): weeks of production on both demo
lines, played through the application's own REST API (in process, the Flask test client) as the demo
users and the integration account, with the services' clock set to the moment each action happens
(platform/clock.py `simulated`). So every row is what the real rules make of it — work orders, runs,
readiness checks, loading, FAIs with their trial boards, tracks with data values, defects and
dispositions, rework, scrap, OQC, MRB decisions, genealogy, the audit trail — only dated in the past.

What it plays (deterministic for a given `--seed`, relative to the day it runs; the last day played is
yesterday, and no run starts later than three hours before the command runs):
- two shifts a day (06:00–22:00 UTC) on LINE-SMT-A (P-1001) and LINE-DIP-A (P-2001), runs of 8–20
  boards one after another, each with its own work order `WO-H-<yymmdd>-<S|D><n>` (closed when done);
- per run: fresh stencil/paste statuses (SMT) and a fresh paste jar's thaw start (thawed: the paste timers,
  services/preparation/paste.py), the FORMAL readiness check, the slot table loaded and
  scanned (SMT), an FAI with its trial board, the authorization, every board through every step;
- data values with a realistic spread (normal around the target, now and then one outside the limits);
- defects with a Pareto (solder bridges first), dispositions REWORK (most), SCRAP and HOLD → release;
- reels: MAT-R10K LOT-R-001 most days, LOT-R-002 on three days in the second week (the lot-recall case
  of the demo talk-track), the approved alternate LOT-RA-001 on one day;
- the OQC at closeout (demo sampling rules); one run whose OQC fails, decided MRB REWORK (REUSE_PREP, from
  AOI) with its rework run completed; and, on the last day, one run whose OQC fails and stays ON_HOLD;
- SPC (issue 18): at the start of the last day the engineer charts the paste height (SMT step 20: I-MR,
  Western Electric rules 1, 2, 5, 6 and the trend rule 3, alarm only) and freezes its limits from the days
  before; that day the paste height drifts up (0 → +20 µm by the evening: paste drying on the stencil), so
  run rules fire at TrackOut and OPEN alarms wait on Quality → SPC Alarms — the first one acknowledged by
  quality with a reason. (A history of one day has no days before: no chart.)

Refuses to run twice on one database (its work orders exist already) and on a database without the
demo data. About 1 s per run on SQLite. Seeded in the same command (a fresh database), the demo data is
dated the day before the history; on a database seeded earlier, the readiness evidence of the history's
checks names the demo's own stencil and paste statuses (dated when it was seeded: the latest by time)."""
from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from flask import current_app
from sqlalchemy import func, select

from app.acceptance.scenarios import DIP_STATIONS, SMT_STATIONS  # the demo lines' stations
from app.extensions import db
from app.models import DataCollectionSpec, WorkOrder
from flask_appbuilder.security.sqla.models import ApiKey
from app.services.platform import users as user_service
from app.services.platform.actor import SYSTEM
from app.services.platform.clock import simulated
from app.services.platform.errors import DomainError
from app.services.quality.oqc import seeded_sampling
from app.services.reporting.summary import forget as forget_report_summary
from seed.loader import DEMO_PASSWORD

WO_PREFIX = "WO-H-"
SPC_DEMO_SPEC = "paste_height_um"   # charted on the last day, drifting (module docstring)
# AOI defect Pareto (weights), DIP post-solder / test defects
SMT_DEFECTS = [("SOLDER_BRIDGE", 38), ("INSUFFICIENT_SOLDER", 22), ("TOMBSTONE", 14), ("MISSING_PART", 10),
               ("POLARITY", 7), ("WRONG_PART", 4)]
DIP_DEFECTS = [("WS_BRIDGE", 55), ("INS_MISS", 25), ("FCT_FAIL", 20)]


class HistoryError(Exception):
    pass


@dataclass
class Line:
    code: str
    product: str
    stations: dict[int, str]
    operator: str
    fai_step: int


LINES = (Line("LINE-SMT-A", "P-1001", SMT_STATIONS, "operator", 50),
         Line("LINE-DIP-A", "P-2001", DIP_STATIONS, "operator2", 10))


@dataclass
class Summary:
    runs: int = 0
    units: int = 0
    tracks: int = 0
    defects: int = 0
    scrapped: int = 0
    work_orders: list[str] = field(default_factory=list)
    held_run: Optional[str] = None
    mrb_rework_run: Optional[str] = None
    recall_lot: str = "MAT-R10K|LOT-R-002"


class _Api:
    """The REST API in process (Flask test client) as the demo users (JWT) and the integration account
    (an API key made for the generator). Every call must succeed unless `expect` names its error code."""

    def __init__(self) -> None:
        self.client = current_app.test_client()
        self.tokens: dict[str, str] = {}
        created = user_service.create_api_key(actor=SYSTEM, username="integration", name="demo-history",
                                              raw_key="sst_" + secrets.token_hex(24))
        self.key, self.key_uuid = created["key"], created["uuid"]

    def revoke(self) -> None:
        """The generator's own key is not left usable (its value was never shown to anyone)."""
        key = db.session.execute(select(ApiKey).where(ApiKey.uuid == self.key_uuid)).scalar_one_or_none()
        if key is not None:
            key.active = False
            db.session.commit()

    def _headers(self, user: str) -> dict[str, str]:
        if user == "integration":
            return {"Authorization": f"Bearer {self.key}"}
        if user not in self.tokens:
            with current_app.app_context():
                answer = self.client.post("/api/v1/security/login", json={
                    "username": user, "password": DEMO_PASSWORD, "provider": "db"})
            if answer.status_code != 200:
                raise HistoryError(f"{user} cannot sign in with the demo password: {answer.get_json()}")
            self.tokens[user] = answer.get_json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, user: str, method: str, path: str, body: Any = None, *, expect: str | None = None) -> Any:
        # each request in an application context of its own: under the command's context the requests
        # would share one `g` (and so the first caller's identity) and one database session
        headers = self._headers(user)
        with current_app.app_context():
            answer = self.client.open(path, method=method, headers=headers, json=body if method != "GET" else None)
        data = answer.get_json() or {}
        if expect is not None:
            code = (data.get("error") or {}).get("code")
            if code != expect:
                raise HistoryError(f"{method} {path}: expected {expect}, got {answer.status_code} {data}")
            return data["error"]
        if answer.status_code not in (200, 201):
            raise HistoryError(f"{method} {path} as {user}: HTTP {answer.status_code} {data}")
        return data.get("data")

    def post(self, user: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call(user, "POST", path, body if body is not None else {}, **kw)

    def get(self, user: str, path: str) -> Any:
        return self.call(user, "GET", path)


class _Player:
    def __init__(self, api: _Api, rng: random.Random, summary: Summary) -> None:
        self.api, self.rng, self.summary = api, rng, summary
        self.t = datetime.now(timezone.utc)
        self.reworks: dict[str, int] = {}  # REWORK dispositions per board (MES_REWORK_LIMIT)
        self.drift_from: Optional[datetime] = None  # the paste height drifts up from then on (SPC demo)
        self.spc_acknowledged = False
        self.rework_limit = int(current_app.config.get("MES_REWORK_LIMIT", 3))

    # the clock: every action happens at self.t, then time moves on
    def at(self, minutes: float = 0.0) -> Any:
        self.t += timedelta(minutes=minutes)
        return simulated(self.t)

    def post(self, user: str, path: str, body: Any = None, *, minutes: float = 0.2, **kw: Any) -> Any:
        with self.at(minutes):
            return self.api.post(user, path, body, **kw)

    def get(self, user: str, path: str) -> Any:
        with self.at(0):
            return self.api.get(user, path)

    # -- one run -----------------------------------------------------------------------------------

    def consumables(self) -> None:
        expiry = (self.t + timedelta(days=5)).isoformat()
        self.post("integration", "/api/v1/integration/stencil-status", {
            "eventId": f"H-STN-{self.rng.getrandbits(48):012x}", "eventTime": self.t.isoformat(),
            "stencilId": "STN-1001-A", "status": "READY"})
        self.post("integration", "/api/v1/integration/solder-paste-status", {
            "eventId": f"H-SP-{self.rng.getrandbits(48):012x}", "eventTime": self.t.isoformat(),
            "lotNo": "SP-LOT-0001", "status": "COMPLIANT", "expiresAt": expiry})
        # a fresh jar per run, as WMS reports it: out of the refrigerator 5 h ago (thawed: the demo paste's 4 h).
        # Only its thaw start: a jar recorded open or on the stencil would still be, and expired, when the
        # demo starts after the history (the paste timers: services/preparation/paste.py)
        self.post("integration", "/api/v1/integration/solder-paste-events", {
            "eventId": f"H-SPT-{secrets.token_hex(6)}",  # not the history's random stream: a --seed plays as before
            "eventTime": (self.t - timedelta(hours=5)).isoformat(), "lineCode": "LINE-SMT-A", "lotNo": "SP-LOT-0001",
            "kind": "THAW_START"}, minutes=0)

    def reels(self, day: int, days: int) -> dict[str, str]:
        r10k = "MAT-R10K|LOT-R-001"
        second_week = days // 3
        if second_week <= day < second_week + 3:
            r10k = "MAT-R10K|LOT-R-002"  # the lot of the recall case
        elif day == second_week + 4:
            r10k = "MAT-R10K-ALT|LOT-RA-001"  # the approved alternate, one day
        return {"1-01": r10k, "1-02": "MAT-C100N|LOT-C-001", "2-01": "MAT-MCU|LOT-M-001"}

    def data_for(self, line: Line, step: int) -> tuple[list[dict[str, Any]], bool]:
        """The step's data values, and whether a value is outside a FAIL limit."""
        g = self.rng.gauss
        if line.code == "LINE-SMT-A":
            if step == 10:
                return [{"spec": "squeegee_pressure_kg", "value": round(g(6.0, 0.35), 2)}], False
            if step == 20:
                return [{"spec": "paste_height_um", "value": round(g(150 + self.paste_drift(), 11), 1)}], False
            if step == 40:
                value = round(g(250.0, 3.2), 1) if self.rng.random() > 0.0015 else round(self.rng.uniform(266, 271), 1)
                return [{"spec": "peak_temp_c", "value": value}], value > 265 or value < 235
            return [], False
        if step == 40:
            value = round(g(5.0, 0.045), 3) if self.rng.random() > 0.002 else round(self.rng.uniform(5.27, 5.4), 3)
            return [{"spec": "output_voltage_v", "value": value},
                    {"spec": "firmware_version", "value": "1.4.2"}], value > 5.25 or value < 4.75
        return [], False

    def paste_drift(self) -> float:
        """µm the paste height has drifted up by now: 0 before `drift_from`, then +2 µm an hour (20 at most)."""
        if self.drift_from is None or self.t <= self.drift_from:
            return 0.0
        return min(20.0, 2.0 * (self.t - self.drift_from).total_seconds() / 3600)

    def arm_spc_chart(self, since: datetime) -> None:
        """The engineer charts the paste height and freezes its limits from the values since `since` (the
        module docstring); the drift starts an hour later."""
        spec_id = db.session.execute(select(DataCollectionSpec.id).where(
            DataCollectionSpec.name == SPC_DEMO_SPEC)).scalar_one()
        db.session.rollback()
        with self.at(0):
            self.api.call("engineer", "PUT", f"/api/v1/spc/{spec_id}",
                          {"chartType": "IMR", "rules": [1, 2, 3, 5, 6], "onAlarm": "ALARM"})
        self.post("engineer", f"/api/v1/spc/{spec_id}/baseline", {"from": since.isoformat(), "to": self.t.isoformat()},
                  minutes=1)
        self.drift_from = self.t + timedelta(hours=1)

    def acknowledge_first_spc_alarm(self) -> None:
        """Quality acknowledges the first alarm of the drift with what was found, once two are open (the
        others stay OPEN)."""
        if self.spc_acknowledged:
            return
        alarms = self.get("quality", "/api/v1/spc/alarms?status=OPEN")
        if len(alarms) >= 2:
            self.spc_acknowledged = True
            first = min(alarms, key=lambda a: a["id"])
            self.post("quality", f"/api/v1/spc/alarms/{first['id']}/acknowledge",
                      {"reason": "Paste height up after the stencil change: checked the print, boards fine; "
                                 "watching the trend"}, minutes=self.rng.uniform(10, 30))

    def pass_step(self, line: Line, run_no: str, sn: str, step: int, *, data=None) -> dict[str, Any]:
        station = line.stations[step]
        values, outside = data, False
        while values is None or outside:  # a board that must pass (the FAI trial): values within the limits
            values, outside = self.data_for(line, step)
        self.post(line.operator, f"/api/v1/stations/{station}/track-in", {"sn": sn, "runNo": run_no},
                  minutes=self.rng.uniform(0.3, 1.2))
        out = self.post(line.operator, f"/api/v1/stations/{station}/track-out",
                        {"sn": sn, "runNo": run_no, "result": "PASS", "data": values},
                        minutes=self.rng.uniform(0.6, 1.6))
        self.summary.tracks += 1
        return out

    def build_unit(self, line: Line, run_no: str, sn: str, steps: list[int], *, held: Optional[list]) -> Optional[dict]:
        """A board through the steps, with the defects the dice decide; the last TrackOut's answer.
        `held`: the run's held boards (at most one); None once a board was released (no second hold)."""
        last = None
        step_index = 0
        while step_index < len(steps):
            step = steps[step_index]
            station = line.stations[step]
            values, out_of_limits = self.data_for(line, step)
            defect_code = self.defect(line, step) if not out_of_limits else None
            self.post(line.operator, f"/api/v1/stations/{station}/track-in", {"sn": sn, "runNo": run_no},
                      minutes=self.rng.uniform(0.3, 1.2))
            body: dict[str, Any] = {"sn": sn, "runNo": run_no, "result": "PASS", "data": values}
            if defect_code:
                body.update(result="FAIL", defect={"code": defect_code, "location": self.location()})
            out = self.post(line.operator, f"/api/v1/stations/{station}/track-out", body,
                            minutes=self.rng.uniform(0.6, 1.6))
            self.summary.tracks += 1
            last = out
            if out["result"] == "PASS":
                step_index += 1
                continue
            self.summary.defects += len(out.get("defects") or [])
            decision = self.dispose(line, sn, out, step, held)
            if decision == "SCRAP":
                self.summary.scrapped += 1
                return last
            if decision == "HELD":
                return None
            # REWORK back to this step, or released from HOLD: the board continues where it is
        return last

    def defect(self, line: Line, step: int) -> Optional[str]:
        if line.code == "LINE-SMT-A" and step == 50 and self.rng.random() < 0.045:
            return self.pick(SMT_DEFECTS)
        if line.code == "LINE-DIP-A" and step == 30 and self.rng.random() < 0.03:
            return self.pick([d for d in DIP_DEFECTS if d[0] != "FCT_FAIL"])
        if line.code == "LINE-DIP-A" and step == 40 and self.rng.random() < 0.008:
            return "FCT_FAIL"
        return None

    def pick(self, weighted: list[tuple[str, int]]) -> str:
        return self.rng.choices([c for c, _ in weighted], weights=[w for _, w in weighted])[0]

    def location(self) -> str:
        return self.rng.choice(["U1", "U3", "R12", "C7", "C12", "D1", "J2"])

    def dispose(self, line: Line, sn: str, out: dict[str, Any], step: int, held: Optional[list]) -> str:
        defect_id = out["defects"][0]["id"]
        roll = self.rng.random()
        path = f"/api/v1/defects/{defect_id}/disposition"
        if roll < 0.12 or self.reworks.get(sn, 0) + 1 >= self.rework_limit:  # no REWORK beyond the limit
            self.post("quality", path, {"type": "SCRAP", "reason": "Beyond repair (pad lifted)"},
                      minutes=self.rng.uniform(5, 30))
            return "SCRAP"
        if roll < 0.2 and held is not None and not held:
            self.post("quality", path, {"type": "HOLD", "reason": "Hold for engineering analysis"},
                      minutes=self.rng.uniform(5, 20))
            held.append((defect_id, sn))
            return "HELD"
        self.post("quality", path, {"type": "REWORK", "reason": "Hand repair, re-inspect", "toStepNo": step},
                  minutes=self.rng.uniform(5, 25))
        self.reworks[sn] = self.reworks.get(sn, 0) + 1
        return "REWORK"

    def oqc(self, closeout: dict[str, Any], *, fail: bool = False) -> dict[str, Any]:
        inspection = closeout["inspectionId"]
        self.post("quality", f"/api/v1/inspections/{inspection}/start", minutes=self.rng.uniform(5, 20))
        for index, sn in enumerate(closeout["sampledSns"]):
            body: dict[str, Any] = {"unitSn": sn, "itemName": "final visual", "result": "PASS"}
            if fail and index == 0:
                body.update(result="FAIL", defectCode="SOLDER_BRIDGE")
            self.post("quality", f"/api/v1/inspections/{inspection}/items", body, minutes=self.rng.uniform(2, 5))
        return self.post("quality", f"/api/v1/inspections/{inspection}/complete",
                         {"decision": "FAIL" if fail else "PASS", "password": DEMO_PASSWORD}, minutes=1)

    def play_run(self, line: Line, day: int, days: int, number: int, *, special: str | None = None) -> None:
        rng = self.rng
        qty = rng.randint(8, 20)
        wo_no = f"{WO_PREFIX}{self.t:%y%m%d}-{line.code[5]}{number}"
        smt = line.code == "LINE-SMT-A"
        if smt:
            self.consumables()
        self.post("planner", "/api/v1/integration/work-orders",
                  {"woNo": wo_no, "productCode": line.product, "plannedQty": qty}, minutes=1)
        self.post("planner", f"/api/v1/work-orders/{wo_no}/release", {"lineCode": line.code})
        run_no = self.post("planner", f"/api/v1/work-orders/{wo_no}/runs", {"lineCode": line.code, "planQty": qty})[
            "runNo"]
        sns = [u["sn"] for u in self.post("planner", f"/api/v1/runs/{run_no}/units", {"quantity": qty})]
        self.summary.work_orders.append(wo_no)
        if smt:
            self.post("material", f"/api/v1/runs/{run_no}/loading/load-table", minutes=rng.uniform(3, 8))
            for slot, barcode in self.reels(day, days).items():
                self.post("material", "/api/v1/loading/verify", {"runNo": run_no, "slotCode": slot, "barcode": barcode},
                          minutes=rng.uniform(0.5, 2))
        self.post("quality", f"/api/v1/runs/{run_no}/readiness/check", {"kind": "FORMAL"}, minutes=rng.uniform(2, 6))
        fai = self.post("quality", f"/api/v1/runs/{run_no}/fai", {"sampleQty": 1}, minutes=1)
        self.post("quality", f"/api/v1/inspections/{fai['id']}/start")
        for step in sorted(line.stations):
            if step <= line.fai_step:
                self.pass_step(line, run_no, sns[0], step)
        self.post("quality", f"/api/v1/inspections/{fai['id']}/items",
                  {"unitSn": sns[0], "itemName": "first article", "result": "PASS"}, minutes=rng.uniform(5, 12))
        self.post("quality", f"/api/v1/inspections/{fai['id']}/complete", {"decision": "PASS"})
        self.post("quality", f"/api/v1/inspections/{fai['id']}/sign", {"password": DEMO_PASSWORD}, minutes=1)
        self.post("planner", f"/api/v1/runs/{run_no}/authorize", minutes=rng.uniform(1, 4))
        steps = sorted(line.stations)
        held: list = []
        last = None
        if line.fai_step < steps[-1]:  # the DIP trial board continues after its FAI step
            last = self.build_unit(line, run_no, sns[0], [s for s in steps if s > line.fai_step], held=held)
        for sn in sns[1:]:
            out = self.build_unit(line, run_no, sn, steps, held=held)
            last = out or last
        for defect_id, sn in held:  # engineering looked at it: released, the board finishes
            released = self.post("quality", f"/api/v1/defects/{defect_id}/release",
                                 {"reason": "Analysis done: within workmanship standard"}, minutes=rng.uniform(20, 60))
            step = released["unit"]["currentStepNo"]
            last = self.build_unit(line, run_no, sn, [s for s in steps if s >= step], held=None) or last
        self.summary.runs += 1
        self.summary.units += qty
        closeout = (last or {}).get("runCloseout") or {}
        if closeout.get("code") != "OQC_REQUIRED":
            run = self.get("planner", f"/api/v1/runs/{run_no}")
            if run["status"] != "COMPLETED":  # boards scrapped at the end: the planner closes the run
                closeout = self.post("planner", f"/api/v1/runs/{run_no}/close", expect="OQC_REQUIRED")["details"]
        if closeout.get("inspectionId"):
            decided = self.oqc(closeout, fail=special in ("hold", "mrb"))
            if special == "hold":
                self.summary.held_run = run_no
                return  # stays ON_HOLD: the MRB has not met yet
            if special == "mrb":
                answer = self.post("quality", f"/api/v1/runs/{run_no}/mrb-decision", {
                    "decision": "REWORK", "reason": "Bridges on U3 across the run: hand repair, AOI again",
                    "reworkType": "REUSE_PREP", "reworkFromStepNo": 50, "password": DEMO_PASSWORD},
                    minutes=rng.uniform(30, 90))
                rework_no = answer["reworkRunNo"]
                self.summary.mrb_rework_run = rework_no
                rework_last = None
                for unit in self.get("planner", f"/api/v1/runs/{rework_no}/units"):
                    rework_last = self.pass_step(line, rework_no, unit["sn"], 50)
                rework_close = rework_last["runCloseout"]
                if rework_close.get("inspectionId"):
                    self.oqc(rework_close)
            elif decided["runStatus"] != "COMPLETED":
                raise HistoryError(f"{run_no}: the OQC left the run {decided['runStatus']}")
        # scrapped boards are not rebuilt in the history: the planner confirms a short close (issue 17)
        self.post("planner", f"/api/v1/work-orders/{wo_no}/close",
                  {"confirmShort": True, "reason": "Closed as built: scrapped boards are not replaced"},
                  minutes=rng.uniform(1, 5))


def seed_history(*, days: int = 14, seed: int = 2026, progress: Callable[[int], None] | None = None) -> Summary:
    """Play `days` days of production ending before the current hour (see the module docstring)."""
    if days < 1:
        raise HistoryError("--days must be 1 or more")
    existing = db.session.execute(select(func.count()).select_from(WorkOrder).where(
        WorkOrder.wo_no.like(f"{WO_PREFIX}%"))).scalar_one()
    db.session.rollback()
    if existing:
        raise HistoryError(f"This database has demo history already ({existing} work orders {WO_PREFIX}…): "
                           "nothing done.")
    try:
        api = _Api()
    except DomainError as error:
        raise HistoryError(f"No demo data here (flask mes seed --demo first): {error.message}") from None
    rng = random.Random(seed)
    summary = Summary()
    player = _Player(api, rng, summary)
    today = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first_day = (today - timedelta(days=days)).replace(hour=0)
    mrb_day, hold_day = days // 2, days - 1
    access_log = logging.getLogger("mes.access")  # thousands of in-process requests: not one line each
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    try:
        with seeded_sampling(seed):
            _play(player, rng, days, first_day, today, mrb_day, hold_day, progress)
    finally:
        access_log.setLevel(level)
        api.revoke()
        # the reports' summary of those hours (if a report read them before) no longer counts them all
        forget_report_summary(first_day, datetime.now(timezone.utc))
    return summary


def history_start(days: int) -> datetime:
    """The first day the history plays (00:00 UTC, `days` days before today)."""
    today = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return (today - timedelta(days=days)).replace(hour=0)


def _play(player: _Player, rng: random.Random, days: int, first_day: datetime, today: datetime, mrb_day: int,
          hold_day: int, progress: Callable[[int], None] | None) -> None:
    real_now = datetime.now(timezone.utc)  # a run started late on the last day must not end in the future
    for day in range(days):
        day_start = first_day + timedelta(days=day)
        if day == days - 1 and day > 0:
            player.t = day_start + timedelta(hours=5, minutes=30)
            player.arm_spc_chart(first_day)
        for line in LINES:
            player.t = day_start + timedelta(hours=6, minutes=rng.uniform(0, 20))
            number = 1
            while player.t < min(day_start + timedelta(hours=20), real_now - timedelta(hours=3)):
                special = None
                if line.code == "LINE-SMT-A" and number == 2 and day == mrb_day:
                    special = "mrb"
                elif line.code == "LINE-SMT-A" and number == 3 and day == hold_day:
                    special = "hold"
                player.play_run(line, day, days, number, special=special)
                if line.code == "LINE-SMT-A" and day == days - 1 and day > 0:
                    player.acknowledge_first_spc_alarm()
                number += 1
                player.t += timedelta(minutes=rng.uniform(25, 50))  # changeover
        if progress:
            progress(1)
