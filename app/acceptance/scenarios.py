"""The end-to-end scenarios S1–S10 of 04_acceptance §2 — the one definition both the acceptance runner
(`flask mes acceptance`, over HTTP against any server) and the pytest scenarios
(tests/api/test_acceptance_scenarios.py, on the Flask test client with database checks added) run.

Each scenario follows its script in order as the roles it names, checks every status, error code and
end state the script names through the API, and checks that every refused call changed nothing
(`Context.refused`). Re-runnable on one server: its own work-order numbers, event ids and routing
codes each time, fresh AUTO stencil/paste statuses at the start of every SMT scenario, and checks that
look only at its own units (a lot's recall lists every run that used the lot: the checks read the
scenario's SNs in it).

What they presuppose on the server: the demo data of `flask mes seed --demo` (04 §1) — master data,
routings, slot table, consumables, the OQC sampling rules (P-1001 FIXED 1, P-2001 PERCENTAGE 10) and
the demo users with their password; the integration account's API key."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .context import Context

SMT_LINE, DIP_LINE = "LINE-SMT-A", "LINE-DIP-A"
SMT_STATIONS = {10: "ST-PRINT-01", 20: "ST-SPI-01", 30: "ST-MOUNT-01", 40: "ST-REFLOW-01", 50: "ST-AOI-01"}
DIP_STATIONS = {10: "ST-DIP-INS-01", 20: "ST-DIP-WAVE-01", 30: "ST-DIP-POST-01", 40: "ST-DIP-TEST-01"}
SMT_DATA: dict[int, list[dict[str, Any]]] = {
    10: [{"spec": "squeegee_pressure_kg", "value": 6.0}], 20: [{"spec": "paste_height_um", "value": 150}],
    30: [], 40: [{"spec": "peak_temp_c", "value": 250}], 50: []}
DIP_DATA: dict[int, list[dict[str, Any]]] = {
    10: [], 20: [], 30: [], 40: [{"spec": "output_voltage_v", "value": 5.0},
                                 {"spec": "firmware_version", "value": "1.4.2"}]}
DEMO_OQC_RULES = [  # seed/demo.yaml `oqc_rules`
    {"productCode": "P-1001", "samplingType": "FIXED", "sampleValue": 1},
    {"productCode": "P-2001", "samplingType": "PERCENTAGE", "sampleValue": 10},
]
DEMO_USERS = ("planner", "engineer", "quality", "leader", "material", "operator", "operator2", "manager")
SMT_ITEMS = ["ROUTE", "EQUIPMENT", "MATERIAL", "STENCIL", "SOLDER_PASTE", "LOADING"]
REELS = {"1-01": "MAT-R10K|LOT-R-001", "1-02": "MAT-C100N|LOT-C-001", "2-01": "MAT-MCU|LOT-M-001"}
REELS_AT_MOUNTING = [("MAT-R10K", "LOT-R-001", "1-01", 30), ("MAT-C100N", "LOT-C-001", "1-02", 30),
                     ("MAT-MCU", "LOT-M-001", "2-01", 30)]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    track: str  # smt | dip
    run: Callable[[Context], dict[str, Any]]


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


# -- the roles' steps ---------------------------------------------------------------------------------

def sign_in_everyone(c: Context, users=DEMO_USERS) -> None:
    """Every demo user signs in first (their sign-ins are audited: not inside a refusal's check)."""
    for user in users:
        with c.step(f"{user} signs in", user):
            c.data(c.api(user).get("/api/v1/runs?pageSize=1") if user != "engineer" else
                   c.api(user).get("/api/v1/routings/RT-P1001-SMT"))


def fresh_consumable_statuses(c: Context) -> None:
    """Every SMT scenario starts with fresh AUTO statuses of the stencil and the paste (04 §2)."""
    with c.step("TPM/WMS post stencil STN-1001-A READY and paste SP-LOT-0001 COMPLIANT (AUTO)", "integration"):
        stencil = c.data(c.api("integration").post("/api/v1/integration/stencil-status", json={
            "eventId": c.unique("ACC-STN"), "eventTime": now(), "stencilId": "STN-1001-A", "status": "READY"}))
        c.eq((stencil["status"], stencil["source"]), ("READY", "AUTO"), "stencil status")
        paste = c.data(c.api("integration").post("/api/v1/integration/solder-paste-status", json={
            "eventId": c.unique("ACC-SP"), "eventTime": now(), "lotNo": "SP-LOT-0001", "status": "COMPLIANT",
            "expiresAt": (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()}))
        c.eq((paste["status"], paste["source"]), ("COMPLIANT", "AUTO"), "paste status")
    # the paste timers (issue 18): WMS reports the jar out of the refrigerator 5 h ago — thawed, never
    # opened, so no open or stencil window runs out during a scenario (the demo's own jar may be thawing)
    with c.step("WMS posts the paste jar's thaw start (5 h ago: thawed)", "integration"):
        thawed = c.data(c.api("integration").post("/api/v1/integration/solder-paste-events", json={
            "eventId": c.unique("ACC-SPT"), "eventTime": (datetime.now(timezone.utc) - timedelta(hours=5)).isoformat(),
            "lineCode": "LINE-SMT-A", "lotNo": "SP-LOT-0001", "kind": "THAW_START"}))
        c.eq((thawed["usable"], thawed["onStencilAt"]), (True, None), "paste thawed")


def receive_and_release(c: Context, wo_no: str, product: str, qty: int, line: str) -> None:
    with c.step(f"receive work order {wo_no} ({product} × {qty})", "planner"):
        received = c.data(c.api("planner").post("/api/v1/integration/work-orders",
                                                 json={"woNo": wo_no, "productCode": product, "plannedQty": qty}))
        c.eq((received["woNo"], received["status"], received["plannedQty"], received["duplicate"]),
             (wo_no, "RECEIVED", qty, False), "received work order")
    with c.step(f"release {wo_no} to {line}", "planner"):
        released = c.data(c.api("planner").post(f"/api/v1/work-orders/{wo_no}/release", json={"lineCode": line}))
        c.eq((released["status"], released["line"]["code"]), ("RELEASED", line), "released work order")


def create_run(c: Context, wo_no: str, line: str, plan_qty: int) -> str:
    with c.step(f"create a run of {wo_no} on {line} (planQty {plan_qty})", "planner"):
        run = c.data(c.api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                            json={"lineCode": line, "planQty": plan_qty}), status=(201,))
        c.eq((run["status"], run["planQty"], run["line"]["code"], run["workOrder"]["status"]),
             ("PREP", plan_qty, line, "IN_PROGRESS"), "new run")
        return run["runNo"]


def generate_units(c: Context, run_no: str, quantity: int, first_step: int = 10) -> list[str]:
    with c.step(f"generate {quantity} units for {run_no}", "planner"):
        units = c.data(c.api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": quantity}),
                       status=(201,))
        c.eq([(u["status"], u["currentStepNo"]) for u in units], [("QUEUED", first_step)] * quantity, "new units")
        return [u["sn"] for u in units]


def smt_prep_run(c: Context, scenario: str, plan_qty: int, *, wo_qty: int | None = None) -> tuple[str, str, list[str]]:
    """Fresh AUTO statuses, then the planner's steps of S1: receive, release, run, units (PREP)."""
    fresh_consumable_statuses(c)
    wo_no = c.unique(f"WO-{scenario}")
    receive_and_release(c, wo_no, "P-1001", wo_qty or plan_qty, SMT_LINE)
    run_no = create_run(c, wo_no, SMT_LINE, plan_qty)
    return wo_no, run_no, generate_units(c, run_no, plan_qty)


def scan(c: Context, run_no: str, slot: str, barcode: str, user: str = "material") -> Any:
    return c.api(user).post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": slot, "barcode": barcode})


def load_table(c: Context, run_no: str) -> None:
    with c.step(f"load the slot table of {run_no}", "material"):
        table = c.data(c.api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
        c.eq([(e["slotCode"], e["expectedMaterialCode"], e["alternates"], e["status"]) for e in table], [
            ("1-01", "MAT-R10K", ["MAT-R10K-ALT"], "PENDING"), ("1-02", "MAT-C100N", [], "PENDING"),
            ("2-01", "MAT-MCU", [], "PENDING")], "slot table")


def load_right_reels(c: Context, run_no: str, slots=("1-01", "1-02", "2-01")) -> None:
    for slot in slots:
        with c.step(f"scan {REELS[slot]} on {slot}: PASS", "material"):
            record = c.data(scan(c, run_no, slot, REELS[slot]))
            c.eq((record["verifyResult"], record["status"]), ("PASS", "LOADED"), f"scan on {slot}")


def formal_check(c: Context, run_no: str, expected: str, user: str = "quality") -> dict[str, Any]:
    with c.step(f"FORMAL readiness check of {run_no}: {expected}", user):
        check = c.data(c.api(user).post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "FORMAL"}))
        c.eq((check["kind"], check["status"]), ("FORMAL", expected), "readiness check")
        return check


