"""The permission catalogue names every permission of the spec's matrix (00_overview) with the
preset grants of the matrix."""
import pytest

from app.security.permissions import (
    BY_NAME, MASTER_DATA, MENU, PERMISSIONS, PRESET_ROLES, ROLE_LETTERS, canonical, role_pairs, roles_for,
)

ALL = "APEQLMOG"
# Transcribed from spec/00_overview.md ("Permission | Roles"); Admin always has everything.
SPEC_MATRIX = {
    "route:read": "APEQLG", "route:configure": "E", "route:compile": "E",
    "data_spec:read": "APEQLG", "data_spec:config": "E",
    "wo:read": ALL, "wo:receive": "PI", "wo:release": "P", "wo:close": "P",
    "run:read": ALL, "run:create": "P", "run:authorize": "PL", "run:close": "P",
    "readiness:check": "QL", "readiness:waive": "Q", "readiness:config": "E",
    "loading:verify": "ML", "loading:unlock": "LE", "loading:config": "E", "line:consumables": "MLE",
    "exec:track_in": "OL", "exec:track_out": "OL",
    "quality:fai": "Q", "quality:fai_sign": "Q", "quality:oqc": "Q", "quality:disposition": "Q",
    "quality:mrb": "Q", "quality:inspection_result": "QOL",
    "trace:read": ALL, "trace:export": "QGP", "reports:read": "GPQE",
    "integration": "I", "integration:manual_entry": "LQE", "integration:view": "ELQ",
    "audit:read": ALL, "audit:read_all": "G", "security:manage": "",
}
# Beyond the spec's matrix: the line board (issue 14), for the readers of reports, the line leader
# and the Board device role; unlocking accounts locked by failed sign-ins (issue 17), the line leader.
BEYOND_SPEC = {"reports:board": "GPQELB", "user:unlock": "L"}


def _letters(permission: str) -> set[str]:
    return {letter for letter, role in ROLE_LETTERS.items() if role in roles_for(permission)} - {"A"}


@pytest.mark.parametrize("permission,letters", sorted({**SPEC_MATRIX, **BEYOND_SPEC}.items()))
def test_matrix_grants(permission, letters):
    assert canonical(permission) in BY_NAME, permission
    assert _letters(permission) == set(letters) - {"A"}
    assert "A" in {k for k, v in ROLE_LETTERS.items() if v in roles_for(permission)}


@pytest.mark.parametrize("entity", MASTER_DATA)
def test_master_data_read_for_all_humans_write_for_engineers(entity):
    assert _letters(f"{entity}:read") == set(ALL) - {"A"}
    writers = {"E", "Q"} if entity == "defect_code" else {"E"}
    assert _letters(f"{entity}:write") == writers


def test_the_spec_nine_preset_roles_and_the_board_with_their_scopes():
    assert {r: d.scope for r, d in PRESET_ROLES.items()} == {
        "Admin": "ALL", "Planner": "ALL", "Engineer": "ALL", "Quality": "ALL", "Leader": "LINES",
        "Material": "LINES", "Operator": "STATIONS", "Manager": "ALL", "Integration": "ALL", "Board": "LINES"}
    assert {p for p in PERMISSIONS if "B" in p.roles} == {BY_NAME["reports:board"]}


def test_pairs_are_unique_and_resources_never_collide_with_menu_names():
    pairs = [p.pair for p in PERMISSIONS]
    assert len(pairs) == len(set(pairs))
    menu_names = {m.name for m in MENU} | {m.category for m in MENU}
    assert not ({p.resource for p in PERMISSIONS} & menu_names)


def test_engineering_menu_only_for_writers():
    assert ("menu_access", "Engineering") in role_pairs("Engineer")
    assert ("menu_access", "Products") in role_pairs("Engineer")
    for role in ("Operator", "Planner", "Manager", "Material", "Leader"):
        assert ("menu_access", "Engineering") not in role_pairs(role), role
    assert ("menu_access", "Defect Codes") in role_pairs("Quality")
    assert ("menu_access", "Engineering") not in role_pairs("Quality")
    assert not any(p[0] == "menu_access" for p in role_pairs("Integration"))
