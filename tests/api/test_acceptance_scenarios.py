"""The end-to-end scenarios S1–S10 of 04_acceptance §2, one test each: the very scenario definitions
the acceptance runner runs (app/acceptance/scenarios.py), here on the Flask test client as the roles
each scenario names, with the whole database added to the "a refusal changes nothing" check and a
few checks only the database can make.

The test template database is the demo data without its OQC sampling rules (tests/conftest.py), so
each test first creates the demo's rules through the API exactly as seed/demo.yaml lists them. The
runner itself (over real HTTP, against a gunicorn server and its own throw-away server, twice in a
row, and with a gate switched off) is tested in tests/ops/test_acceptance_runner.py."""
import pytest
from sqlalchemy import select

from app.acceptance.runner import preflight, run_scenario
from app.acceptance.scenarios import DEMO_OQC_RULES, SCENARIOS
from app.extensions import db
from app.models import (
    AuditEvent, DataValue, Defect, Inspection, InspectionItem, LoadingRecord, MaterialUse, MrbDecision,
    ReadinessCheck, ReadinessItem, Run, Track, Unit,
)
from support import count, ok_data


def state():
    """What a refused call must leave as it was, the whole database (inside an app context)."""
    def rows(stmt):
        return [tuple(r) for r in db.session.execute(stmt).all()]
    return {
        "runs": rows(select(Run.run_no, Run.status, Run.authorized_by).order_by(Run.id)),
        "units": rows(select(Unit.sn, Unit.status, Unit.current_step_no, Unit.run_id).order_by(Unit.id)),
        "tracks": count(Track), "open": count(Track, Track.out_at.is_(None)), "values": count(DataValue),
        "defects": rows(select(Defect.id, Defect.status).order_by(Defect.id)),
        "inspections": rows(select(Inspection.id, Inspection.status, Inspection.signed_by).order_by(Inspection.id)),
        "items": count(InspectionItem), "checks": count(ReadinessCheck),
        "readiness": rows(select(ReadinessItem.id, ReadinessItem.status).order_by(ReadinessItem.id)),
        "loading": rows(select(LoadingRecord.id, LoadingRecord.status).order_by(LoadingRecord.id)),
        "mrb": count(MrbDecision),
        "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN"),
    }


@pytest.fixture
def scenario(api, app):
    """`scenario("S1")`: the demo's OQC rules, the runner's preflight, then the scenario with the
    database probe; fails with the step that failed. Returns what the scenario built."""
    for rule in DEMO_OQC_RULES:
        ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json=rule))

    def probe():
        with app.app_context():
            return state()

    def run(name):
        checked = preflight(api)
        assert checked.ok, checked.failed_step
        result, built = run_scenario(api, SCENARIOS[name], probe=probe)
        failed = result.failed_step
        assert failed is None, f"{name} failed at '{failed.name}' [{failed.actor}] {failed.code}: {failed.message}"
        assert len(result.steps) > 10
        return built
    return run


def run_id(app, run_no):
    return db.session.execute(select(Run.id).filter_by(run_no=run_no)).scalar_one()


def test_s1_smt_happy_path(scenario, app):
    built = scenario("S1")
    with app.app_context():  # the trial tracks belong to the FAI
        trial = db.session.execute(select(Track.mode, Track.inspection_id).join(Unit, Unit.id == Track.unit_id)
                                   .where(Unit.sn == built["sns"][0])).all()
        assert {tuple(t) for t in trial} == {("FAI_TRIAL", built["faiId"])} and len(trial) == 5


def test_s2_oqc_fail_then_mrb_release_completes_the_run(scenario):
    scenario("S2")


def test_s3_oqc_fail_then_mrb_scrap_scraps_the_run_and_its_units(scenario):
    scenario("S3")


def test_s4_oqc_fail_then_mrb_rework_full_prep_with_fai_waiver(scenario, app):
    built = scenario("S4")
    with app.app_context():  # the rework run's tracks are all at AOI; it has no FAI
        rework = run_id(app, built["reworkRunNo"])
        assert set(db.session.execute(select(Track.step_no).where(Track.run_id == rework)).scalars()) == {50}
        assert count(Inspection, Inspection.run_id == rework, Inspection.type == "FAI") == 0


def test_s5_degraded_mode_and_waiver(scenario, app):
    built = scenario("S5")
    with app.app_context():  # the authorization used the waived check: no other FORMAL check was made
        assert count(ReadinessCheck, ReadinessCheck.run_id == run_id(app, built["runNo"]),
                     ReadinessCheck.kind == "FORMAL") == 1


def test_s6_slot_lock_and_reel_change(scenario, app):
    built = scenario("S6")
    with app.app_context():  # 4 boards × 3 slots, all at MOUNTING
        uses = select(MaterialUse).join(Unit, Unit.id == MaterialUse.unit_id).where(
            Unit.run_id == run_id(app, built["runNo"])).subquery()
        assert db.session.execute(select(uses.c.step_no)).scalars().all() == [30] * 12


def test_s7_defect_loop(scenario):
    scenario("S7")


def test_s8_dip_happy_path(scenario):
    scenario("S8")


def test_s9_gates_and_bad_input_change_nothing(scenario):
    scenario("S9")


def test_s10_integration_idempotency(scenario, app):
    built = scenario("S10")
    with app.app_context():
        from app.models import InspectionResult, Routing, WorkOrder
        assert count(WorkOrder, WorkOrder.wo_no == built["woNo"]) == 1
        assert count(Routing, Routing.code == built["routingCode"]) == 1
        assert count(InspectionResult, InspectionResult.unit_id == db.session.execute(
            select(Unit.id).filter_by(sn=built["sns"][1])).scalar_one()) == 1
