"""The pure rules of the services, without a database: a data value's type check and judge, the
result a TrackOut records, the failure step of a disposition, the OQC sample size and rule choice."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.services.engineering.oqc_rules import pick_rule, sample_size
from app.services.engineering.route_plans import SpecPlan, StepPlan
from app.services.platform.errors import DomainError
from app.services.production.execution import CheckedValue, check_value, checked_values, judge, verdict
from app.services.production.extension_points import Force
from app.services.quality.defects import failure_step


def spec(name="v", data_type="NUMBER", *, id=1, lsl=None, usl=None, limit_action=None, required=False,
         enum_options=None) -> SpecPlan:
    return SpecPlan(id=id, name=name, data_type=data_type, enum_options=enum_options, uom=None, lsl=lsl,
                    target=None, usl=usl, limit_action=limit_action, required=required, item_type="KEY",
                    method="MANUAL")


def step(*specs: SpecPlan) -> StepPlan:
    return StepPlan(step_no=20, operation_code="SPI", operation_name="SPI", consumes_material=False,
                    is_key_quality=True, station_type="AUTO", station_group_code="G", allowed_station_codes=None,
                    requires_fai=False, is_last=False, specs=specs, specs_by_name={s.name: s for s in specs},
                    specs_by_id={s.id: s for s in specs})


def refusal(call) -> tuple[str, dict]:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code, caught.value.details


# -- a data value: its type and its judge (02_rules §4 TrackOut step 3) ----------------------------------

@pytest.mark.parametrize("data_type,value,columns", [
    ("NUMBER", 1.5, {"value_number": 1.5}),
    ("NUMBER", 3, {"value_number": 3.0}),
    ("NUMBER", " 2,5 ", {"value_number": 2.5}),     # a decimal comma from a scale
    ("TEXT", "  ok  ", {"value_text": "ok"}),
    ("BOOLEAN", False, {"value_bool": False}),
    ("ENUM", "B", {"value_text": "B"}),
    ("JSON", {"x": [1, 2]}, {"value_json": {"x": [1, 2]}}),
    ("JSON", [1], {"value_json": [1]}),
])
def test_check_value_gives_the_typed_column(data_type, value, columns):
    assert check_value(spec(data_type=data_type, enum_options=("A", "B")), value) == columns


@pytest.mark.parametrize("data_type,value,expected", [
    ("NUMBER", "PB2001-0002", "a number"), ("NUMBER", True, "a number"), ("NUMBER", float("nan"), "a number"),
    ("NUMBER", "inf", "a number"), ("NUMBER", [1], "a number"),
    ("TEXT", "   ", "a text"), ("TEXT", 5, "a text"),
    ("BOOLEAN", "true", "true or false"), ("BOOLEAN", 1, "true or false"),
    ("ENUM", "C", "one of A, B"), ("ENUM", 1, "one of A, B"),
    ("JSON", "text", "a JSON object or list"),
])
def test_check_value_refuses_the_wrong_type_naming_the_spec(data_type, value, expected):
    code, details = refusal(lambda: check_value(spec("thickness", data_type, enum_options=("A", "B")), value))
    assert (code, details) == ("DATA_VALUE_INVALID", {"spec": "thickness", "expected": expected})


@pytest.mark.parametrize("lsl,usl,value,expected", [
    (1.0, 2.0, 1.0, "PASS"), (1.0, 2.0, 2.0, "PASS"),   # the limits themselves pass
    (1.0, 2.0, 0.99, "FAIL"), (1.0, 2.0, 2.01, "FAIL"),
    (None, 2.0, -100, "PASS"), (1.0, None, 100, "PASS"), (1.0, None, 0.5, "FAIL"),
    (None, None, 5, "NA"),                               # no limits: nothing to judge
])
def test_judge_numbers_against_their_limits(lsl, usl, value, expected):
    number = spec(lsl=lsl, usl=usl)
    assert judge(number, check_value(number, value)) == expected


def test_judge_other_types_is_na():
    assert judge(spec(data_type="TEXT", lsl=1, usl=2), {"value_text": "x"}) == "NA"


def test_checked_values_know_the_steps_specs_once_each():
    thickness, note = spec("thickness", id=1, lsl=0.1, usl=0.2), spec("note", "TEXT", id=2)
    s = step(thickness, note)
    values = checked_values(s, [{"spec": " thickness ", "value": 0.15}, {"spec": 2, "value": "fine"}])
    assert [(v.spec.name, v.judge) for v in values] == [("thickness", "PASS"), ("note", "NA")]
    assert checked_values(s, [{"spec": "thickness", "value": None}]) == []  # no value: skipped
    assert refusal(lambda: checked_values(s, [{"spec": "height", "value": 1}]))[0] == "DATA_SPEC_NOT_FOUND"
    assert refusal(lambda: checked_values(s, [{"spec": "1", "value": 1}, {"spec": "thickness", "value": 2}]))[0] \
        == "VALIDATION_ERROR"  # the same spec twice (by id, then by name)
    assert refusal(lambda: checked_values(s, [{"value": 1}]))[0] == "VALIDATION_ERROR"


# -- the result a TrackOut records (02_rules §4 TrackOut steps 2–4) -----------------------------------

def values_of(s: StepPlan, **given) -> list[CheckedValue]:
    return checked_values(s, [{"spec": k, "value": v} for k, v in given.items()])


def test_verdict_pass_needs_every_required_spec():
    s = step(spec("a", id=1, required=True), spec("b", id=2, required=True), spec("c", id=3))
    code, details = refusal(lambda: verdict(s, "PASS", None, values_of(s, a=1), None))
    assert (code, details) == ("REQUIRED_DATA_MISSING", {"specs": ["b"]})
    assert verdict(s, "PASS", None, values_of(s, a=1, b=2), None).result == "PASS"


def test_verdict_a_fail_limit_forces_fail_with_spec_out_of_limit():
    s = step(spec("v", lsl=1, usl=2, limit_action="FAIL"))
    outcome = verdict(s, "PASS", None, values_of(s, v=3), None)
    assert (outcome.result, outcome.forced_by) == ("FAIL", "SPEC_LIMIT")
    assert outcome.defects == [{"code": "SPEC_OUT_OF_LIMIT", "description": "Out of limit: v=3"}]
    # the operator's own defect wins over the generated one
    own = verdict(s, "PASS", None, values_of(s, v=3), {"code": "TOMBSTONE", "location": "R12"})
    assert own.defects[0]["code"] == "TOMBSTONE" and own.operator_defect


def test_verdict_a_warn_limit_only_alarms():
    s = step(spec("v", lsl=1, usl=2, limit_action="WARN"))
    values = values_of(s, v=3)
    assert verdict(s, "PASS", None, values, None).result == "PASS" and values[0].judge == "FAIL"


def test_verdict_an_operators_fail_needs_a_defect_code():
    s = step()
    assert refusal(lambda: verdict(s, "FAIL", None, [], None))[0] == "DEFECT_CODE_REQUIRED"
    assert refusal(lambda: verdict(s, "FAIL", None, [], {"code": ""}))[0] == "DEFECT_CODE_REQUIRED"
    outcome = verdict(s, "FAIL", None, [], {"code": "WRONG_PART"})
    assert (outcome.result, outcome.forced_by, outcome.operator_defect) == ("FAIL", None, True)


def test_verdict_a_forced_fail_brings_its_defects_and_needs_no_data():
    s = step(spec("a", required=True))
    aoi = Force(by="AOI", defects=[{"code": "SOLDER_BRIDGE", "source": "AUTO"}])
    outcome = verdict(s, "PASS", aoi, [], None)
    assert (outcome.result, outcome.forced_by, outcome.defects, outcome.operator_defect) == (
        "FAIL", "AOI", [{"code": "SOLDER_BRIDGE", "source": "AUTO"}], False)


# -- the failure step of a disposition (02_rules §8) ---------------------------------------------------

def test_failure_step_is_the_earliest_step_that_found_a_defect():
    unit = SimpleNamespace(current_step_no=50)
    assert failure_step(unit, [SimpleNamespace(step_no=40), SimpleNamespace(step_no=20)]) == 20
    assert failure_step(unit, [SimpleNamespace(step_no=None)]) == 50
    assert failure_step(unit, []) == 50


# -- OQC sample size and rule choice (02_rules §9) -----------------------------------------------------

@pytest.mark.parametrize("kind,value,n,expected", [
    ("PERCENTAGE", 10, 30, 3),      # exact: never 4 from 3.0000000000000004
    ("PERCENTAGE", 10, 31, 4),      # 3.1 rounds up
    ("PERCENTAGE", 10, 5, 1),       # 0.5 rounds up to 1
    ("PERCENTAGE", 1, 3, 1),        # clamped to at least 1
    ("PERCENTAGE", 100, 7, 7),
    ("PERCENTAGE", 12.5, 8, 1),
    ("PERCENTAGE", 12.5, 9, 2),
    ("PERCENTAGE", 0, 50, 0),       # 0 % = no OQC
    ("PERCENTAGE", 10, 0, 0),       # nothing DONE, nothing to inspect
    ("FIXED", 1, 5, 1),
    ("FIXED", 10, 3, 3),            # min(v, n)
    ("FIXED", 0, 5, 0),
    ("FIXED", 5, 0, 0),
])
def test_sample_size_arithmetic(kind, value, n, expected):
    assert sample_size(kind, value, n) == expected


def test_sample_size_of_an_unknown_type_is_an_error():
    with pytest.raises(ValueError):
        sample_size("AQL", 1, 10)


def test_pick_rule_most_specific_then_priority_then_newest():
    def rule(rid, product=None, line=None, routing=None, priority=0, created=0):
        return SimpleNamespace(id=rid, product_id=product, line_id=line, routing_id=routing, priority=priority,
                               created_at=datetime(2030, 1, 1, tzinfo=timezone.utc) + timedelta(days=created))
    generic = rule(1, priority=99)
    product = rule(2, product=7, priority=0)
    product_line = rule(3, product=7, line=1, priority=-5)
    assert pick_rule([generic, product, product_line]).id == 3
    assert pick_rule([generic, product]).id == 2                      # specific beats a higher priority
    assert pick_rule([rule(4, line=1, priority=1), rule(5, product=7, priority=2)]).id == 5  # then priority
    assert pick_rule([rule(6, product=7, created=1), rule(7, product=7, created=2)]).id == 7  # then newest
    assert pick_rule([]) is None