def failed_items(check: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["itemType"], i["failCode"]) for i in check["items"] if i["status"] == "FAILED"]


def authorize(c: Context, run_no: str, user: str = "planner") -> Any:
    return c.api(user).post(f"/api/v1/runs/{run_no}/authorize")


def authorized(c: Context, run_no: str) -> None:
    with c.step(f"authorize {run_no}", "planner"):
        run = c.data(authorize(c, run_no))
        c.eq((run["status"], run["authorizedBy"]), ("AUTHORIZED", "planner"), "authorized run")


def track_in(c: Context, station: str, sn: str, run_no: str, user: str = "operator") -> Any:
    return c.api(user).post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no})


def track_out(c: Context, station: str, sn: str, run_no: str, result: str = "PASS", data=None, defect=None,
              user: str = "operator") -> Any:
    body: dict[str, Any] = {"sn": sn, "runNo": run_no, "result": result, "data": [] if data is None else data}
    if defect is not None:
        body["defect"] = defect
    return c.api(user).post(f"/api/v1/stations/{station}/track-out", json=body)


def stations(product: str) -> dict[int, str]:
    return SMT_STATIONS if product == "P-1001" else DIP_STATIONS


def step_data(product: str, step: int) -> list[dict[str, Any]]:
    return (SMT_DATA if product == "P-1001" else DIP_DATA)[step]


def pass_at(c: Context, run_no: str, sn: str, step: int, *, product: str = "P-1001", user: str = "operator",
            data=None) -> dict[str, Any]:
    """TrackIn and TrackOut PASS at the step's station with the step's (valid) data."""
    station = stations(product)[step]
    with c.step(f"TrackIn + TrackOut PASS {sn} at step {step} ({station})", user):
        track = c.data(track_in(c, station, sn, run_no, user))["track"]
        out = c.data(track_out(c, station, sn, run_no, "PASS", step_data(product, step) if data is None else data,
                               user=user))
        c.eq((out["result"], out["track"]["id"]), ("PASS", track["id"]), "TrackOut")
        return out


def build(c: Context, run_no: str, sn: str, steps, *, product: str = "P-1001", user: str = "operator") -> dict:
    last: dict[str, Any] = {}
    for step in steps:
        last = pass_at(c, run_no, sn, step, product=product, user=user)
    return last


def trace(c: Context, sn: str, user: str = "quality") -> dict[str, Any]:
    return c.data(c.api(user).get(f"/api/v1/trace/units/{sn}"))


def fai_with_trial(c: Context, run_no: str, trial_sn: str, *, product: str = "P-1001",
                   operator: str = "operator") -> int:
    """Quality creates the FAI (sample 1) and starts it; the operator trial-builds the unit through the
    FAI step with its data; quality records an item PASS, completes PASS and signs."""
    with c.step(f"create the FAI of {run_no} (sample 1) and start it", "quality"):
        fai = c.data(c.api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}), status=(201,))
        c.eq((fai["type"], fai["status"], fai["sampleQty"], fai["createdBy"]), ("FAI", "PENDING", 1, "quality"), "FAI")
        c.eq(c.data(c.api("quality").post(f"/api/v1/inspections/{fai['id']}/start"))["status"], "INSPECTING",
             "started FAI")
    fai_step = 50 if product == "P-1001" else 10
    trial_steps = [s for s in sorted(stations(product)) if s <= fai_step]
    build(c, run_no, trial_sn, trial_steps, product=product, user=operator)
    with c.step(f"trial board {trial_sn}: FAI_TRIAL tracks, the run still PREP", "quality"):
        tracks = trace(c, trial_sn)["tracks"]
        c.eq([(t["stepNo"], t["mode"], t["result"]) for t in tracks],
             [(s, "FAI_TRIAL", "PASS") for s in trial_steps], "trial tracks")
        c.eq(run_of(c, run_no, "quality")["status"], "PREP", "run status during the trial")
    with c.step(f"FAI item PASS for {trial_sn}, complete PASS, sign", "quality"):
        c.data(c.api("quality").post(f"/api/v1/inspections/{fai['id']}/items", json={
            "unitSn": trial_sn, "itemName": "first article", "result": "PASS"}), status=(201,))
        done = c.data(c.api("quality").post(f"/api/v1/inspections/{fai['id']}/complete", json={"decision": "PASS"}))
        c.eq((done["status"], done["decidedBy"]), ("PASS", "quality"), "completed FAI")
        signed = c.data(c.api("quality").post(f"/api/v1/inspections/{fai['id']}/sign",
                                              json={"password": c.password}))  # an electronic signature
        c.eq((signed["status"], signed["signedBy"]), ("PASS", "quality"), "signed FAI")
        c.eq([(x["meaning"], x["signedBy"]) for x in signed["signatures"]], [("FAI approved", "quality")],
             "the FAI's electronic signature")
    return fai["id"]


def run_of(c: Context, run_no: str, user: str = "planner") -> dict[str, Any]:
    return c.data(c.api(user).get(f"/api/v1/runs/{run_no}"))


def expect_run_status(c: Context, run_no: str, status: str, user: str = "planner") -> dict[str, Any]:
    with c.step(f"{run_no} is {status}", user):
        run = run_of(c, run_no, user)
        c.eq(run["status"], status, f"status of {run_no}")
        return run


def units_of(c: Context, run_no: str, user: str = "planner") -> dict[str, tuple[str, int]]:
    return {u["sn"]: (u["status"], u["currentStepNo"])
            for u in c.data(c.api(user).get(f"/api/v1/runs/{run_no}/units"))}


def expect_units(c: Context, run_no: str, expected: dict[str, tuple[str, int]], what: str) -> None:
    with c.step(f"units of {run_no}: {what}", "planner"):
        c.eq(units_of(c, run_no), expected, f"units of {run_no}")


def oqc(c: Context, inspection_id: int, sampled: list[str], decision: str, *, fail_code: str | None = None) -> dict:
    """Quality runs the OQC: start, one item per sampled SN (the first one FAIL when `fail_code`),
    complete with the decision."""
    with c.step(f"OQC {inspection_id}: items for {', '.join(sampled)}, complete {decision}", "quality"):
        c.eq(c.data(c.api("quality").post(f"/api/v1/inspections/{inspection_id}/start"))["status"], "INSPECTING",
             "started OQC")
        for index, sn in enumerate(sampled):
            body: dict[str, Any] = {"unitSn": sn, "itemName": "final visual", "result": "PASS"}
            if fail_code and index == 0:
                body.update(result="FAIL", defectCode=fail_code)
            c.data(c.api("quality").post(f"/api/v1/inspections/{inspection_id}/items", json=body), status=(201,))
        return c.data(c.api("quality").post(f"/api/v1/inspections/{inspection_id}/complete",
                                            json={"decision": decision, "password": c.password}))


def materials(unit_trace: dict[str, Any]) -> list[tuple]:
    return [(m["materialCode"], m["lotNo"], m["slotCode"], m["stepNo"]) for m in unit_trace["materials"]]


def recall_sns(c: Context, material: str, lot: str, among: list[str], user: str = "quality") -> list[str]:
    """The SNs of `among` (this scenario's units) that the lot's recall lists, in the recall's order
    (the recall also lists other runs' units on a server used before)."""
    data = c.data(c.api(user).get(f"/api/v1/trace/material-lots/{material}/{lot}"))
    c.eq(data["counts"]["units"], len({u["sn"] for u in data["units"]}), "recall unit count")
    return [u["sn"] for u in data["units"] if u["sn"] in among]


def integration_system(c: Context, system: str, user: str = "leader") -> dict[str, Any]:
    return next(s for s in c.data(c.api(user).get("/api/v1/integration/status")) if s["system"] == system)


def built_smt_run_waiting_for_oqc(c: Context, scenario: str, *, wo_qty: int = 2):
    """S1's path up to the closeout (S2–S4 start where S1's OQC starts): 2 boards, unit 1 the FAI trial
    board, unit 2 built after the authorization; the last TrackOut answers OQC_REQUIRED."""
    wo_no, run_no, sns = smt_prep_run(c, scenario, 2, wo_qty=wo_qty)
    load_table(c, run_no)
    load_right_reels(c, run_no)
    formal_check(c, run_no, "PASSED")
    fai_with_trial(c, run_no, sns[0])
    authorized(c, run_no)
    build(c, run_no, sns[1], [10, 20, 30, 40])
    closeout = pass_at(c, run_no, sns[1], 50)["runCloseout"]
    with c.step(f"the last TrackOut of {run_no} asks for the OQC", "operator"):
        c.eq((closeout["completed"], closeout["code"], len(closeout["sampledSns"])), (False, "OQC_REQUIRED", 1),
             "closeout")
        c.ok(set(closeout["sampledSns"]) <= set(sns), f"sampled {closeout['sampledSns']} not among {sns}")
    expect_run_status(c, run_no, "IN_PROGRESS")
    return wo_no, run_no, sns, closeout


