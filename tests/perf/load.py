"""Load with invariants (issue 16 §4–5): many clients at once against one server, each doing what a line
does, then plain SQL on the database checks that nothing was lost, doubled or half-written.

One module for the long run of the benchmark (`bench.py --soak SECONDS`) and the short one of the test
suite (tests/api/test_load_invariants.py): the same clients, the same ledger, the same checks.

Each client has its own authorized run of P-1001 on LINE-SMT-A and takes new units through the 5 SMT
steps until its time is up (whole units only, so no track is left open), mixed with what else reaches
the server while a line runs:

- TrackIn + TrackOut pairs (operator) with the data of steps 10, 20 and 40; a new SN registers at step 10;
- SPI and AOI results (the integration account's API key, `POST /integration/inspection-results`, PASS)
  while the unit is in the SPI and the AOI station, and for every DUPLICATE_EVERY-th unit (the 1st,
  11th …) the SPI machine sends its result again (the inbox must answer it as a duplicate and store
  nothing new);
- a reel replacement (material, `POST /loading/replace`) on the *next* client's run after every
  REPLACE_EVERY-th unit (the 1st, 6th …), so replacements and that run's placement TrackOuts (which
  write the genealogy from the run's loaded reels) meet in the database;
- a trace read of the client's last finished unit (manager, `GET /trace/units/{sn}`) every
  TRACE_EVERY-th unit, which must show the unit DONE with its 5 tracks.

Every client keeps a ledger of what the server confirmed (2xx) and of every other answer. At the end,
`check_invariants` compares the database with the ledgers: everything counted from the ids the
database had before the load started (`snapshot`), so the setup's rows do not count.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from harness import (
    SMT_DATA, SMT_REELS, SMT_STATIONS, BenchError, Client, Reply, Staff, authorized_run, latency_summary, login,
    run_clients,
)

STEPS = sorted(SMT_STATIONS)
SPI_STEP, PLACEMENT_STEP, AOI_STEP = 20, 30, 50  # placement consumes the 3 reels: 3 material uses per TrackOut
TRACE_EVERY = 2
REPLACE_EVERY = 5
DUPLICATE_EVERY = 10
# the tables whose new rows are counted, and the hot path's audit actions (services/production/execution.py)
COUNTED_TABLES = ("unit", "track", "data_value", "material_use", "inspection_result", "loading_record",
                  "integration_message", "audit_event")


@dataclass
class LoadPlan:
    host: str
    port: int
    tokens: dict[str, str]       # operator, manager, material, integration (the API key)
    client_no: int
    run_no: str
    neighbour_run_no: str        # whose reels this client replaces
    seconds: float
    max_units: int


@dataclass
class Ledger:
    """What one client did, as the server answered it."""
    client_no: int = 0
    started: float = 0.0
    ended: float = 0.0
    track_ins: int = 0
    track_outs: int = 0
    registered: int = 0          # first TrackIns of new SNs
    done: int = 0                # units through all 5 steps
    data_values: int = 0         # values sent with successful TrackOuts
    placement_outs: int = 0      # successful TrackOuts at the placement step
    inspections: int = 0         # SPI/AOI results stored (not duplicates)
    duplicates: int = 0          # results sent again and answered as duplicates
    replaces: int = 0
    traces: int = 0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)   # HTTP status -> answers (0: no answer)
    busy: int = 0                # DATABASE_BUSY answers
    failures: list[str] = field(default_factory=list)        # the first ones, with the answer
    pair: list[float] = field(default_factory=list)          # seconds per TrackIn + TrackOut
    trace: list[float] = field(default_factory=list)
    inspection: list[float] = field(default_factory=list)
    replace: list[float] = field(default_factory=list)


class _Caller:
    """The client's connections (one per account) and its ledger of answers."""

    def __init__(self, plan: LoadPlan, ledger: Ledger) -> None:
        self.ledger = ledger
        self.clients = {who: Client(plan.host, plan.port, token) for who, token in plan.tokens.items()}

    def call(self, who: str, method: str, path: str, body: Any = None, *, what: str) -> Optional[Reply]:
        """The answer when it is 2xx; otherwise the failure is recorded and None returned."""
        ledger = self.ledger
        ledger.requests += 1
        try:
            reply = self.clients[who].call(method, path, body)
        except BenchError as exc:
            ledger.statuses[0] = ledger.statuses.get(0, 0) + 1
            self.fail(f"{what}: no answer: {exc}")
            return None
        ledger.statuses[reply.status] = ledger.statuses.get(reply.status, 0) + 1
        if 200 <= reply.status < 300:
            return reply
        if b'"DATABASE_BUSY"' in reply.body:
            ledger.busy += 1
        self.fail(f"{what}: HTTP {reply.status} {reply.body[:300]!r}")
        return None

    def fail(self, message: str) -> None:
        if len(self.ledger.failures) < 20:
            self.ledger.failures.append(message)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _event_time() -> str:
    return datetime.now(timezone.utc).isoformat()


