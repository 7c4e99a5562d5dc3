"""Loader of the demo data set (`flask mes seed --demo`) and of the base seed (`flask mes seed`).

Idempotent: rows are looked up by business key and only missing ones are created, so a second run
changes nothing (and writes no audit event). Master data is created in one unit of work whose audit
event lists what was created; users go through the user service (password policy, one event each).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import (
    BomItem, DefectCode, Equipment, Line, Material, MaterialLot, Operation, Product, Station, StationGroup,
)
from app.security.sync import sync_roles
from app.services.platform import users as user_service
from app.services.platform.actor import SYSTEM
from app.services.platform.uow import unit_of_work

SEED_DIR = Path(__file__).resolve().parent
DEMO_PASSWORD = "Demo-Pass-2026"


@dataclass
class SeedReport:
    created: dict[str, list[str]] = field(default_factory=dict)
    admin_password: str | None = None
    integration_key: str | None = None

    def add(self, kind: str, key: str) -> None:
        self.created.setdefault(kind, []).append(key)

    @property
    def changed(self) -> bool:
        return bool(self.created)


def load_yaml(name: str = "demo.yaml") -> dict[str, Any]:
    with open(SEED_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _by_code(model, code: str):
    return db.session.execute(select(model).where(model.code == code)).scalar_one_or_none()


def seed_base(report: SeedReport | None = None) -> SeedReport:
    """What every install needs: roles and permissions (sync-roles), the admin account, the
    `integration` machine account (API key only: it gets a random password nobody knows; its key
    comes from MES_INTEGRATION_API_KEY or `flask mes create-api-key integration`) and the defect
    codes the system records itself (SPEC_OUT_OF_LIMIT)."""
    report = report or SeedReport()
    sync_roles()
    if user_service.find_user("integration") is None:
        user_service.create_user(actor=SYSTEM, spec=user_service.UserSpec(
            username="integration", password=user_service.generate_password(), roles=["Integration"],
            first_name="Integration", last_name="Account"))
        report.add("users", "integration")
    key = current_app.config.get("MES_INTEGRATION_API_KEY")
    if key:
        result = user_service.create_api_key(actor=SYSTEM, username="integration", name="integration",
                                             raw_key=key)
        if result["created"]:
            report.add("api_keys", "integration")
    _seed_system_defect_codes(report)
    if user_service.find_user("admin") is None:
        password = current_app.config.get("MES_ADMIN_PASSWORD") or user_service.generate_password()
        user_service.create_user(actor=SYSTEM, spec=user_service.UserSpec(
            username="admin", password=password, roles=["Admin"], first_name="Admin", last_name="LineMES"))
        report.add("users", "admin")
        if not current_app.config.get("MES_ADMIN_PASSWORD"):
            report.admin_password = password
            if current_app.config.get("MES_ENV") == "dev":
                # dev/demo only: `make run` can show the generated password again
                path = Path(current_app.instance_path) / "admin_password.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(password + "\n")
                os.chmod(path, 0o600)
    return report


def _seed_dev_integration_key(report: SeedReport) -> None:
    """Development demo only (`make run`), without MES_INTEGRATION_API_KEY: an API key for the
    integration account, kept in `instance/integration_api_key.txt` (0600) where `flask mes acceptance
    --base-url …` on the same machine finds it. Idempotent: the kept key is reused."""
    if current_app.config.get("MES_ENV") != "dev" or current_app.config.get("MES_INTEGRATION_API_KEY"):
        return
    path = Path(current_app.instance_path) / "integration_api_key.txt"
    kept = path.read_text().strip() if path.exists() else ""
    key = kept or "sst_" + secrets.token_urlsafe(32)
    if not kept:  # created readable by the owner only from the first byte (an empty file: written again)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(key + "\n")
    if user_service.create_api_key(actor=SYSTEM, username="integration", name="integration-dev",
                                   raw_key=key)["created"]:
        report.add("api_keys", "integration (instance/integration_api_key.txt)")


def seed_demo(report: SeedReport | None = None, *, oqc_rules: bool = True, msd_reels: bool = True,
              paste_thawing: bool = True) -> SeedReport:
    """The master data and users of the demo data set (04_acceptance §1). `oqc_rules=False` leaves out
    the OQC sampling rules (the test suite's template: a test's run completes at closeout unless the
    test adds a rule); `msd_reels=False` leaves the demo's moisture-sensitive reels sealed (the test
    suite's template; the demo history seeds them after playing the past: seed_msd_reels);
    `paste_thawing=False` seeds the paste jar thawed long ago instead of thawing (the test suite's
    template: a readiness check does not wait for the demo's jar)."""
    report = seed_base(report)
    _seed_dev_integration_key(report)
    data = load_yaml()
    _seed_master_data(data, report)
    _seed_data_specs(data, report)
    _seed_routings(data, report)
    _seed_work_orders(data, report)
    _seed_feeder_slots(data, report)
    _seed_consumables(data, report, paste_thawing=paste_thawing)
    if oqc_rules:
        _seed_oqc_rules(data, report)
    if msd_reels:
        seed_msd_reels(report, data)
    for spec in data["users"]:
        if user_service.find_user(spec["username"]) is not None:
            continue
        user_service.create_user(actor=SYSTEM, spec=user_service.UserSpec(
            username=spec["username"], password=DEMO_PASSWORD, roles=spec["roles"],
            first_name=spec.get("first_name", ""), last_name=spec.get("last_name", ""),
            lines=spec.get("lines", ()), stations=spec.get("stations", ())))
        report.add("users", spec["username"])
    return report


def _seed_data_specs(data: dict[str, Any], report: SeedReport) -> None:
    from app.models import DataCollectionSpec, Operation
    from app.services.engineering import data_specs
    for row in data.get("data_specs", []):
        exists = db.session.execute(select(DataCollectionSpec.id).join(Operation).where(
            Operation.code == row["operation"], DataCollectionSpec.name == row["name"])).first()
        if exists:
            continue
        fields = {k: v for k, v in row.items() if k != "operation"}
        data_specs.create_spec(actor=SYSTEM, operation_code=row["operation"], fields=fields)
        report.add("data_specs", f"{row['operation']}/{row['name']}")


def _seed_routings(data: dict[str, Any], report: SeedReport) -> None:
    """The demo routings with step-scope spec bindings, compiled (READY)."""
    from app.models import Routing
    from app.services.engineering import routing as routing_service
    for row in data.get("routings", []):
        if db.session.execute(select(Routing.id).where(Routing.code == row["code"])).first():
            continue
        steps = [routing_service.StepInput(step_no=s["step_no"], operation_code=s["operation"],
                                           station_group_code=s["group"], station_type="MANUAL",
                                           requires_fai=s.get("requires_fai", False)) for s in row["steps"]]
        configs = [routing_service.ConfigInput(scope="STEP", step_no=s["step_no"], data_specs=s["specs"])
                   for s in row["steps"] if s.get("specs")]
        routing_service.create_routing(actor=SYSTEM, data=routing_service.RoutingInput(
            code=row["code"], name=row["name"], product_code=row["product"], process_type=row["process_type"],
            steps=steps, execution_config=configs))
        result = routing_service.compile_routing(actor=SYSTEM, routing_code=row["code"])
        if result.version.status != "READY":
            raise RuntimeError(f"demo routing {row['code']} did not compile READY: {result.version.errors}")
        report.add("routings", f"{row['code']} v{result.version.version_no}")


def _seed_work_orders(data: dict[str, Any], report: SeedReport) -> None:
    from app.models import WorkOrder
    from app.services.production import work_orders
    for row in data.get("work_orders", []):
        if db.session.execute(select(WorkOrder.id).where(WorkOrder.wo_no == row["wo_no"])).first():
            continue
        work_orders.receive_work_order(actor=SYSTEM, payload={
            "woNo": row["wo_no"], "productCode": row["product"], "plannedQty": row["planned_qty"],
            "sourceSystem": "MANUAL"})
        if row.get("release_to"):
            work_orders.release(actor=SYSTEM, wo_no=row["wo_no"], line_code=row["release_to"])
        report.add("work_orders", row["wo_no"])


def _seed_oqc_rules(data: dict[str, Any], report: SeedReport) -> None:
    """One rule per product scope, through the OQC service (validated and audited like a console entry)."""
    from app.models import OqcSamplingRule
    from app.services.engineering import oqc_rules
    for row in data.get("oqc_rules", []):
        product = _by_code(Product, row["product"])
        if db.session.execute(select(OqcSamplingRule.id).where(OqcSamplingRule.product_id == product.id,
                                                               OqcSamplingRule.line_id.is_(None),
                                                               OqcSamplingRule.routing_id.is_(None))).first():
            continue
        oqc_rules.create_rule(actor=SYSTEM, fields={"productCode": row["product"], "samplingType": row["sampling_type"],
                                              "sampleValue": row["sample_value"]})
        report.add("oqc_rules", row["product"])


def _seed_feeder_slots(data: dict[str, Any], report: SeedReport) -> None:
    from app.models import FeederSlot, Routing, SlotMaterialMapping
    rows = data.get("feeder_slots", [])
    scope = data.get("slot_table_scope") or {}
    missing = []
    for row in rows:
        line = _by_code(Line, row["line"])
        if not db.session.execute(select(FeederSlot.id).where(FeederSlot.line_id == line.id,
                                                              FeederSlot.slot_code == row["slot_code"])).first():
            missing.append(row)
    if not missing:
        return
    with unit_of_work(SYSTEM, "SEED_FEEDER_SLOTS", "SEED", "demo") as uow:
        product = _by_code(Product, scope["product"]) if scope.get("product") else None
        routing = _by_code(Routing, scope["routing"]) if scope.get("routing") else None
        for row in missing:
            slot = FeederSlot(line=_by_code(Line, row["line"]), station=_by_code(Station, row["station"]),
                              slot_code=row["slot_code"], position=row.get("position"),
                              name=f"Feeder {row['slot_code']}")
            for m in row["materials"]:
                slot.mappings.append(SlotMaterialMapping(material=_by_code(Material, m["material"]), product=product,
                                                         routing=routing, priority=m.get("priority", 1),
                                                         is_alternate=m.get("alternate", False)))
            uow.session.add(slot)
            report.add("feeder_slots", f"{row['line']}/{row['slot_code']}")
        uow.payload = {"slots": [r["slot_code"] for r in missing]}


PASTE_THAWED_LONG_AGO = timedelta(hours=49)  # beyond the longest thaw time master data accepts (48 h)


def start_demo_paste_thaw(*, thawing: bool = True, line_code: str | None = None) -> None:
    """The demo's paste jar out of the refrigerator (THAW_START, as recorded at the line): the demo data's
    minutes ago (thawing: the readiness shows the time left), or long enough ago to be thawed. After the
    demo history played its own jars, the command calls it again so the demo starts with a thawing jar."""
    from app.services.platform.clock import now as clock_now
    from app.services.preparation import paste
    for row in load_yaml().get("consumables", []):
        if line_code and row["line"] != line_code or not row.get("paste_thaw_started_minutes_ago"):
            continue
        ago = timedelta(minutes=row["paste_thaw_started_minutes_ago"]) if thawing else PASTE_THAWED_LONG_AGO
        paste.record_time(actor=SYSTEM, line_code=row["line"], lot_no=row["paste"], kind="THAW_START",
                          at=clock_now() - ago)


def _seed_consumables(data: dict[str, Any], report: SeedReport, *, paste_thawing: bool = True) -> None:
    from app.services.platform.clock import now as clock_now
    from app.services.preparation import consumables
    for row in data.get("consumables", []):
        line = _by_code(Line, row["line"])
        current = consumables.current_bindings(line.id)
        if current["stencil"] is None:
            consumables.bind_stencil(actor=SYSTEM, line_code=row["line"], stencil_id=row["stencil"])
            now = clock_now()  # the services' clock: simulated when the demo history seeds the past
            consumables.receive_stencil_status(actor=SYSTEM, payload={
                "eventId": f"SEED-STENCIL-{row['stencil']}", "eventTime": now.isoformat(),
                "stencilId": row["stencil"], "status": row["stencil_status"]})
            report.add("stencils", row["stencil"])
        if current["solderPaste"] is None:
            consumables.bind_solder_paste(actor=SYSTEM, line_code=row["line"], lot_no=row["paste"])
            now = clock_now()
            consumables.receive_solder_paste_status(actor=SYSTEM, payload={
                "eventId": f"SEED-PASTE-{row['paste']}", "eventTime": now.isoformat(), "lotNo": row["paste"],
                "status": row["paste_status"],
                "expiresAt": (now + timedelta(days=row.get("paste_expires_days", 30))).isoformat()})
            start_demo_paste_thaw(thawing=paste_thawing, line_code=row["line"])
            report.add("solder_paste", row["paste"])


def seed_msd_reels(report: SeedReport | None = None, data: dict[str, Any] | None = None) -> SeedReport:
    """The demo's opened moisture-sensitive reels (issue 18): a lot with `msd_opened_hours_ago` gets its
    OPENED event that many hours before now (the services' clock), through the msd service like one
    recorded at the line, so right after seeding its floor life is close to its end. Only for a lot that
    has no event yet (idempotent)."""
    from datetime import timedelta

    from app.models import MsdEvent
    from app.services.platform.clock import now as clock_now
    from app.services.preparation import msd
    report = report or SeedReport()
    data = data or load_yaml()
    for row in data["lots"]:
        if row.get("msd_opened_hours_ago") is None:
            continue
        lot = db.session.execute(select(MaterialLot).join(Material, Material.id == MaterialLot.material_id)
                                 .where(Material.code == row["material"], MaterialLot.lot_no == row["lot_no"])).scalar_one()
        if db.session.execute(select(MsdEvent.id).where(MsdEvent.lot_id == lot.id).limit(1)).first() is None:
            msd.record_event(actor=SYSTEM, material_code=row["material"], lot_no=row["lot_no"], kind="OPENED",
                             at=clock_now() - timedelta(hours=float(row["msd_opened_hours_ago"])))
            report.add("msd_reels", f"{row['material']}|{row['lot_no']} opened")
    return report


def _seed_system_defect_codes(report: SeedReport) -> None:
    from app.services.engineering.master_data import SYSTEM_DEFECT_CODES, SYSTEM_DEFECT_NAMES
    missing = [c for c in SYSTEM_DEFECT_CODES if _by_code(DefectCode, c) is None]
    if not missing:
        return
    with unit_of_work(SYSTEM, "SEED_SYSTEM_DEFECT_CODES", "SEED", "base") as uow:
        for code in missing:
            uow.session.add(DefectCode(code=code, name=SYSTEM_DEFECT_NAMES[code], category="test"))
            report.add("defect_codes", code)


def _seed_master_data(data: dict[str, Any], report: SeedReport) -> None:
    created_before = sum(len(v) for v in report.created.values())
    with unit_of_work(SYSTEM, "SEED_DEMO_MASTER_DATA", "SEED", "demo") as uow:
        session = uow.session
        materials: dict[str, Material] = {}
        for row in data["materials"]:
            material = _by_code(Material, row["code"])
            if material is None:
                material = Material(**row)
                session.add(material)
                report.add("materials", row["code"])
            materials[row["code"]] = material
        for row in data["products"]:
            product = _by_code(Product, row["code"])
            if product is None:
                product = Product(code=row["code"], name=row["name"], process_type=row["process_type"])
                session.add(product)
                report.add("products", row["code"])
            session.flush()
            for material_code, qty in row["bom"]:
                material = materials[material_code]
                exists = session.execute(select(BomItem.id).where(
                    BomItem.product_id == product.id, BomItem.material_id == material.id)).first()
                if exists is None:
                    session.add(BomItem(product=product, material=material, qty_per=float(qty)))
                    report.add("bom_items", f"{row['code']}/{material_code}")
        session.flush()
        for row in data["lots"]:
            material = materials[row["material"]]
            exists = session.execute(select(MaterialLot.id).where(
                MaterialLot.material_id == material.id, MaterialLot.lot_no == row["lot_no"])).first()
            if exists is None:
                session.add(MaterialLot(material=material, lot_no=row["lot_no"], supplier=row.get("supplier"),
                                        iqc_result=row["iqc_result"], qty=row.get("qty")))
                report.add("lots", f"{row['material']}|{row['lot_no']}")
        for row in data["operations"]:
            if _by_code(Operation, row["code"]) is None:
                session.add(Operation(**row))
                report.add("operations", row["code"])
        for row in data["lines"]:
            line = _by_code(Line, row["code"])
            if line is None:
                line = Line(code=row["code"], name=row["name"], process_type=row["process_type"],
                            readiness_checks_enabled=list(row["readiness"]),
                            target_per_hour=row.get("target_per_hour"))
                session.add(line)
                report.add("lines", row["code"])
            for st in row["stations"]:
                group = _by_code(StationGroup, st["group"])
                if group is None:
                    group = StationGroup(code=st["group"], name=f"{st['group']} station group")
                    session.add(group)
                    report.add("station_groups", st["group"])
                station = _by_code(Station, st["code"])
                if station is None:
                    station = Station(code=st["code"], name=st["name"], line=line, group=group,
                                      station_type="MANUAL")
                    session.add(station)
                    report.add("stations", st["code"])
                eq_code = "EQ-" + st["code"].removeprefix("ST-")
                if _by_code(Equipment, eq_code) is None:
                    # NORMAL as if TPM had reported it (like the stencil and paste statuses), so a fresh
                    # demo's readiness evidence shows MANUAL only where someone entered data by hand
                    session.add(Equipment(code=eq_code, name=f"{st['name']} equipment", station=station,
                                          status="NORMAL", source="AUTO"))
                    report.add("equipment", eq_code)
        for row in data["defect_codes"]:
            if _by_code(DefectCode, row["code"]) is None:
                session.add(DefectCode(**row))
                report.add("defect_codes", row["code"])
        uow.payload = {"created": {k: len(v) for k, v in report.created.items() if k != "users"}}
        if sum(len(v) for v in report.created.values()) == created_before:
            uow.nothing_changed()  # a re-run leaves no trace (the seed is idempotent)


__all__ = ["seed_base", "seed_demo", "SeedReport", "DEMO_PASSWORD"]