def failed_oqc(c: Context, run_no: str, closeout: dict[str, Any], code: str = "SOLDER_BRIDGE") -> None:
    decided = oqc(c, closeout["inspectionId"], closeout["sampledSns"], "FAIL", fail_code=code)
    with c.step(f"OQC FAIL puts {run_no} ON_HOLD with a {code} defect on the sampled board", "quality"):
        c.eq((decided["status"], decided["runStatus"], decided["failedQty"]), ("FAIL", "ON_HOLD", 1), "OQC decision")
        c.eq(run_of(c, run_no, "quality")["status"], "ON_HOLD", "run status")
        sampled = trace(c, closeout["sampledSns"][0])
        c.eq((sampled["unit"]["status"], [(d["code"], d["status"]) for d in sampled["defects"]]),
             ("DONE", [(code, "RECORDED")]), "the sampled board")


def mrb(c: Context, run_no: str, **body: Any) -> Any:
    return c.api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json={"password": c.password, **body})


# -- S1 -----------------------------------------------------------------------------------------------

def s1_smt_happy_path(c: Context) -> dict[str, Any]:
    fresh_consumable_statuses(c)
    with c.step("compile RT-P1001-SMT: READY", "engineer"):
        compiled = c.data(c.api("engineer").post("/api/v1/routings/RT-P1001-SMT/compile"))
        c.eq((compiled["routingCode"], compiled["status"], compiled["errors"]), ("RT-P1001-SMT", "READY", []),
             "compiled routing")
    wo_no = c.unique("WO-S1")
    receive_and_release(c, wo_no, "P-1001", 2, SMT_LINE)
    run_no = create_run(c, wo_no, SMT_LINE, 2)
    with c.step(f"{run_no} runs the compiled version", "planner"):
        c.eq(run_of(c, run_no)["routeVersion"], {"routingCode": "RT-P1001-SMT", "versionNo": compiled["versionNo"]},
             "route version")
    sn1, sn2 = generate_units(c, run_no, 2)

    # quality's FORMAL check: FAILED on LOADING only; the planner's authorize is refused by it
    check = formal_check(c, run_no, "FAILED")
    with c.step("the check failed on LOADING only (SLOT_TABLE_NOT_LOADED)", "quality"):
        c.eq([i["itemType"] for i in check["items"]], SMT_ITEMS, "readiness items")
        c.eq(failed_items(check), [("LOADING", "SLOT_TABLE_NOT_LOADED")], "failed items")
        c.eq(check["summary"], {"PASSED": 5, "FAILED": 1, "WAIVED": 0}, "summary")
    with c.step("authorize refused: READINESS_CHECK_FAILED", "planner"):
        error = c.refused(lambda: authorize(c, run_no), 400, "READINESS_CHECK_FAILED", actor="planner",
                          run_no=run_no)
        c.eq((error["details"]["checkId"], [(i["itemType"], i["failCode"]) for i in error["details"]["items"]]),
             (check["id"], [("LOADING", "SLOT_TABLE_NOT_LOADED")]), "refusal details")

    # the material user loads the slot table and scans: wrong reel FAIL, right reel PASS, idempotent, replace needed
    load_table(c, run_no)
    with c.step("scan MAT-C100N|LOT-C-001 on 1-01: FAIL (MATERIAL_MISMATCH)", "material"):
        wrong = c.data(scan(c, run_no, "1-01", "MAT-C100N|LOT-C-001"))
        c.eq((wrong["verifyResult"], wrong["failReason"], wrong["status"]), ("FAIL", "MATERIAL_MISMATCH", None),
             "wrong reel")
    with c.step("scan MAT-R10K|LOT-R-001 on 1-01: PASS", "material"):
        good = c.data(scan(c, run_no, "1-01", "MAT-R10K|LOT-R-001"))
        c.eq((good["verifyResult"], good["status"], good["idempotent"], good["loadedBy"]),
             ("PASS", "LOADED", False, "material"), "right reel")
    with c.step("the same scan again: idempotent, nothing new", "material"):
        again = c.data(scan(c, run_no, "1-01", "MAT-R10K|LOT-R-001"))
        c.eq((again["verifyResult"], again["idempotent"], again["id"]), ("PASS", True, good["id"]), "rescan")
    with c.step("scan MAT-R10K|LOT-R-002 on the loaded 1-01: SLOT_ALREADY_LOADED", "material"):
        c.refused(lambda: scan(c, run_no, "1-01", "MAT-R10K|LOT-R-002"), 409, "SLOT_ALREADY_LOADED",
                  actor="material", run_no=run_no)
    load_right_reels(c, run_no, slots=("1-02", "2-01"))
    with c.step(f"every slot of {run_no} LOADED", "planner"):
        expectations = c.data(c.api("planner").get(f"/api/v1/runs/{run_no}/loading"))["expectations"]
        c.eq({e["status"] for e in expectations}, {"LOADED"}, "slot statuses")

    check = formal_check(c, run_no, "PASSED")
    with c.step("authorize refused: FAI_NOT_PASSED", "planner"):
        c.eq(check["summary"], {"PASSED": 6, "FAILED": 0, "WAIVED": 0}, "summary")
        c.refused(lambda: authorize(c, run_no), 400, "FAI_NOT_PASSED", actor="planner", run_no=run_no)

    # the FAI: sample 1, unit 1 trial-built through steps 10–50 with its data, item PASS, PASS, signed
    fai_id = fai_with_trial(c, run_no, sn1)
    authorized(c, run_no)

    # unit 2 through all five steps: the last TrackOut runs the closeout, which needs the OQC
    outs = [pass_at(c, run_no, sn2, step) for step in (10, 20, 30, 40, 50)]
    closeout = outs[-1]["runCloseout"]
    with c.step(f"{sn2} DONE; the closeout asks for the OQC of one sampled board", "operator"):
        c.eq([o["nextStep"]["stepNo"] if o.get("nextStep") else None for o in outs], [20, 30, 40, 50, None],
             "next steps")
        c.eq(outs[-1]["unit"]["status"], "DONE", "unit status")
        c.eq((closeout["completed"], closeout["code"]), (False, "OQC_REQUIRED"), "closeout")
        c.ok(len(closeout["sampledSns"]) == 1 and closeout["sampledSns"][0] in (sn1, sn2),
             f"FIXED 1 sampling: {closeout['sampledSns']}")
    expect_run_status(c, run_no, "IN_PROGRESS")
    with c.step("close run refused: OQC_REQUIRED with the sampled SN (the open OQC reused)", "planner"):
        error = c.refused(lambda: c.api("planner").post(f"/api/v1/runs/{run_no}/close"), 409, "OQC_REQUIRED",
                          actor="planner", run_no=run_no)
        c.eq((error["details"]["inspectionId"], error["details"]["sampledSns"]),
             (closeout["inspectionId"], closeout["sampledSns"]), "refusal details")

    # quality's OQC: item PASS, complete PASS → the run is COMPLETED; the planner closes the WO
    decided = oqc(c, closeout["inspectionId"], closeout["sampledSns"], "PASS")
    with c.step(f"{run_no} COMPLETED by the OQC PASS", "quality"):
        c.eq((decided["type"], decided["status"], decided["runStatus"]), ("OQC", "PASS", "COMPLETED"), "OQC")
        run = run_of(c, run_no, "quality")
        c.eq((run["status"], bool(run["endedAt"]), run["unitCounts"].get("DONE")), ("COMPLETED", True, 2), "run")
    with c.step(f"close work order {wo_no}", "planner"):
        closed = c.data(c.api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))
        c.eq((closed["status"], closed["runs"]), ("COMPLETED", [
            {"runNo": run_no, "status": "COMPLETED", "planQty": 2, "line": SMT_LINE, "parentRunNo": None,
             "good": 2, "scrap": 0, "inWork": 0, "units": 2}]), "closed work order")

    # unit trace: 5 PASS tracks, data values with judges, FAI PASS, OQC PASS, the three lots at MOUNTING
    for sn, mode in ((sn2, "NORMAL"), (sn1, "FAI_TRIAL")):
        with c.step(f"trace of {sn}: 5 PASS tracks, data with judges, FAI and OQC PASS, 3 lots", "quality"):
            unit_trace = trace(c, sn)
            c.eq((unit_trace["unit"]["status"], unit_trace["run"]["runNo"], unit_trace["workOrder"]["woNo"]),
                 ("DONE", run_no, wo_no), "unit")
            tracks = unit_trace["tracks"]
            c.eq([(t["stepNo"], t["station"], t["result"], t["mode"], t["operator"]) for t in tracks],
                 [(step, SMT_STATIONS[step], "PASS", mode, "operator") for step in (10, 20, 30, 40, 50)], "tracks")
            c.eq([(t["stepNo"], v["spec"], v["value"], v["judge"]) for t in tracks for v in t["dataValues"]],
                 [(10, "squeegee_pressure_kg", 6.0, "PASS"), (20, "paste_height_um", 150, "PASS"),
                  (40, "peak_temp_c", 250, "PASS")], "data values")
            peak = tracks[3]["dataValues"][0]
            c.eq((peak["lsl"], peak["usl"], peak["uom"]), (235, 265, "°C"), "peak_temp_c limits")
            inspections = {i["type"]: i for i in unit_trace["inspections"]}
            c.eq((inspections["FAI"]["id"], inspections["FAI"]["status"], inspections["FAI"]["signedBy"]),
                 (fai_id, "PASS", "quality"), "FAI")
            c.eq((inspections["OQC"]["status"], inspections["OQC"]["sampledSns"]), ("PASS", closeout["sampledSns"]),
                 "OQC")
            c.eq(materials(unit_trace), REELS_AT_MOUNTING, "lots at MOUNTING")
            c.eq([i["unitSn"] for i in inspections["FAI"]["items"]], [sn1] if sn == sn1 else [],
                 "the unit's own FAI items")

    # lot recall of the reel on 1-01: both boards
    with c.step("lot recall of MAT-R10K|LOT-R-001 lists both boards (LOT-R-002 none)", "quality"):
        c.eq(recall_sns(c, "MAT-R10K", "LOT-R-001", [sn1, sn2]), [sn1, sn2], "recall of LOT-R-001")
        c.eq(recall_sns(c, "MAT-R10K", "LOT-R-002", [sn1, sn2]), [], "recall of LOT-R-002")
    return {"woNo": wo_no, "runNo": run_no, "sns": [sn1, sn2], "faiId": fai_id}