def _inspection(caller: _Caller, plan: LoadPlan, sn: str, step: int, kind: str, *, again: bool = False) -> None:
    body = {"eventId": f"LOAD-{sn}-{kind}", "eventTime": _event_time(), "type": kind, "sn": sn,
            "stationCode": SMT_STATIONS[step], "stepNo": step, "result": "PASS", "defects": []}
    reply = caller.call("integration", "POST", "/api/v1/integration/inspection-results", body,
                        what=f"{kind} result of {sn}{' (again)' if again else ''}")
    if reply is None:
        return
    caller.ledger.inspection.append(reply.seconds)
    duplicate = bool((reply.json() or {}).get("data", {}).get("duplicate"))
    if duplicate != again:
        caller.fail(f"{kind} result of {sn}: duplicate={duplicate}, expected {again}")
    elif again:
        caller.ledger.duplicates += 1
    else:
        caller.ledger.inspections += 1


def _unit(caller: _Caller, plan: LoadPlan, sn: str, n: int) -> bool:
    """One unit through the 5 steps; False when a request failed (the unit is left where it is)."""
    ledger = caller.ledger
    for step in STEPS:
        station = SMT_STATIONS[step]
        into = caller.call("operator", "POST", f"/api/v1/stations/{station}/track-in", {"sn": sn, "runNo": plan.run_no},
                           what=f"track-in {sn} @{station}")
        if into is None:
            return False
        ledger.track_ins += 1
        ledger.registered += step == STEPS[0]
        if step == SPI_STEP:
            _inspection(caller, plan, sn, step, "SPI")
            if n % DUPLICATE_EVERY == 1:
                _inspection(caller, plan, sn, step, "SPI", again=True)
        elif step == AOI_STEP:
            _inspection(caller, plan, sn, step, "AOI")
        out = caller.call("operator", "POST", f"/api/v1/stations/{station}/track-out",
                          {"sn": sn, "runNo": plan.run_no, "result": "PASS", "data": SMT_DATA[step]},
                          what=f"track-out {sn} @{station}")
        if out is None:
            return False
        ledger.track_outs += 1
        ledger.data_values += len(SMT_DATA[step])
        ledger.placement_outs += step == PLACEMENT_STEP
        ledger.pair.append(into.seconds + out.seconds)
        answer = out.json()["data"]
        if answer["result"] != "PASS" or len(answer["dataValues"]) != len(SMT_DATA[step]):
            caller.fail(f"track-out {sn} @{station}: result {answer['result']}, {len(answer['dataValues'])} values")
            return False
    if answer["unit"]["status"] != "DONE":
        caller.fail(f"{sn} after the last step: {answer['unit']['status']}, expected DONE")
        return False
    ledger.done += 1
    return True


def _trace(caller: _Caller, sn: str) -> None:
    reply = caller.call("manager", "GET", f"/api/v1/trace/units/{sn}", what=f"trace of {sn}")
    if reply is None:
        return
    caller.ledger.trace.append(reply.seconds)
    data = reply.json()["data"]
    if data["unit"]["status"] != "DONE" or len(data["tracks"]) != len(STEPS):
        caller.fail(f"trace of {sn}: {data['unit']['status']} with {len(data['tracks'])} tracks, expected DONE with "
                    f"{len(STEPS)}")
        return
    caller.ledger.traces += 1


