"""sop/demo-talk-track.md names only what exists: every menu path is a menu entry, every work order, lot,
line, station, slot, stencil, paste, user, defect and error code is in the demo data (or the catalogue),
and the run and SNs it names are the ones its planner steps create from WO-DEMO-1001 (played here
through the API exactly as the script does them). The Help library lists it."""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import DefectCode, Line, MaterialLot, MesUser, Station, WorkOrder
from app.models.readiness import FeederSlot
from app.security.permissions import MENU
from app.services.platform.errors import CATALOGUE
from support import ok_data

TEXT = (Path(__file__).resolve().parents[2] / "sop" / "demo-talk-track.md").read_text(encoding="utf-8")
# codes the screens show that are verdicts or failure reasons, not refusals of the catalogue
SCREEN_CODES = {"MATERIAL_MISMATCH", "MATERIAL_LOT_REJECTED", "SLOT_TABLE_NOT_LOADED", "STENCIL_NOT_READY",
                "SOLDER_PASTE_EXPIRED"}


def names(pattern: str) -> set[str]:
    return set(re.findall(pattern, TEXT))


def test_every_screen_it_names_is_a_menu_entry():
    entries: dict[str, list[str]] = {}
    for m in MENU:
        entries.setdefault(m.category, []).append(m.name)
    paths = set()
    for match in re.finditer(r"\b(Production|Quality|Engineering|Integration|Reports|Audit|Help) → ", TEXT):
        rest = TEXT[match.end():]
        entry = next((name for name in sorted(entries[match.group(1)], key=len, reverse=True)
                      if rest.startswith(name)), None)
        assert entry is not None, f"{match.group(0)}{rest[:30]}… is not a menu entry"
        paths.add(f"{match.group(1)} → {entry}")
    assert {"Production → Loading Terminal", "Production → Station Terminal", "Reports → Lot Recall",
            "Quality → Defects & Disposition", "Integration → Manual Entry", "Audit → Audit Log"} <= paths


def test_every_record_it_names_exists_after_the_demo_seed_and_its_planner_steps(api, app_ctx):
    # the script's part 1: release WO-DEMO-1001 to LINE-SMT-A, a run of 3, three SNs
    ok_data(api("planner").post("/api/v1/work-orders/WO-DEMO-1001/release", json={"lineCode": "LINE-SMT-A"}))
    run = api("planner").post("/api/v1/work-orders/WO-DEMO-1001/runs", json={"lineCode": "LINE-SMT-A", "planQty": 3})
    assert run.status_code == 201 and run.get_json()["data"]["runNo"] == "WO-DEMO-1001-R01"
    created = ok_data(api("planner").post("/api/v1/runs/WO-DEMO-1001-R01/units", json={"quantity": 3}))
    sns = {u["sn"] for u in created}

    assert names(r"\bWO-DEMO-\d{4}-R\d\d-\d{4}\b") == sns
    assert names(r"\bWO-DEMO-\d{4}-R\d\d\b") == {"WO-DEMO-1001-R01"}
    assert names(r"\bWO-DEMO-\d{4}\b") <= set(db.session.execute(select(WorkOrder.wo_no)).scalars())
    assert "WO-H-" not in TEXT  # the history's numbers carry dates: the script never names one
    lots = {tuple(x.split("|")) for x in names(r"\bMAT-[A-Z0-9-]+\|LOT-[A-Z0-9-]+\b")}
    existing = {(m.material.code, m.lot_no) for m in db.session.execute(select(MaterialLot)).scalars()}
    assert ("MAT-MCU", "LOT-M-BAD") in lots and lots <= existing, lots - existing  # LOT-R-002: a demo lot too
    assert names(r"\bLINE-[A-Z]+-[A-Z]\b") <= set(db.session.execute(select(Line.code)).scalars())
    assert names(r"\bST-[A-Z-]+-\d\d\b") <= set(db.session.execute(select(Station.code)).scalars())
    slots = set(db.session.execute(select(FeederSlot.slot_code)).scalars())
    assert names(r"`(\d-\d\d)`") <= slots
    users = set(db.session.execute(select(MesUser.username)).scalars())
    login_table = names(r"(?m)^\| `([a-z0-9]+)` \|")  # the logins table's first column
    assert len(login_table) >= 6 and login_table <= users, login_table - users
    codes = names(r"\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+\b")
    defect_codes = set(db.session.execute(select(DefectCode.code)).scalars())
    readiness = {"SOLDER_PASTE", "RT-P1001-SMT"}
    states_and_actions = {"SLOT_UNLOCK", "READINESS_WAIVE", "FAI_TRIAL", "IN_PROGRESS", "ON_HOLD", "CLOSED_REWORK",
                          "OUT_FAILED", "REUSE_PREP", "FULL_PREP"}
    unknown = {c for c in codes if c not in CATALOGUE and c not in defect_codes and c not in SCREEN_CODES
               and c not in readiness and c not in states_and_actions and not c.startswith("MES_")}
    assert not unknown, unknown
    from app.models.readiness import LineSolderPaste, LineStencil
    bound = set(db.session.execute(select(LineStencil.stencil_id)).scalars()) | set(
        db.session.execute(select(LineSolderPaste.lot_no)).scalars())
    named = names(r"\bSTN-[A-Z0-9-]+\b") | names(r"\bSP-LOT-\d+\b")
    assert named and named <= bound, named - bound


def test_the_help_library_lists_it(client):
    from support import console_login
    console_login(client, "manager")
    page = client.get("/help/")
    assert page.status_code == 200 and "demo-talk-track" in page.get_data(as_text=True)
    doc = client.get("/help/demo-talk-track")
    assert doc.status_code == 200 and "WO-DEMO-1001-R01-0003" in doc.get_data(as_text=True)