# -- S2, S3, S4: OQC fail → MRB ---------------------------------------------------------------------

def s2_oqc_fail_mrb_release(c: Context) -> dict[str, Any]:
    wo_no, run_no, sns, closeout = built_smt_run_waiting_for_oqc(c, "S2")
    failed_oqc(c, run_no, closeout)
    with c.step(f"close work order {wo_no} refused: WORK_ORDER_RUNS_NOT_TERMINAL (a held run)", "planner"):
        c.refused(lambda: c.api("planner").post(f"/api/v1/work-orders/{wo_no}/close"), 409,
                  "WORK_ORDER_RUNS_NOT_TERMINAL", actor="planner", run_no=run_no)
    with c.step("MRB RELEASE: the run COMPLETED", "quality"):
        answer = c.data(mrb(c, run_no, decision="RELEASE", reason="Cosmetic bridge on a test pad: accept"))
        c.eq((answer["run"]["status"], answer["reworkRunNo"], answer["decision"]["decision"]),
             ("COMPLETED", None, "RELEASE"), "MRB decision")
    expect_run_status(c, run_no, "COMPLETED")
    expect_units(c, run_no, {sn: ("DONE", 50) for sn in sns}, "DONE at 50")
    with c.step(f"close work order {wo_no}", "planner"):
        c.eq(c.data(c.api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))["status"], "COMPLETED", "WO")
    with c.step("the sampled board's trace shows the MRB RELEASE and the OQC FAIL", "quality"):
        unit_trace = trace(c, closeout["sampledSns"][0])
        c.eq([(d["decision"], d["runNo"], d["decidedBy"]) for d in unit_trace["mrbDecisions"]],
             [("RELEASE", run_no, "quality")], "MRB decisions")
        c.eq([i["status"] for i in unit_trace["inspections"] if i["type"] == "OQC"], ["FAIL"], "OQC")
    return {"woNo": wo_no, "runNo": run_no, "sns": sns}


def s3_oqc_fail_mrb_scrap(c: Context) -> dict[str, Any]:
    wo_no, run_no, sns, closeout = built_smt_run_waiting_for_oqc(c, "S3")
    failed_oqc(c, run_no, closeout, code="WRONG_PART")
    with c.step("MRB SCRAP: the run SCRAPPED", "quality"):
        answer = c.data(mrb(c, run_no, decision="SCRAP", reason="Wrong MCU revision on the whole run"))
        c.eq((answer["run"]["status"], answer["reworkRunNo"]), ("SCRAPPED", None), "MRB decision")
    expect_run_status(c, run_no, "SCRAPPED")
    expect_units(c, run_no, {sn: ("SCRAPPED", 50) for sn in sns}, "SCRAPPED")
    with c.step("every unit's trace says SCRAPPED", "quality"):
        c.eq([trace(c, sn)["unit"]["status"] for sn in sns], ["SCRAPPED"] * len(sns), "units")
    with c.step(f"close work order {wo_no} refused: WORK_ORDER_SHORT (no good board)", "planner"):
        c.refused(lambda: c.api("planner").post(f"/api/v1/work-orders/{wo_no}/close"), 409,
                  "WORK_ORDER_SHORT", actor="planner")
    with c.step(f"close work order {wo_no} short, confirmed with a reason", "planner"):
        c.eq(c.data(c.api("planner").post(f"/api/v1/work-orders/{wo_no}/close", json={
            "confirmShort": True, "reason": "MRB scrapped the run"}))["status"], "COMPLETED", "WO")
    return {"woNo": wo_no, "runNo": run_no, "sns": sns}


def s4_oqc_fail_mrb_rework(c: Context) -> dict[str, Any]:
    # the work order plans one board more than the run: room to show the quantity check ignores the rework run
    wo_no, run_no, sns, closeout = built_smt_run_waiting_for_oqc(c, "S4", wo_qty=3)
    failed_oqc(c, run_no, closeout)
    before = {sn: [(t["stepNo"], t["result"]) for t in trace(c, sn)["tracks"]] for sn in sns}
    waiver = "Only AOI is repeated; placement and reflow unchanged"
    with c.step("MRB REWORK (FULL_PREP from step 50, FAI waived): a rework run", "quality"):
        answer = c.data(mrb(c, run_no, decision="REWORK", reason="Bridges on U3: hand repair, re-inspect",
                            reworkType="FULL_PREP", reworkFromStepNo=50, faiWaiver=True, faiWaiverReason=waiver))
        rework_no = answer["reworkRunNo"]
        c.eq((rework_no, answer["run"]["status"]), (f"{run_no}-RW1", "CLOSED_REWORK"), "MRB decision")
        c.eq((answer["decision"]["reworkType"], answer["decision"]["reworkFromStepNo"]), ("FULL_PREP", 50),
             "rework")
    with c.step(f"the rework run {rework_no} starts PREP with the boards QUEUED at AOI", "planner"):
        rework = run_of(c, rework_no)
        c.eq((rework["status"], rework["planQty"], rework["parentRunNo"], rework["reworkType"]),
             ("PREP", 2, run_no, "FULL_PREP"), "rework run")
        c.eq(units_of(c, rework_no), {sn: ("QUEUED", 50) for sn in sns}, "rework run's units")
        c.eq(units_of(c, run_no), {}, "parent run's units")
    # readiness passes without a LOADING item (it re-enters no placement step)
    check = formal_check(c, rework_no, "PASSED")
    with c.step("no LOADING item on the rework run", "quality"):
        c.eq([i["itemType"] for i in check["items"]], SMT_ITEMS[:-1], "readiness items")
    # no FAI needed: authorized straight away
    authorized(c, rework_no)
    with c.step(f"{rework_no} has no FAI", "quality"):
        inspections = c.data(c.api("quality").get(f"/api/v1/runs/{rework_no}/inspections"))
        c.eq([i["type"] for i in inspections if i["type"] == "FAI"], [], "FAIs of the rework run")
    # its units re-run AOI only, and it completes (its own OQC by the demo rule)
    last: dict[str, Any] = {}
    for sn in sns:
        last = pass_at(c, rework_no, sn, 50)
    with c.step("the rework boards re-ran AOI only", "quality"):
        for sn in sns:
            c.eq([(t["stepNo"], t["result"]) for t in trace(c, sn)["tracks"]], before[sn] + [(50, "PASS")],
                 f"tracks of {sn}")
    closeout2 = last["runCloseout"]
    with c.step("the rework run's closeout asks for its own OQC", "operator"):
        c.eq(closeout2["code"], "OQC_REQUIRED", "closeout")
    with c.step(f"{rework_no} COMPLETED by its OQC", "quality"):
        c.eq(oqc(c, closeout2["inspectionId"], closeout2["sampledSns"], "PASS")["runStatus"], "COMPLETED", "OQC")
    expect_run_status(c, rework_no, "COMPLETED")
    expect_units(c, rework_no, {sn: ("DONE", 50) for sn in sns}, "DONE at 50")
    # the WO quantity check ignores the rework run: 3 planned, 2 in the parent run → one board left
    with c.step("a run of 2 more refused: QUANTITY_EXCEEDS_WORK_ORDER (the rework run not counted)", "planner"):
        c.refused(lambda: c.api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                                json={"lineCode": SMT_LINE, "planQty": 2}),
                  400, "QUANTITY_EXCEEDS_WORK_ORDER", actor="planner")
    create_run(c, wo_no, SMT_LINE, 1)
    with c.step("the trace shows the rework run, its parent and the MRB decision with the waiver", "quality"):
        unit_trace = trace(c, sns[1])
        c.eq((unit_trace["run"]["runNo"], unit_trace["parentRun"]), (rework_no, run_no), "runs")
        c.eq([(d["decision"], d["reworkRunNo"], d["faiWaiver"], d["faiWaiverReason"])
              for d in unit_trace["mrbDecisions"]], [("REWORK", rework_no, True, waiver)], "MRB decisions")
    return {"woNo": wo_no, "runNo": run_no, "reworkRunNo": rework_no, "sns": sns}


