"""A read by business key outside the reader's lines answers exactly like an unknown key (02_rules §10
trace, the data scope of the permission model; 03_api: 404 for the resource named in the path): the
status, code, message and details do not tell whether an SN, run or work order exists on a line the
reader may not see. Acting on such a record keeps answering FORBIDDEN (403)."""
import json

import pytest

from support import authorized_run, console_login


def _answer(response, key: str, placeholder: str = "<KEY>") -> tuple[int, dict]:
    """Status and body with the key asked for replaced, so two answers about two keys compare."""
    return response.status_code, json.loads(response.get_data(as_text=True).replace(key, placeholder))


@pytest.fixture
def smt_run(api):
    """An authorized run on the SMT line with one board; operator2 is bound to the DIP line's stations."""
    run_no = authorized_run(api, qty=1, wo_no="WO-SCOPE-1", units=1)
    return run_no, f"{run_no}-0001"


@pytest.mark.parametrize("path,unknown", [
    ("/api/v1/trace/units/{sn}", "NO-SUCH-SN-0001"),
    ("/api/v1/trace/runs/{run}", "WO-NOPE-R01"),
    ("/api/v1/runs/{run}", "WO-NOPE-R01"),
    ("/api/v1/work-orders/{wo}", "WO-NOPE"),
    ("/api/v1/runs/{run}/inspections", "WO-NOPE-R01"),
])
def test_a_key_outside_the_scope_answers_like_an_unknown_key(api, smt_run, path, unknown):
    run_no, sn = smt_run
    head, _, rest = path.partition("{")
    name, _, tail = rest.partition("}")
    key = {"sn": sn, "run": run_no, "wo": "WO-SCOPE-1"}[name]
    seen = api("operator").get(head + key + tail)  # bound to the SMT line: sees it
    assert seen.status_code == 200, seen.get_json()
    outside = api("operator2").get(head + key + tail)
    missing = api("operator2").get(head + unknown + tail)
    assert outside.status_code == 404, outside.get_json()
    assert _answer(outside, key) == _answer(missing, unknown)


def test_the_console_search_does_not_tell_an_sn_on_another_line(client, api, smt_run):
    _, sn = smt_run
    console_login(client, "operator2")
    outside = client.get(f"/trace/?q={sn}")
    missing = client.get("/trace/?q=NO-SUCH-SN-0001")
    assert outside.status_code == missing.status_code == 200  # no redirect to the unit's trace
    assert f"No unit, run or lot {sn}" in outside.get_data(as_text=True)
    unit_page = client.get(f"/trace/units/{sn}", follow_redirects=True).get_data(as_text=True)
    assert "UNIT_NOT_FOUND" in unit_page and "outside your scope" not in unit_page


def test_acting_on_a_run_outside_the_scope_stays_forbidden(api, smt_run):
    run_no, _ = smt_run
    refused = api("operator2").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-0001",
                                                                                   "runNo": run_no})
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "FORBIDDEN")