def _replace(caller: _Caller, plan: LoadPlan, n: int) -> None:
    slot = sorted(SMT_REELS)[(n // REPLACE_EVERY) % len(SMT_REELS)]  # the slots in turn
    material = SMT_REELS[slot].split("|")[0]
    barcode = f"{material}|LOAD-{plan.client_no}-{n:05d}"  # a new reel of a new lot
    reply = caller.call("material", "POST", "/api/v1/loading/replace",
                        {"runNo": plan.neighbour_run_no, "slotCode": slot, "barcode": barcode, "reason": "reel empty"},
                        what=f"replace slot {slot} of {plan.neighbour_run_no}")
    if reply is None:
        return
    caller.ledger.replace.append(reply.seconds)
    verdict = reply.json()["data"]["verifyResult"]
    if verdict != "PASS":
        caller.fail(f"replace slot {slot} of {plan.neighbour_run_no} with {barcode}: {verdict}")
        return
    caller.ledger.replaces += 1


def mixed_client(plan: LoadPlan, barrier=None) -> Ledger:
    """One client: units until its time is up (or its run's plan is full), with the mix above."""
    ledger = Ledger(client_no=plan.client_no)
    caller = _Caller(plan, ledger)
    try:
        if barrier is not None:
            barrier.wait(timeout=600)
        ledger.started = time.monotonic()
        deadline = ledger.started + plan.seconds
        last_done: Optional[str] = None
        n = 0
        while time.monotonic() < deadline and n < plan.max_units and len(ledger.failures) < 20:
            n += 1
            sn = f"{plan.run_no}-L{n:05d}"
            if _unit(caller, plan, sn, n):
                last_done = sn
            if n % TRACE_EVERY == 0 and last_done:
                _trace(caller, last_done)
            if n % REPLACE_EVERY == 1:
                _replace(caller, plan, n)
    except threading.BrokenBarrierError:
        caller.fail("another client failed before the start")
    finally:
        ledger.ended = time.monotonic()
        caller.close()
    return ledger


def load_worker(plan: LoadPlan, barrier, queue) -> None:
    """run_clients target: one client of the load; its ledger goes to the queue."""
    try:
        queue.put(mixed_client(plan, barrier))
    except BaseException as exc:  # never leave the parent waiting
        barrier.abort()
        queue.put(Ledger(client_no=plan.client_no, failures=[f"client crashed: {exc!r}"]))
        raise


# ---------------------------------------------------------------------------------------------
# The database side: plain SQL
# ---------------------------------------------------------------------------------------------

def _engine(db_url: str):
    from sqlalchemy import create_engine
    for prefix in ("postgresql://", "postgres://"):
        if db_url.startswith(prefix):
            db_url = "postgresql+psycopg://" + db_url[len(prefix):]
    return create_engine(db_url)


def snapshot(db_url: str) -> dict[str, int]:
    """The highest id of every counted table before the load: what the load adds has higher ids."""
    from sqlalchemy import text
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            return {table: conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
                    for table in COUNTED_TABLES}
    finally:
        engine.dispose()


def answers(ledgers: list[Ledger]) -> dict[int, int]:
    """Answers per HTTP status over all clients (0: no answer)."""
    statuses: dict[int, int] = {}
    for ledger in ledgers:
        for status, n in ledger.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    return statuses


@dataclass
class Check:
    name: str
    expected: int
    actual: int

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def check_invariants(db_url: str, before: dict[str, int], ledgers: list[Ledger]) -> list[Check]:
    """Compare the database after the load with what the clients were told (and the rules that hold
    whatever they were told): a list of checks, each with the expected and the actual number."""
    from sqlalchemy import text

    def total(key: str) -> int:
        return sum(getattr(ledger, key) for ledger in ledgers)

    statuses = answers(ledgers)
    runs_started = sum(1 for ledger in ledgers if ledger.track_ins)
    queries = [
        # (name, expected, SQL returning one number; :name binds the table's id before the load)
        ("units with two open tracks (track.out_at NULL)", 0,
         "SELECT count(*) FROM (SELECT unit_id FROM track WHERE out_at IS NULL GROUP BY unit_id HAVING count(*) > 1) d"),
        ("track.open_unit_id held twice", 0,
         "SELECT count(*) FROM (SELECT open_unit_id FROM track WHERE open_unit_id IS NOT NULL "
         "GROUP BY open_unit_id HAVING count(*) > 1) d"),
        ("tracks whose open_unit_id disagrees with out_at", 0,
         "SELECT count(*) FROM track WHERE (open_unit_id IS NULL) = (out_at IS NULL)"),
        ("units IN_STATION without exactly one open track", 0,
         "SELECT count(*) FROM unit u WHERE (u.status = 'IN_STATION') <> "
         "((SELECT count(*) FROM track t WHERE t.open_unit_id = u.id) = 1) AND u.id > :unit"),
        ("units registered = successful first TrackIns", total("registered"),
         "SELECT count(*) FROM unit WHERE id > :unit"),
        ("units DONE = units through all steps", total("done"),
         "SELECT count(*) FROM unit WHERE id > :unit AND status = 'DONE'"),
        ("tracks = successful TrackIns", total("track_ins"), "SELECT count(*) FROM track WHERE id > :track"),
        ("closed tracks = successful TrackOuts", total("track_outs"),
         "SELECT count(*) FROM track WHERE id > :track AND out_at IS NOT NULL"),
        ("data values = values of successful TrackOuts", total("data_values"),
         "SELECT count(*) FROM data_value WHERE id > :data_value"),
        ("material uses = 3 reels x placement TrackOuts", len(SMT_REELS) * total("placement_outs"),
         "SELECT count(*) FROM material_use WHERE id > :material_use"),
        ("placement tracks without exactly 3 material uses", 0,
         f"SELECT count(*) FROM (SELECT track_id FROM material_use WHERE id > :material_use GROUP BY track_id "
         f"HAVING count(*) <> {len(SMT_REELS)}) d"),
        ("slots of a run with more than one LOADED reel", 0,
         "SELECT count(*) FROM (SELECT run_id, slot_id FROM loading_record WHERE status = 'LOADED' "
         "GROUP BY run_id, slot_id HAVING count(*) > 1) d"),
        ("loading records = successful replacements", total("replaces"),
         "SELECT count(*) FROM loading_record WHERE id > :loading_record"),
        ("SPI/AOI results = results stored", total("inspections"),
         "SELECT count(*) FROM inspection_result WHERE id > :inspection_result"),
        ("inbox messages SUCCESS = results stored", total("inspections"),
         "SELECT count(*) FROM integration_message WHERE id > :integration_message AND status = 'SUCCESS'"),
        ("inbox messages DUPLICATE = results sent again", total("duplicates"),
         "SELECT count(*) FROM integration_message WHERE id > :integration_message AND status = 'DUPLICATE'"),
    ]
    for action, expected in (("TRACK_IN", total("track_ins")), ("TRACK_OUT", total("track_outs")),
                             ("UNIT_REGISTER", total("registered")), ("RUN_START", runs_started),
                             ("INSPECTION_RESULT_RECORD", total("inspections")),
                             ("LOADING_REPLACE", total("replaces"))):
        queries.append((f"audit {action} SUCCESS = successful requests", expected,
                        f"SELECT count(*) FROM audit_event WHERE id > :audit_event AND action = '{action}' "
                        "AND status = 'SUCCESS'"))
    queries.append(("audit events FAIL (refused attempts)", 0,
                    "SELECT count(*) FROM audit_event WHERE id > :audit_event AND status <> 'SUCCESS'"))
    checks = []
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            for name, expected, sql in queries:
                checks.append(Check(name, expected, conn.execute(text(sql), before).scalar_one()))
    finally:
        engine.dispose()
    checks.append(Check("answers 5xx", 0, sum(n for status, n in statuses.items() if status >= 500)))
    checks.append(Check("requests without an answer", 0, statuses.get(0, 0)))
    checks.append(Check("answers 4xx", 0, sum(n for status, n in statuses.items() if 400 <= status < 500)))
    return checks


# ---------------------------------------------------------------------------------------------
# The whole scenario
# ---------------------------------------------------------------------------------------------

def plan_quantity(seconds: float) -> int:
    """Units planned per run: more than one client can build in `seconds` on a fast machine."""
    return 50 + int(40 * seconds)


def prepare_runs(host: str, port: int, *, clients: int, seconds: float, integration_key: str, tag: str) -> list[str]:
    """One authorized run per client (harness.authorized_run: the plant's preparation). One after the
    other: preparations of the same line in parallel refuse each other's FAI trial (a new consumable
    status changes the line's readiness since the run's FORMAL check)."""
    staff = Staff.login(host, port, integration_key)
    try:
        return [authorized_run(staff, f"WO-LOAD-{tag}-{c + 1}", plan_quantity(seconds)) for c in range(clients)]
    finally:
        staff.close()


def run_load(host: str, port: int, db_url: str, *, clients: int, seconds: float, integration_key: str,
             tag: str = "L") -> dict[str, Any]:
    """Prepare the runs, start `clients` mixed clients together for `seconds`, check the invariants.
    Returns the figures and the checks (`ok` when every check holds)."""
    phases = {"prepare": time.monotonic()}
    runs = prepare_runs(host, port, clients=clients, seconds=seconds, integration_key=integration_key, tag=tag)
    tokens = {user: login(host, port, user) for user in ("operator", "manager", "material")}
    tokens["integration"] = integration_key
    before = snapshot(db_url)
    plans = [LoadPlan(host, port, tokens, c + 1, runs[c], runs[(c + 1) % clients], seconds,
                      plan_quantity(seconds) - 1)  # the FAI trial board took one place
             for c in range(clients)]
    phases["load"] = time.monotonic()
    ledgers, _ = run_clients(load_worker, plans, lambda why: Ledger(failures=[why]))
    phases["check"] = time.monotonic()
    checks = check_invariants(db_url, before, ledgers)
    phases["end"] = time.monotonic()
    started = min((ledger.started for ledger in ledgers if ledger.started), default=0.0)
    wall = max((ledger.ended for ledger in ledgers), default=0.0) - started
    pairs = sum(ledger.track_outs for ledger in ledgers)
    merged = {key: [v for ledger in ledgers for v in getattr(ledger, key)]
              for key in ("pair", "trace", "inspection", "replace")}
    return {
        "clients": clients, "seconds": round(wall, 1), "runs": runs,
        "phase_seconds": {name: round(phases[following] - phases[name], 1)
                          for name, following in (("prepare", "load"), ("load", "check"), ("check", "end"))},
        "pairs": pairs, "pairs_per_s": round(pairs / wall, 1) if wall > 0 else 0.0,
        "requests": sum(ledger.requests for ledger in ledgers),
        "statuses": {str(status): n for status, n in sorted(answers(ledgers).items())},
        "busy": sum(ledger.busy for ledger in ledgers),
        "done": sum(ledger.done for ledger in ledgers), "traces": sum(ledger.traces for ledger in ledgers),
        "inspections": sum(ledger.inspections for ledger in ledgers),
        "duplicates": sum(ledger.duplicates for ledger in ledgers),
        "replaces": sum(ledger.replaces for ledger in ledgers),
        "latency": {key: latency_summary(values) for key, values in merged.items()},
        "failures": [f for ledger in ledgers for f in ledger.failures][:20],
        "checks": [{**asdict(check), "ok": check.ok} for check in checks],
        "ok": all(check.ok for check in checks),
    }


def format_checks(result: dict[str, Any]) -> str:
    """The checks as lines: `PASS  name: actual (expected …)`."""
    return "\n".join(f"  {'PASS' if c['ok'] else 'FAIL'}  {c['name']}: {c['actual']}"
                     + ("" if c["ok"] else f" (expected {c['expected']})") for c in result["checks"])