# -- S5 -----------------------------------------------------------------------------------------------

def s5_degraded_mode_and_waiver(c: Context) -> dict[str, Any]:
    _, run_no, (sn1, sn2) = smt_prep_run(c, "S5", 2)
    load_table(c, run_no)
    load_right_reels(c, run_no)  # its loading complete: only STENCIL will fail
    with c.step("TPM not DEGRADED", "leader"):
        c.eq(integration_system(c, "TPM")["degraded"], False, "TPM degraded")

    # the leader enters the stencil status by hand: MANUAL, operator leader, whatever the body says
    with c.step("enter stencil STN-1001-A MAINTENANCE by hand: MANUAL, operator leader; TPM DEGRADED", "leader"):
        recorded = c.data(c.api("leader").post("/api/v1/integration/stencil-status", json={
            "eventId": c.unique("S5-STN"), "eventTime": now(),
            "stencilId": "STN-1001-A", "status": "MAINTENANCE", "operator": "integration", "source": "AUTO"}))
        c.eq((recorded["status"], recorded["source"], recorded["operator"]), ("MAINTENANCE", "MANUAL", "leader"),
             "manual stencil status")
        tpm = integration_system(c, "TPM")
        c.eq((tpm["degraded"], tpm["manualSinceLastAuto"]), (True, 1), "TPM status")

    check = formal_check(c, run_no, "FAILED")
    with c.step("the check failed on STENCIL only, with the MANUAL evidence", "quality"):
        c.eq(failed_items(check), [("STENCIL", "STENCIL_NOT_READY")], "failed items")
        stencil = next(i for i in check["items"] if i["itemType"] == "STENCIL")
        c.eq((stencil["evidence"]["source"], stencil["evidence"]["operator"]), ("MANUAL", "leader"), "evidence")

    # quality waives it: an empty reason is refused
    def waive(reason: str) -> Any:
        return c.api("quality").post(f"/api/v1/readiness-items/{stencil['id']}/waive",
                                     json={"reason": reason, "password": c.password})

    with c.step("waive without a reason refused: REASON_REQUIRED", "quality"):
        c.refused(lambda: waive(""), 400, "REASON_REQUIRED", actor="quality", run_no=run_no)
    reason = "Stencil tension measured by hand: 38 N/cm², OK"
    with c.step("waive STENCIL with a reason: the check PASSED", "quality"):
        waived = c.data(waive(reason))
        c.eq((waived["item"]["status"], waived["item"]["waivedBy"], waived["item"]["waiveReason"]),
             ("WAIVED", "quality", reason), "waived item")
        c.eq((waived["check"]["status"], waived["check"]["summary"]),
             ("PASSED", {"PASSED": 5, "FAILED": 0, "WAIVED": 1}), "check")
        c.eq(c.data(c.api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))["status"], "PASSED",
             "the run's FORMAL readiness")

    # that run is built (its FAI on the waived check, the authorization, unit 2)
    fai_with_trial(c, run_no, sn1)
    authorized(c, run_no)
    closeout = build(c, run_no, sn2, [10, 20, 30, 40, 50])["runCloseout"]
    with c.step(f"{run_no} COMPLETED by its OQC", "quality"):
        c.eq(oqc(c, closeout["inspectionId"], closeout["sampledSns"], "PASS")["runStatus"], "COMPLETED", "OQC")

    # the units' trace shows the waiver (who, why) and the MANUAL source
    for sn in (sn1, sn2):
        with c.step(f"trace of {sn} shows the waiver (quality, its reason) and the MANUAL source", "quality"):
            readiness = trace(c, sn)["readiness"]
            c.eq((readiness["checkId"], readiness["status"]), (check["id"], "PASSED"), "the authorizing check")
            traced = next(i for i in readiness["items"] if i["itemType"] == "STENCIL")
            c.eq((traced["status"], traced["waivedBy"], traced["waiveReason"], traced["manual"], traced["operator"]),
                 ("WAIVED", "quality", reason, True, "leader"), "STENCIL item")

    # TPM is back: the integration account posts READY (AUTO) and the DEGRADED flag clears
    with c.step("TPM posts STN-1001-A READY (AUTO): the DEGRADED flag clears", "integration"):
        back = c.data(c.api("integration").post("/api/v1/integration/stencil-status", json={
            "eventId": c.unique("S5-STN"), "eventTime": now(), "stencilId": "STN-1001-A", "status": "READY"}))
        c.eq((back["status"], back["source"], back["operator"]), ("READY", "AUTO", None), "stencil status")
        tpm = integration_system(c, "TPM", user="quality")
        c.eq((tpm["degraded"], tpm["lastSource"], tpm["manualSinceLastAuto"]), (False, "AUTO", 0), "TPM status")
    return {"runNo": run_no, "sns": [sn1, sn2], "checkId": check["id"]}


# -- S6 -----------------------------------------------------------------------------------------------

def s6_slot_lock_and_reel_change(c: Context) -> dict[str, Any]:
    try:
        return _s6(c)
    except BaseException:  # stopped between the lock and the unlock: 2-01 must not stay locked for later runs
        c.api("leader").post(f"/api/v1/lines/{SMT_LINE}/feeder-slots/2-01/unlock",
                             json={"reason": "acceptance S6 stopped: slot released"})
        raise


def _s6(c: Context) -> dict[str, Any]:
    _, run_no, sns = smt_prep_run(c, "S6", 4)
    load_table(c, run_no)

    # three wrong scans on 2-01: the third locks it; the next scan answers SLOT_LOCKED
    with c.step("three wrong scans on 2-01: the third locks the slot", "material"):
        wrong = [c.data(scan(c, run_no, "2-01", "MAT-R10K|LOT-R-001")) for _ in range(3)]
        c.eq([(r["verifyResult"], r["failReason"], r["failedAttempts"], r["locked"]) for r in wrong], [
            ("FAIL", "MATERIAL_MISMATCH", 1, False), ("FAIL", "MATERIAL_MISMATCH", 2, False),
            ("FAIL", "MATERIAL_MISMATCH", 3, True)], "scans")
    with c.step("the next scan on 2-01: SLOT_LOCKED", "material"):
        c.refused(lambda: scan(c, run_no, "2-01", "MAT-MCU|LOT-M-001"), 409, "SLOT_LOCKED", actor="material",
                  run_no=run_no)

    def unlock(reason: str) -> Any:
        return c.api("leader").post(f"/api/v1/lines/{SMT_LINE}/feeder-slots/2-01/unlock", json={"reason": reason})

    with c.step("unlock without a reason refused: REASON_REQUIRED", "leader"):
        c.refused(lambda: unlock(""), 400, "REASON_REQUIRED", actor="leader", run_no=run_no)
    with c.step("unlock 2-01 with a reason", "leader"):
        c.eq(c.data(unlock("Wrong reel taken back to stores")),
             {"lineCode": SMT_LINE, "slotCode": "2-01", "locked": False, "failedAttempts": 0}, "unlocked slot")
    with c.step("scan the rejected lot MAT-MCU|LOT-M-BAD: FAIL (MATERIAL_LOT_REJECTED)", "material"):
        rejected = c.data(scan(c, run_no, "2-01", "MAT-MCU|LOT-M-BAD"))
        c.eq((rejected["verifyResult"], rejected["failReason"], rejected["status"]),
             ("FAIL", "MATERIAL_LOT_REJECTED", None), "rejected lot")
    load_right_reels(c, run_no, slots=("2-01", "1-01", "1-02"))
    formal_check(c, run_no, "PASSED")
    fai_with_trial(c, run_no, sns[0])  # unit 1 is placed with LOT-R-001 in its trial
    authorized(c, run_no)

    # production: unit 2 tracked out at MOUNTING, then the material user changes the 1-01 reel
    build(c, run_no, sns[1], [10, 20, 30])
    expect_run_status(c, run_no, "IN_PROGRESS")
    with c.step("replace the reel on 1-01 by the alternate MAT-R10K-ALT|LOT-RA-001: WARNING", "material"):
        change = c.data(c.api("material").post("/api/v1/loading/replace", json={
            "runNo": run_no, "slotCode": "1-01", "barcode": "MAT-R10K-ALT|LOT-RA-001", "reason": "reel empty"}))
        c.eq((change["verifyResult"], change["status"], change["replaceReason"]), ("WARNING", "LOADED", "reel empty"),
             "reel change")
    build(c, run_no, sns[1], [40, 50])
    build(c, run_no, sns[2], [10, 20, 30, 40, 50])
    closeout = build(c, run_no, sns[3], [10, 20, 30, 40, 50])["runCloseout"]
    with c.step(f"{run_no} COMPLETED by its OQC", "quality"):
        c.eq(oqc(c, closeout["inspectionId"], closeout["sampledSns"], "PASS")["runStatus"], "COMPLETED", "OQC")

    after = [("MAT-R10K-ALT", "LOT-RA-001", "1-01", 30)] + REELS_AT_MOUNTING[1:]
    with c.step("boards placed before the change carry LOT-R-001, after it LOT-RA-001", "quality"):
        for sn, expected in zip(sns, (REELS_AT_MOUNTING, REELS_AT_MOUNTING, after, after)):
            c.eq(materials(trace(c, sn)), expected, f"lots of {sn}")
    with c.step("each lot's recall is exact", "quality"):
        c.eq(recall_sns(c, "MAT-R10K", "LOT-R-001", sns), sns[:2], "recall of LOT-R-001")
        c.eq(recall_sns(c, "MAT-R10K-ALT", "LOT-RA-001", sns), sns[2:], "recall of LOT-RA-001")
        c.eq(recall_sns(c, "MAT-C100N", "LOT-C-001", sns), sns, "recall of LOT-C-001")
        c.eq(recall_sns(c, "MAT-MCU", "LOT-M-001", sns), sns, "recall of LOT-M-001")
        c.eq(recall_sns(c, "MAT-MCU", "LOT-M-BAD", sns), [], "recall of LOT-M-BAD (scanned, refused, never used)")
    return {"runNo": run_no, "sns": sns}


