"""State machines (01_domain_model §7): only the table's moves are possible."""
import pytest

from app.services.platform.errors import DomainError
from app.services.platform.states import MACHINES, TERMINAL, can_transition, is_terminal, transition


@pytest.mark.parametrize("machine,current,event,expected", [
    ("WORK_ORDER", "RECEIVED", "RELEASE", "RELEASED"),
    ("WORK_ORDER", "RELEASED", "START", "IN_PROGRESS"),
    ("WORK_ORDER", "IN_PROGRESS", "CLOSE", "COMPLETED"),
    ("RUN", "PREP", "AUTHORIZE", "AUTHORIZED"),
    ("RUN", "AUTHORIZED", "REVOKE", "PREP"),
    ("RUN", "AUTHORIZED", "START", "IN_PROGRESS"),
    ("RUN", "IN_PROGRESS", "COMPLETE", "COMPLETED"),
    ("RUN", "IN_PROGRESS", "HOLD", "ON_HOLD"),
    ("RUN", "ON_HOLD", "MRB_RELEASE", "COMPLETED"),
    ("RUN", "ON_HOLD", "MRB_REWORK", "CLOSED_REWORK"),
    ("RUN", "ON_HOLD", "MRB_SCRAP", "SCRAPPED"),
    ("RUN", "PREP", "CANCEL", "CANCELLED"),
    ("UNIT", "QUEUED", "TRACK_IN", "IN_STATION"),
    ("UNIT", "IN_STATION", "PASS", "QUEUED"),
    ("UNIT", "IN_STATION", "PASS_LAST", "DONE"),
    ("UNIT", "IN_STATION", "FAIL", "OUT_FAILED"),
    ("UNIT", "IN_STATION", "HOLD", "ON_HOLD"),
    ("UNIT", "QUEUED", "DEFECT", "OUT_FAILED"),
    ("UNIT", "OUT_FAILED", "REWORK", "QUEUED"),
    ("UNIT", "OUT_FAILED", "SCRAP", "SCRAPPED"),
    ("UNIT", "OUT_FAILED", "HOLD", "ON_HOLD"),
    ("UNIT", "ON_HOLD", "RELEASE", "QUEUED"),
    ("UNIT", "DONE", "MRB_SCRAP", "SCRAPPED"),
    ("UNIT", "DONE", "MRB_REWORK", "QUEUED"),
    ("INSPECTION", "PENDING", "START", "INSPECTING"),
    ("INSPECTION", "INSPECTING", "PASS", "PASS"),
    ("INSPECTION", "INSPECTING", "FAIL", "FAIL"),
    ("DEFECT", "RECORDED", "DISPOSITION", "DISPOSITIONED"),
    ("REWORK_TASK", "OPEN", "DONE", "DONE"),
])
def test_allowed_moves(machine, current, event, expected):
    assert transition(machine, current, event) == expected
    assert can_transition(machine, current, event)


@pytest.mark.parametrize("machine,current,event,code", [
    ("RUN", "IN_PROGRESS", "REVOKE", "INVALID_RUN_STATUS"),
    ("RUN", "COMPLETED", "START", "INVALID_RUN_STATUS"),
    ("RUN", "AUTHORIZED", "CANCEL", "INVALID_RUN_STATUS"),
    ("UNIT", "DONE", "TRACK_IN", "UNIT_STATE_INVALID"),
    ("UNIT", "SCRAPPED", "REWORK", "UNIT_STATE_INVALID"),
    ("UNIT", "QUEUED", "PASS", "UNIT_STATE_INVALID"),
    ("INSPECTION", "PASS", "START", "INSPECTION_STATE_INVALID"),
    ("WORK_ORDER", "RECEIVED", "CLOSE", "WORK_ORDER_COMPLETED"),
])
def test_illegal_moves_are_refused(machine, current, event, code):
    assert not can_transition(machine, current, event)
    with pytest.raises(DomainError) as exc:
        transition(machine, current, event)
    assert exc.value.code == code


def test_terminal_states_have_no_way_out_except_mrb_for_done_units():
    for machine, terminal in TERMINAL.items():
        for (state, event), _ in MACHINES[machine].items():
            if state in terminal:
                assert machine == "UNIT" and state == "DONE" and event.startswith("MRB_"), (machine, state, event)
    assert is_terminal("RUN", "CANCELLED") and not is_terminal("RUN", "ON_HOLD")


