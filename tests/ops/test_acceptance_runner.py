"""`flask mes acceptance` (04_acceptance §3) as IT runs it: its own process, over real HTTP, against a
gunicorn server on a copy of the seeded database (the test backend), and against the throw-away
server it starts itself. Re-runnable on one server; a server without the demo data fails at the
preflight; a gate switched off makes it fail at that gate's step with that gate's code."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import create_engine, text

from app.acceptance.scenarios import DEMO_OQC_RULES
from support import INTEGRATION_KEY, LiveApi, flask_cli, ok_data


def acceptance(server, tmp_path: Path, name: str, *args: str):
    """Run the runner against the server; returns (process, JSON report, JUnit root)."""
    json_file, junit_file = tmp_path / f"{name}.json", tmp_path / f"{name}.xml"
    done = flask_cli(server.db_url, "mes", "acceptance", "--base-url", server.url, "--integration-key",
                     INTEGRATION_KEY, "--json-file", str(json_file), "--junit-file", str(junit_file), *args)
    return done, json.loads(json_file.read_text()), ET.parse(junit_file).getroot()


def add_demo_oqc_rules(server) -> None:
    """The test template leaves out the demo's OQC sampling rules (tests/conftest.py)."""
    live = LiveApi(server.url)
    for rule in DEMO_OQC_RULES:
        ok_data(live("quality").post("/api/v1/oqc-sampling-rules", json=rule))


def test_the_runner_passes_twice_against_one_server_and_stops_at_the_preflight_without_demo_data(
        server_factory, tmp_path):
    server = server_factory(workers=2, threads=2)

    # the template has no OQC sampling rules: the preflight says the demo data is missing
    done, report, _ = acceptance(server, tmp_path, "no-rules", "--scenario", "S1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert [(s["name"], s["ok"]) for s in report["scenarios"]] == [("PRE", False)]
    failed = [s for s in report["scenarios"][0]["steps"] if not s["ok"]]
    assert len(failed) == 1 and "flask mes seed --demo" in failed[0]["message"], failed
    assert "0 of 0 scenarios passed" in done.stdout

    add_demo_oqc_rules(server)
    wo_numbers = []
    for attempt in ("first", "second"):
        done, report, junit = acceptance(server, tmp_path, attempt, "--track", "all")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert report["ok"] is True and report["baseUrl"] == server.url
        assert [s["name"] for s in report["scenarios"]] == ["PRE"] + [f"S{i}" for i in range(1, 11)]
        steps = [step for s in report["scenarios"] for step in s["steps"]]
        assert all(step["ok"] for step in steps) and len(steps) > 300
        assert all(step["actor"] and step["ms"] >= 0 for step in steps)
        # one line per step, a summary
        lines = [line for line in done.stdout.splitlines() if line.startswith(("OK ", "FAIL"))]
        assert len(lines) == len(steps) and all(line.startswith("OK ") for line in lines)
        assert "10 of 10 scenarios passed" in done.stdout
        suite = junit.find("testsuite")
        assert (suite.get("tests"), suite.get("failures")) == (str(len(steps)), "0")
        assert len(suite.findall("testcase")) == len(steps)
        wo_numbers.append(set(re.findall(r"WO-S\d+-[0-9A-F]{6}", done.stdout)))
    assert wo_numbers[0] and wo_numbers[1] and not wo_numbers[0] & wo_numbers[1]  # its own numbers each time


def test_a_gate_switched_off_fails_the_runner_at_that_step_with_its_code(server_factory, tmp_path):
    server = server_factory()
    add_demo_oqc_rules(server)
    # the FAI gate off: no step of the SMT routing requires an FAI any more (S1 compiles it first)
    engine = create_engine(server.db_url)
    with engine.begin() as connection:
        changed = connection.execute(text(
            "UPDATE routing_step SET requires_fai = :no WHERE routing_id = "
            "(SELECT id FROM routing WHERE code = 'RT-P1001-SMT')"), {"no": False}).rowcount
    engine.dispose()
    assert changed == 5

    done, report, junit = acceptance(server, tmp_path, "gate-off", "--scenario", "S1", "--scenario", "S8")
    assert done.returncode == 1, done.stdout[-3000:]
    by_name = {s["name"]: s for s in report["scenarios"]}
    assert (by_name["PRE"]["ok"], by_name["S1"]["ok"], by_name["S8"]["ok"]) == (True, False, True)
    steps = by_name["S1"]["steps"]
    failed = steps[-1]
    assert (failed["ok"], failed["name"], failed["actor"], failed["code"]) == (
        False, "authorize refused: FAI_NOT_PASSED", "planner", "FAI_NOT_PASSED")
    assert "got HTTP 200" in failed["message"]
    assert all(step["ok"] for step in steps[:-1])  # everything before that gate held
    assert re.search(r"^FAIL S1 +authorize refused: FAI_NOT_PASSED +\[planner\] +\d+ ms +FAI_NOT_PASSED: expected HTTP 400",
                     done.stdout, re.M), done.stdout[-2000:]
    assert "1 of 2 scenarios passed" in done.stdout
    assert "FAILED S1 SMT happy path: at 'authorize refused: FAI_NOT_PASSED' [planner] FAI_NOT_PASSED" in done.stdout
    failures = [case for case in junit.iter("testcase") if case.find("failure") is not None]
    assert [(case.get("classname"), case.find("failure").get("type")) for case in failures] == [
        ("acceptance.S1", "FAI_NOT_PASSED")]


def test_without_a_base_url_it_starts_and_removes_its_own_server(app, tmp_path):
    json_file = tmp_path / "own.json"
    done = flask_cli(f"sqlite:///{tmp_path / 'unused.db'}", "mes", "acceptance", "--track", "dip",
                     "--json-file", str(json_file))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(json_file.read_text())
    assert [(s["name"], s["ok"]) for s in report["scenarios"]] == [("PRE", True), ("S8", True)]
    assert re.match(r"http://127\.0\.0\.1:\d+$", report["baseUrl"])
    folder = re.search(r"migrating and seeding the demo data in (\S+)", done.stdout).group(1)
    assert not Path(folder).exists()  # the throw-away database is gone
    assert not (tmp_path / "unused.db").exists()  # the configured database was not touched


def test_an_unknown_scenario_is_refused_before_anything_runs(app, tmp_path):
    done = flask_cli(f"sqlite:///{tmp_path / 'unused.db'}", "mes", "acceptance", "--scenario", "S11")
    assert done.returncode == 2
    assert "unknown scenario S11: choose from S1, S2" in done.stderr
    done = flask_cli(f"sqlite:///{tmp_path / 'unused.db'}", "mes", "acceptance", "--track", "dip", "--scenario", "S1")
    assert done.returncode == 2 and "no scenario of track dip among S1" in done.stderr