# -- S7 -----------------------------------------------------------------------------------------------

def s7_defect_loop(c: Context) -> dict[str, Any]:
    # unit 1 is the FAI trial board; units 2–6 go through the loop
    _, run_no, sns = smt_prep_run(c, "S7", 6)
    trial, reworked, held, scrapped, too_hot, aoi_failed = sns
    load_table(c, run_no)
    load_right_reels(c, run_no)
    formal_check(c, run_no, "PASSED")
    fai_with_trial(c, run_no, trial)
    authorized(c, run_no)
    aoi = SMT_STATIONS[50]

    def fail_at_aoi(sn: str, code: str = "SOLDER_BRIDGE") -> int:
        build(c, run_no, sn, [10, 20, 30, 40])
        with c.step(f"TrackOut FAIL {sn} at AOI with {code}", "operator"):
            c.data(track_in(c, aoi, sn, run_no))
            out = c.data(track_out(c, aoi, sn, run_no, "FAIL", defect={"code": code, "location": "U3"}))
            c.eq((out["result"], out["unit"]["status"], [d["code"] for d in out["defects"]]),
                 ("FAIL", "OUT_FAILED", [code]), "TrackOut FAIL")
            return out["defects"][0]["id"]

    def dispose(defect_id: int, kind: str, reason: str, to_step: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": kind, "reason": reason, **({"toStepNo": to_step} if to_step else {})}
        return c.data(c.api("quality").post(f"/api/v1/defects/{defect_id}/disposition", json=body))

    # TrackOut FAIL at AOI with SOLDER_BRIDGE → REWORK to step 50 → re-runs AOI → DONE
    defect = fail_at_aoi(reworked)
    with c.step(f"disposition REWORK of {reworked} to step 50", "quality"):
        decided = dispose(defect, "REWORK", "Hand repair of the bridge, re-inspect", to_step=50)
        c.eq(decided["unit"], {"sn": reworked, "status": "QUEUED", "currentStepNo": 50, "reworkCount": 1,
                               "runNo": run_no}, "unit")
        c.eq((decided["reworkTask"]["status"], decided["reworkTask"]["toStepNo"]), ("OPEN", 50), "rework task")
    with c.step(f"{reworked} re-runs AOI: DONE", "operator"):
        c.eq(pass_at(c, run_no, reworked, 50)["unit"]["status"], "DONE", "unit status")
    # another unit FAIL → HOLD → release → continues
    defect = fail_at_aoi(held, code="INSUFFICIENT_SOLDER")
    with c.step(f"disposition HOLD of {held}", "quality"):
        c.eq(dispose(defect, "HOLD", "Check the paste lot first")["unit"]["status"], "ON_HOLD", "unit status")
    with c.step(f"TrackIn of the held {held} refused: UNIT_ON_HOLD", "operator"):
        c.refused(lambda: track_in(c, aoi, held, run_no), 400, "UNIT_ON_HOLD", actor="operator", run_no=run_no)
    with c.step(f"release {held}: QUEUED at 50", "quality"):
        released = c.data(c.api("quality").post(f"/api/v1/defects/{defect}/release",
                                                json={"reason": "Paste lot checked: fine"}))
        c.eq((released["unit"]["status"], released["unit"]["currentStepNo"], released["defect"]["status"]),
             ("QUEUED", 50, "CLOSED"), "released unit")
    with c.step(f"{held} continues: DONE", "operator"):
        c.eq(pass_at(c, run_no, held, 50)["unit"]["status"], "DONE", "unit status")
    # a third → SCRAP
    defect = fail_at_aoi(scrapped, code="TOMBSTONE")
    with c.step(f"disposition SCRAP of {scrapped}", "quality"):
        decided = dispose(defect, "SCRAP", "Pad lifted, beyond repair")
        c.eq((decided["unit"]["status"], decided["defect"]["status"]), ("SCRAPPED", "CLOSED"), "scrapped unit")
    with c.step(f"TrackIn of the scrapped {scrapped} refused: UNIT_SCRAPPED", "operator"):
        c.refused(lambda: track_in(c, aoi, scrapped, run_no), 400, "UNIT_SCRAPPED", actor="operator", run_no=run_no)

    # a reflow peak_temp_c of 280 forces FAIL with SPEC_OUT_OF_LIMIT
    build(c, run_no, too_hot, [10, 20, 30])
    with c.step(f"reflow peak_temp_c 280 on {too_hot}: FAIL forced, SPEC_OUT_OF_LIMIT", "operator"):
        c.data(track_in(c, SMT_STATIONS[40], too_hot, run_no))
        out = c.data(track_out(c, SMT_STATIONS[40], too_hot, run_no, "PASS", [{"spec": "peak_temp_c", "value": 280}]))
        c.eq((out["result"], out["forcedBy"], out["unit"]["status"]), ("FAIL", "SPEC_LIMIT", "OUT_FAILED"), "TrackOut")
        c.eq([d["code"] for d in out["defects"]], ["SPEC_OUT_OF_LIMIT"], "defects")
        c.eq([(v["spec"], v["value"], v["judge"]) for v in out["dataValues"]], [("peak_temp_c", 280, "FAIL")], "data")

    # an AOI FAIL result posted by the integration account for a unit at AOI forces its TrackOut to FAIL
    build(c, run_no, aoi_failed, [10, 20, 30, 40])
    with c.step(f"TrackIn {aoi_failed} at AOI", "operator"):
        c.data(track_in(c, aoi, aoi_failed, run_no))
    with c.step(f"the AOI posts FAIL for {aoi_failed} (MISSING_PART, POLARITY)", "integration"):
        result = c.data(c.api("integration").post("/api/v1/integration/inspection-results", json={
            "eventId": c.unique("S7-AOI"), "eventTime": now(), "type": "AOI", "sn": aoi_failed,
            "stationCode": aoi, "result": "FAIL",
            "defects": [{"code": "MISSING_PART", "location": "C12"}, {"code": "POLARITY", "location": "D1"}]}))
        c.eq((result["source"], result["stepNo"], result["effect"]), ("AUTO", 50, "FORCES_TRACK_OUT"), "AOI result")
    with c.step(f"TrackOut PASS of {aoi_failed} forced to FAIL by the AOI, with its defects", "operator"):
        out = c.data(track_out(c, aoi, aoi_failed, run_no, "PASS"))
        c.eq((out["result"], out["forcedBy"], out["unit"]["status"]), ("FAIL", "AOI", "OUT_FAILED"), "TrackOut")
        c.eq([d["code"] for d in out["defects"]], ["MISSING_PART", "POLARITY"], "defects")

    # the end state of the loop
    expect_units(c, run_no, {trial: ("DONE", 50), reworked: ("DONE", 50), held: ("DONE", 50),
                             scrapped: ("SCRAPPED", 50), too_hot: ("OUT_FAILED", 40),
                             aoi_failed: ("OUT_FAILED", 50)}, "the end state of the defect loop")
    with c.step("the defects, their statuses and sources", "quality"):
        defects = {(sn, d["code"], d["stepNo"], d["status"], d["source"])
                   for sn in sns for d in trace(c, sn)["defects"]}
        c.eq(defects, {(reworked, "SOLDER_BRIDGE", 50, "CLOSED", "MANUAL"),
                       (held, "INSUFFICIENT_SOLDER", 50, "CLOSED", "MANUAL"),
                       (scrapped, "TOMBSTONE", 50, "CLOSED", "MANUAL"),
                       # forced by the operator's own (typed) value: AUTO is for SPI/AOI defects
                       (too_hot, "SPEC_OUT_OF_LIMIT", 40, "RECORDED", "MANUAL"),
                       (aoi_failed, "MISSING_PART", 50, "RECORDED", "AUTO"),
                       (aoi_failed, "POLARITY", 50, "RECORDED", "AUTO")}, "defects")
    with c.step(f"trace of {reworked}: FAIL then PASS at AOI, the REWORK disposition, its task DONE", "quality"):
        unit_trace = trace(c, reworked)
        c.eq([(t["stepNo"], t["result"]) for t in unit_trace["tracks"]],
             [(10, "PASS"), (20, "PASS"), (30, "PASS"), (40, "PASS"), (50, "FAIL"), (50, "PASS")], "tracks")
        c.eq([(d["code"], d["disposition"]["type"], d["reworkTask"]["status"]) for d in unit_trace["defects"]],
             [("SOLDER_BRIDGE", "REWORK", "DONE")], "defect disposition")
    expect_run_status(c, run_no, "IN_PROGRESS")  # two boards still wait for their disposition
    return {"runNo": run_no, "sns": sns}


# -- S8 -----------------------------------------------------------------------------------------------

def s8_dip_happy_path(c: Context) -> dict[str, Any]:
    wo_no = c.unique("WO-S8")
    receive_and_release(c, wo_no, "P-2001", 12, DIP_LINE)
    run_no = create_run(c, wo_no, DIP_LINE, 12)
    with c.step(f"{run_no} runs RT-P2001-DIP", "planner"):
        c.eq(run_of(c, run_no)["routeVersion"]["routingCode"], "RT-P2001-DIP", "routing")
    sns = generate_units(c, run_no, 12)

    # no loading, no stencil/paste items
    check = formal_check(c, run_no, "PASSED")
    with c.step("DIP readiness: ROUTE, EQUIPMENT, MATERIAL only; authorize refused: FAI_NOT_PASSED", "planner"):
        c.eq([i["itemType"] for i in check["items"]], ["ROUTE", "EQUIPMENT", "MATERIAL"], "readiness items")
        c.refused(lambda: authorize(c, run_no), 400, "FAI_NOT_PASSED", actor="planner", run_no=run_no)

    # FAI on step 10 with a trial at ST-DIP-INS-01 by operator2 (one trial track, at step 10 only)
    fai_with_trial(c, run_no, sns[0], product="P-2001", operator="operator2")
    authorized(c, run_no)

    # operator2 builds every board; FUNC_TEST data is required
    build(c, run_no, sns[0], [20, 30], product="P-2001", user="operator2")
    test_station = DIP_STATIONS[40]
    with c.step(f"TrackIn {sns[0]} at FUNC_TEST; PASS without its data refused: REQUIRED_DATA_MISSING", "operator2"):
        c.data(track_in(c, test_station, sns[0], run_no, "operator2"))
        error = c.refused(lambda: track_out(c, test_station, sns[0], run_no, "PASS", user="operator2"),
                          400, "REQUIRED_DATA_MISSING", actor="operator2", run_no=run_no)
        c.eq(sorted(error["details"]["specs"]), ["firmware_version", "output_voltage_v"], "missing specs")
    with c.step(f"TrackOut PASS {sns[0]} with output_voltage_v and firmware_version", "operator2"):
        out = c.data(track_out(c, test_station, sns[0], run_no, "PASS", DIP_DATA[40], user="operator2"))
        c.eq([(v["spec"], v["value"], v["judge"]) for v in out["dataValues"]],
             [("output_voltage_v", 5.0, "PASS"), ("firmware_version", "1.4.2", "NA")], "data values")
    last: dict[str, Any] = {}
    for sn in sns[1:]:
        last = build(c, run_no, sn, [10, 20, 30, 40], product="P-2001", user="operator2")

    # OQC 10 %: 10 % of 12 DONE boards = 1.2 → 2 sampled
    closeout = last["runCloseout"]
    with c.step("the closeout samples 2 boards for the OQC (10 % of 12, rounded up)", "operator2"):
        c.eq((closeout["code"], len(closeout["sampledSns"])), ("OQC_REQUIRED", 2), "closeout")
        c.ok(set(closeout["sampledSns"]) <= set(sns), f"sampled {closeout['sampledSns']} not of this run")
    with c.step(f"{run_no} COMPLETED by its OQC", "quality"):
        c.eq(oqc(c, closeout["inspectionId"], closeout["sampledSns"], "PASS")["runStatus"], "COMPLETED", "OQC")
    expect_units(c, run_no, {sn: ("DONE", 40) for sn in sns}, "DONE at 40")
    with c.step(f"close work order {wo_no}", "planner"):
        c.eq(c.data(c.api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))["status"], "COMPLETED", "WO")
    with c.step(f"trace of {sns[0]}: FAI trial at INS, NORMAL after, FAI and OQC PASS, no slot table", "quality"):
        unit_trace = trace(c, sns[0])
        c.eq([(t["stepNo"], t["station"], t["result"], t["mode"], t["operator"]) for t in unit_trace["tracks"]], [
            (10, "ST-DIP-INS-01", "PASS", "FAI_TRIAL", "operator2"), (20, "ST-DIP-WAVE-01", "PASS", "NORMAL", "operator2"),
            (30, "ST-DIP-POST-01", "PASS", "NORMAL", "operator2"), (40, "ST-DIP-TEST-01", "PASS", "NORMAL", "operator2")],
            "tracks")
        c.eq({i["type"]: i["status"] for i in unit_trace["inspections"]}, {"FAI": "PASS", "OQC": "PASS"}, "inspections")
        c.eq(unit_trace["materials"], [], "materials")
    return {"woNo": wo_no, "runNo": run_no, "sns": sns}


