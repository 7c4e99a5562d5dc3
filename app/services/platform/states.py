"""State machines (spec 01_domain_model §7) as transition tables: the only allowed moves.

Every status change in the services goes through `transition()`, so an illegal move is impossible
anywhere. Statuses are plain strings validated here (no database ENUM types).
"""
from __future__ import annotations

from .errors import DomainError

# machine -> {(from_status, event): to_status}
MACHINES: dict[str, dict[tuple[str, str], str]] = {
    "WORK_ORDER": {
        ("RECEIVED", "RELEASE"): "RELEASED",
        ("RELEASED", "START"): "IN_PROGRESS",
        ("IN_PROGRESS", "CLOSE"): "COMPLETED",
    },
    "RUN": {
        ("PREP", "AUTHORIZE"): "AUTHORIZED",
        ("AUTHORIZED", "REVOKE"): "PREP",
        ("AUTHORIZED", "START"): "IN_PROGRESS",
        ("IN_PROGRESS", "COMPLETE"): "COMPLETED",
        ("IN_PROGRESS", "HOLD"): "ON_HOLD",
        ("ON_HOLD", "MRB_RELEASE"): "COMPLETED",
        ("ON_HOLD", "MRB_REWORK"): "CLOSED_REWORK",
        ("ON_HOLD", "MRB_SCRAP"): "SCRAPPED",
        ("PREP", "CANCEL"): "CANCELLED",
    },
    "UNIT": {
        ("QUEUED", "TRACK_IN"): "IN_STATION",
        ("IN_STATION", "PASS"): "QUEUED",
        ("IN_STATION", "PASS_LAST"): "DONE",
        ("IN_STATION", "FAIL"): "OUT_FAILED",
        ("IN_STATION", "HOLD"): "ON_HOLD",  # a PASS held by an SPC alarm (quality releases it)
        ("QUEUED", "DEFECT"): "OUT_FAILED",
        ("OUT_FAILED", "REWORK"): "QUEUED",
        ("OUT_FAILED", "SCRAP"): "SCRAPPED",
        ("OUT_FAILED", "HOLD"): "ON_HOLD",
        ("ON_HOLD", "RELEASE"): "QUEUED",
        ("DONE", "MRB_SCRAP"): "SCRAPPED",
        ("DONE", "MRB_REWORK"): "QUEUED",
    },
    "INSPECTION": {
        ("PENDING", "START"): "INSPECTING",
        ("INSPECTING", "PASS"): "PASS",
        ("INSPECTING", "FAIL"): "FAIL",
    },
    "SLOT_EXPECTATION": {  # a run's feeder slot: a good reel scan loads it, a wrong one is a mismatch
        ("PENDING", "LOAD"): "LOADED",
        ("PENDING", "MISMATCH"): "MISMATCH",
        ("MISMATCH", "LOAD"): "LOADED",
        ("MISMATCH", "MISMATCH"): "MISMATCH",
        ("LOADED", "REPLACE"): "PENDING",  # the reel is taken off; the new one is judged like a scan
    },
    "READINESS_ITEM": {
        ("FAILED", "WAIVE"): "WAIVED",
    },
    "DEFECT": {
        ("RECORDED", "DISPOSITION"): "DISPOSITIONED",
        ("RECORDED", "CLOSE"): "CLOSED",
        ("DISPOSITIONED", "CLOSE"): "CLOSED",
    },
    "REWORK_TASK": {
        ("OPEN", "DONE"): "DONE",
        ("OPEN", "CANCEL"): "CANCELLED",
    },
}

TERMINAL: dict[str, frozenset[str]] = {
    "WORK_ORDER": frozenset({"COMPLETED"}),
    "RUN": frozenset({"COMPLETED", "CLOSED_REWORK", "SCRAPPED", "CANCELLED"}),
    "UNIT": frozenset({"DONE", "SCRAPPED"}),
    "INSPECTION": frozenset({"PASS", "FAIL"}),
    "DEFECT": frozenset({"CLOSED"}),
    "REWORK_TASK": frozenset({"DONE", "CANCELLED"}),
    "READINESS_ITEM": frozenset({"PASSED", "WAIVED"}),
}

# The error a refused move answers with, per machine (the services usually check the rule first
# and raise a more specific code; this is the backstop).
_ERROR_FOR = {
    "RUN": "INVALID_RUN_STATUS",
    "UNIT": "UNIT_STATE_INVALID",
    "INSPECTION": "INSPECTION_STATE_INVALID",
    "WORK_ORDER": "WORK_ORDER_COMPLETED",
    "DEFECT": "ALREADY_DISPOSITIONED",
    "REWORK_TASK": "INSPECTION_STATE_INVALID",
    "SLOT_EXPECTATION": "SLOT_ALREADY_LOADED",
    "READINESS_ITEM": "ITEM_NOT_FAILED",
}


def statuses(machine: str) -> frozenset[str]:
    table = MACHINES[machine]
    return frozenset({s for s, _ in table} | set(table.values()))


def can_transition(machine: str, current: str, event: str) -> bool:
    return (current, event) in MACHINES[machine]


def transition(machine: str, current: str, event: str) -> str:
    """The status after `event`, or a DomainError when the table does not allow the move."""
    try:
        return MACHINES[machine][(current, event)]
    except KeyError:
        raise DomainError(_ERROR_FOR[machine],
                          f"{machine.replace('_', ' ').lower()} in status {current} cannot {event.replace('_', ' ').lower()}.",
                          {"status": current, "event": event}) from None


def is_terminal(machine: str, status: str) -> bool:
    return status in TERMINAL.get(machine, frozenset())
