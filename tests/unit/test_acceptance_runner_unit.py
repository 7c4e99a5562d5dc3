"""The acceptance runner's own rules, without a server: selection of scenarios, a failure outside a step,
the reports."""
import xml.etree.ElementTree as ET

import pytest

from app.acceptance.runner import run_scenario, select, summary, write_json, write_junit
from app.acceptance.scenarios import SCENARIOS, Scenario


def test_selection_by_track_and_name():
    assert [s.name for s in select("all")] == list(SCENARIOS)
    assert [s.name for s in select("dip")] == ["S8"]
    assert [s.name for s in select("all", ["s3", "S1"])] == ["S1", "S3"]
    assert select("dip", ["S1"]) == []
    with pytest.raises(ValueError, match="unknown scenario S11"):
        select("all", ["S11"])


def test_an_error_outside_a_step_fails_its_scenario_with_a_line_and_the_reports_say_so(tmp_path):
    def broken(c):
        with c.step("first step", "planner"):
            pass
        return {}["runCloseout"]

    lines = []
    result, built = run_scenario(lambda user: None, Scenario("SX", "Broken", "smt", broken),
                                 echo=lambda step: lines.append(step.line()))
    assert built is None and not result.ok
    assert [(s.name, s.ok) for s in result.steps] == [("first step", True), ("(between steps)", False)]
    assert "KeyError" in result.steps[-1].message and lines[-1].startswith("FAIL SX")
    assert "0 of 1 scenarios passed" in summary([result])
    write_json([result], tmp_path / "r.json", base_url="http://x")
    write_junit([result], tmp_path / "r.xml")
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