# -- S9 -----------------------------------------------------------------------------------------------

def s9_gates_and_bad_input(c: Context) -> dict[str, Any]:
    _, run_no, (sn1, sn2, sn3) = smt_prep_run(c, "S9", 3)
    load_table(c, run_no)
    load_right_reels(c, run_no)
    formal_check(c, run_no, "PASSED")
    printer = SMT_STATIONS[10]

    with c.step("TrackIn on a PREP run without an FAI: RUN_NOT_AUTHORIZED", "operator"):
        error = c.refused(lambda: track_in(c, printer, sn2, run_no), 400, "RUN_NOT_AUTHORIZED", actor="operator",
                          run_no=run_no)
        c.ok("FAI" in error["message"], f"the message should name the FAI: {error['message']}")
    fai_with_trial(c, run_no, sn1)
    with c.step("an operator authorizing the run: 403", "operator"):
        c.refused(lambda: authorize(c, run_no, user="operator"), 403, "FORBIDDEN", actor="operator", run_no=run_no)
    authorized(c, run_no)

    with c.step(f"{sn2} (at PRINTING) at ST-SPI-01: STATION_MISMATCH", "operator"):
        error = c.refused(lambda: track_in(c, SMT_STATIONS[20], sn2, run_no), 400, "STATION_MISMATCH",
                          actor="operator", run_no=run_no)
        c.ok("SMT-A-PRINT" in error["message"], f"the message should name the station group: {error['message']}")
    with c.step("operator2 tracking at ST-PRINT-01 (not their station): 403", "operator2"):
        c.refused(lambda: track_in(c, printer, sn2, run_no, user="operator2"), 403, "FORBIDDEN", actor="operator2",
                  run_no=run_no)
    with c.step(f"TrackIn {sn2} at {printer}", "operator"):
        c.data(track_in(c, printer, sn2, run_no))
    with c.step("operator2 tracking out at ST-PRINT-01: 403", "operator2"):
        c.refused(lambda: track_out(c, printer, sn2, run_no, "PASS", user="operator2"), 403, "FORBIDDEN",
                  actor="operator2", run_no=run_no)
    with c.step("PASS without the required data: REQUIRED_DATA_MISSING", "operator"):
        error = c.refused(lambda: track_out(c, printer, sn2, run_no, "PASS"), 400, "REQUIRED_DATA_MISSING",
                          actor="operator", run_no=run_no)
        c.eq(error["details"], {"specs": ["squeegee_pressure_kg"]}, "missing specs")
    with c.step("a text in a NUMBER spec: DATA_VALUE_INVALID", "operator"):
        error = c.refused(lambda: track_out(c, printer, sn2, run_no, "PASS",
                                            [{"spec": "squeegee_pressure_kg", "value": "six"}]),
                          400, "DATA_VALUE_INVALID", actor="operator", run_no=run_no)
        c.eq(error["details"], {"spec": "squeegee_pressure_kg", "expected": "a number"}, "details")
    with c.step("malformed JSON on TrackOut and TrackIn: 422", "operator"):
        c.refused(lambda: c.api("operator").post(f"/api/v1/stations/{printer}/track-out", data='{"sn": "' + sn2,
                                                 content_type="application/json"),
                  422, "VALIDATION_ERROR", actor="operator", run_no=run_no)
        c.refused(lambda: c.api("operator").post(f"/api/v1/stations/{printer}/track-in", data="{not json",
                                                 content_type="application/json"),
                  422, "VALIDATION_ERROR", actor="operator", run_no=run_no)
    with c.step("an unknown run in the path: 404 RUN_NOT_FOUND", "planner"):
        missing = c.unique("WO-NOPE") + "-R01"
        c.refused(lambda: authorize(c, missing), 404, "RUN_NOT_FOUND", actor="planner", run_no=run_no)
        c.error(c.api("planner").get(f"/api/v1/runs/{missing}"), 404, "RUN_NOT_FOUND")

    # the refusals left the unit where it was: the same open track finishes with valid data
    with c.step(f"the same open track of {sn2} finishes with valid data", "operator"):
        out = c.data(track_out(c, printer, sn2, run_no, "PASS", SMT_DATA[10]))
        c.eq((out["result"], out["unit"]["status"], out["unit"]["currentStepNo"]), ("PASS", "QUEUED", 20), "TrackOut")
    expect_units(c, run_no, {sn1: ("DONE", 50), sn2: ("QUEUED", 20), sn3: ("QUEUED", 10)}, "where the gates left them")
    return {"runNo": run_no, "sns": [sn1, sn2, sn3]}