# Every table, transcribed from 01_domain_model §7 (RunSlotExpectation: a reel replacement takes the
# slot back to PENDING, 02_rules §6; a readiness item is waived, §5; a TrackOut PASS held by an SPC alarm
# whose chart holds goes IN_STATION → ON_HOLD, issue 18). A change of a table must change
# this transcription too — deliberately.
SPEC_TABLES = {
    "WORK_ORDER": {("RECEIVED", "RELEASE"): "RELEASED", ("RELEASED", "START"): "IN_PROGRESS",
                   ("IN_PROGRESS", "CLOSE"): "COMPLETED"},
    "RUN": {("PREP", "AUTHORIZE"): "AUTHORIZED", ("AUTHORIZED", "REVOKE"): "PREP",
            ("AUTHORIZED", "START"): "IN_PROGRESS", ("IN_PROGRESS", "COMPLETE"): "COMPLETED",
            ("IN_PROGRESS", "HOLD"): "ON_HOLD", ("ON_HOLD", "MRB_RELEASE"): "COMPLETED",
            ("ON_HOLD", "MRB_REWORK"): "CLOSED_REWORK", ("ON_HOLD", "MRB_SCRAP"): "SCRAPPED",
            ("PREP", "CANCEL"): "CANCELLED"},
    "UNIT": {("QUEUED", "TRACK_IN"): "IN_STATION", ("IN_STATION", "PASS"): "QUEUED",
             ("IN_STATION", "PASS_LAST"): "DONE", ("IN_STATION", "FAIL"): "OUT_FAILED",
             ("IN_STATION", "HOLD"): "ON_HOLD", ("QUEUED", "DEFECT"): "OUT_FAILED", ("OUT_FAILED", "REWORK"): "QUEUED",
             ("OUT_FAILED", "SCRAP"): "SCRAPPED", ("OUT_FAILED", "HOLD"): "ON_HOLD", ("ON_HOLD", "RELEASE"): "QUEUED",
             ("DONE", "MRB_SCRAP"): "SCRAPPED", ("DONE", "MRB_REWORK"): "QUEUED"},
    "INSPECTION": {("PENDING", "START"): "INSPECTING", ("INSPECTING", "PASS"): "PASS",
                   ("INSPECTING", "FAIL"): "FAIL"},
    "SLOT_EXPECTATION": {("PENDING", "LOAD"): "LOADED", ("PENDING", "MISMATCH"): "MISMATCH",
                         ("MISMATCH", "LOAD"): "LOADED", ("MISMATCH", "MISMATCH"): "MISMATCH",
                         ("LOADED", "REPLACE"): "PENDING"},
    "READINESS_ITEM": {("FAILED", "WAIVE"): "WAIVED"},
    "DEFECT": {("RECORDED", "DISPOSITION"): "DISPOSITIONED", ("RECORDED", "CLOSE"): "CLOSED",
               ("DISPOSITIONED", "CLOSE"): "CLOSED"},
    "REWORK_TASK": {("OPEN", "DONE"): "DONE", ("OPEN", "CANCEL"): "CANCELLED"},
}
REFUSAL_CODES = {"WORK_ORDER": "WORK_ORDER_COMPLETED", "RUN": "INVALID_RUN_STATUS", "UNIT": "UNIT_STATE_INVALID",
                 "INSPECTION": "INSPECTION_STATE_INVALID", "SLOT_EXPECTATION": "SLOT_ALREADY_LOADED",
                 "READINESS_ITEM": "ITEM_NOT_FAILED", "DEFECT": "ALREADY_DISPOSITIONED",
                 "REWORK_TASK": "INSPECTION_STATE_INVALID"}


def test_the_tables_are_the_specs():
    assert MACHINES == SPEC_TABLES


@pytest.mark.parametrize("machine", sorted(SPEC_TABLES))
def test_every_move_outside_a_table_is_refused_with_the_machines_code(machine):
    """Every (status, event) pair of a machine that its table does not list is refused."""
    table = MACHINES[machine]
    statuses = {s for s, _ in table} | set(table.values())
    events = {e for _, e in table}
    for status in statuses:
        for event in events:
            if (status, event) in table:
                assert transition(machine, status, event) == table[(status, event)]
                continue
            assert not can_transition(machine, status, event)
            with pytest.raises(DomainError) as caught:
                transition(machine, status, event)
            assert caught.value.code == REFUSAL_CODES[machine], (machine, status, event)
            assert caught.value.details == {"status": status, "event": event}