# -- S10 ----------------------------------------------------------------------------------------------

def s10_integration_idempotency(c: Context) -> dict[str, Any]:
    """The same work order, routing, stencil/paste/equipment event and AOI result sent twice: one record
    each, the second answer `duplicate: true` with the stored answer; an extra unknown key is accepted
    and kept in the logged message."""
    def twice(what: str, path: str, body: dict[str, Any], key: str) -> tuple[dict, dict]:
        with c.step(f"{what} sent twice: one record, the second answer duplicate", "integration"):
            first = c.data(c.api("integration").post(path, json=body))
            second = c.data(c.api("integration").post(path, json=body))
            c.eq((first["duplicate"], second["duplicate"]), (False, True), "duplicate flags")
            c.eq({k: v for k, v in second.items() if k != "duplicate"},
                 {k: v for k, v in first.items() if k != "duplicate"}, "the stored answer")
            c.eq(second[key], first[key], f"{key} of the one record")
            return first, second

    wo_no = c.unique("WO-S10")
    extra = {"erpPlant": "PL-01", "erpComment": f"acceptance {wo_no}"}
    twice(f"work order {wo_no} (with unknown ERP keys)", "/api/v1/integration/work-orders",
          {"woNo": wo_no, "productCode": "P-1001", "plannedQty": 2, **extra}, "woNo")
    with c.step(f"{wo_no} exists once, RECEIVED", "planner"):
        work_order = c.data(c.api("planner").get(f"/api/v1/work-orders/{wo_no}"))
        c.eq((work_order["woNo"], work_order["status"], work_order["plannedQty"]), (wo_no, "RECEIVED", 2),
             "work order")
    with c.step("the logged message keeps the unknown keys", "leader"):
        messages = c.data(c.api("leader").get("/api/v1/integration/messages?system=ERP&pageSize=100"))
        mine = [m for m in messages if m["businessKey"] == wo_no]
        c.eq(len(mine), 2, f"logged messages of {wo_no}")
        first_message = next(m for m in mine if m["duplicateOf"] is None)
        c.eq({k: first_message["payload"].get(k) for k in extra}, extra, "unknown keys in the logged payload")
        c.eq([m["duplicateOf"] for m in mine if m["duplicateOf"] is not None], [first_message["id"]],
             "the second message points at the first")

    routing_code = c.unique("RT-S10")  # no product: it never becomes a product's routing
    twice(f"ERP routing {routing_code}", "/api/v1/integration/routings", {
        "code": routing_code, "name": "Acceptance S10 routing", "processType": "SMT",
        "steps": [{"stepNo": 10, "operationCode": "PRINTING", "stationGroupCode": "SMT-A-PRINT"},
                  {"stepNo": 20, "operationCode": "SPI", "stationGroupCode": "SMT-A-SPI"}]}, "code")
    with c.step(f"routing {routing_code} exists once, from ERP", "engineer"):
        routing = c.data(c.api("engineer").get(f"/api/v1/routings/{routing_code}"))
        c.eq((routing["code"], routing["sourceSystem"], routing["readOnlySteps"],
              [s["stepNo"] for s in routing["steps"]]), (routing_code, "ERP", True, [10, 20]), "routing")

    stamp = now()
    twice("stencil status event", "/api/v1/integration/stencil-status", {
        "eventId": c.unique("S10-STN"), "eventTime": stamp, "stencilId": "STN-1001-A", "status": "READY",
        "tensionNcm2": 38}, "stencilId")
    twice("solder paste status event", "/api/v1/integration/solder-paste-status", {
        "eventId": c.unique("S10-SP"), "eventTime": stamp, "lotNo": "SP-LOT-0001", "status": "COMPLIANT",
        "expiresAt": (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()}, "lotNo")
    twice("equipment status event", "/api/v1/integration/equipment-status", {
        "eventId": c.unique("S10-EQ"), "eventTime": stamp, "equipmentCode": "EQ-AOI-01", "status": "NORMAL"},
        "equipmentCode")

    # an AOI result for a unit at AOI: a run built up to AOI
    _, run_no, (trial, sn) = smt_prep_run(c, "S10", 2)
    load_table(c, run_no)
    load_right_reels(c, run_no)
    formal_check(c, run_no, "PASSED")
    fai_with_trial(c, run_no, trial)
    authorized(c, run_no)
    build(c, run_no, sn, [10, 20, 30, 40])
    with c.step(f"TrackIn {sn} at AOI", "operator"):
        c.data(track_in(c, SMT_STATIONS[50], sn, run_no))
    event_id = c.unique("S10-AOI")
    twice(f"AOI PASS result for {sn}", "/api/v1/integration/inspection-results", {
        "eventId": event_id, "eventTime": now(), "type": "AOI", "sn": sn,
        "stationCode": SMT_STATIONS[50], "result": "PASS", "programName": "P1001-TOP-v3"}, "sn")
    with c.step(f"{sn} has one AOI result", "quality"):
        c.eq([(r["eventId"], r["type"], r["stepNo"], r["result"]) for r in trace(c, sn)["inspectionResults"]],
             [(event_id, "AOI", 50, "PASS")], "AOI results of the unit")
    with c.step(f"TrackOut PASS {sn} at AOI: DONE", "operator"):
        out = c.data(track_out(c, SMT_STATIONS[50], sn, run_no, "PASS"))
        c.eq((out["result"], out["unit"]["status"]), ("PASS", "DONE"), "TrackOut")
    return {"woNo": wo_no, "routingCode": routing_code, "runNo": run_no, "sns": [trial, sn]}


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("S1", "SMT happy path", "smt", s1_smt_happy_path),
    Scenario("S2", "OQC fail → MRB release", "smt", s2_oqc_fail_mrb_release),
    Scenario("S3", "OQC fail → MRB scrap", "smt", s3_oqc_fail_mrb_scrap),
    Scenario("S4", "OQC fail → MRB rework (FULL_PREP, FAI waived)", "smt", s4_oqc_fail_mrb_rework),
    Scenario("S5", "Degraded mode and waiver", "smt", s5_degraded_mode_and_waiver),
    Scenario("S6", "Slot lock and reel change", "smt", s6_slot_lock_and_reel_change),
    Scenario("S7", "Defect loop", "smt", s7_defect_loop),
    Scenario("S8", "DIP happy path", "dip", s8_dip_happy_path),
    Scenario("S9", "Gates and bad input", "smt", s9_gates_and_bad_input),
    Scenario("S10", "Integration idempotency", "smt", s10_integration_idempotency),
)}
