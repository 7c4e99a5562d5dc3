"""`flask mes acceptance` (04_acceptance §3): the scenarios S1–S10 over HTTP against a running
install (`--base-url`) or against a throw-away server it starts itself (a fresh SQLite database,
migrated and seeded with the demo data, served on 127.0.0.1 on a free port), one line per step, a
summary, JSON and JUnit XML reports; exit status 1 on any failure.

Before the scenarios, a preflight: every demo user signs in, and the demo data the scenarios
presuppose is there (the OQC sampling rules of 04 §1) — a server without them fails here, with what to
do, rather than deep inside a scenario."""
from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from .context import Context, ScenarioResult, ScenarioStopped, StepResult
from .scenarios import DEMO_OQC_RULES, SCENARIOS, Scenario, sign_in_everyone

TRACKS = ("smt", "dip", "all")


def select(track: str = "all", names: Iterable[str] = ()) -> list[Scenario]:
    """The scenarios of the track (all of them with `all`), or only those named (S3, s3), in S-order."""
    wanted = {n.upper() for n in names if n and n.lower() != "all"}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(sorted(unknown))}: choose from {', '.join(SCENARIOS)}")
    return [s for s in SCENARIOS.values()
            if (track == "all" or s.track == track) and (not wanted or s.name in wanted)]


def preflight(api: Callable[[str], Any], *, echo=None, probe=None) -> ScenarioResult:
    """Every demo user signs in; the demo OQC sampling rules are there and active."""
    result = ScenarioResult("PRE", "Preflight: demo users sign in, demo data present", "all")
    context = Context(api, result, echo=echo, probe=probe)
    started = time.perf_counter()
    try:
        sign_in_everyone(context)
        with context.step("the demo OQC sampling rules are active (flask mes seed --demo)", "quality"):
            rules = context.data(context.api("quality").get("/api/v1/oqc-sampling-rules?pageSize=100"))
            active = {(r["productCode"], r["samplingType"], r["sampleValue"]) for r in rules if r.get("isActive")}
            missing = [r for r in DEMO_OQC_RULES
                       if (r["productCode"], r["samplingType"], r["sampleValue"]) not in active]
            context.ok(not missing, f"missing OQC sampling rules {missing}: this server lacks the demo data "
                                    "(run `flask mes seed --demo` on it, or use the throw-away server)")
    except ScenarioStopped:
        pass
    result.ms = (time.perf_counter() - started) * 1000
    return result


def run_scenario(api: Callable[[str], Any], scenario: Scenario, *, echo=None,
                 probe: Optional[Callable[[], Any]] = None) -> tuple[ScenarioResult, Optional[dict[str, Any]]]:
    """Run one scenario; returns its result and what it built (run numbers, SNs) when it passed."""
    result = ScenarioResult(scenario.name, scenario.title, scenario.track)
    context = Context(api, result, echo=echo, probe=probe)
    started = time.perf_counter()
    built = None
    try:
        built = scenario.run(context)
    except ScenarioStopped:
        pass
    except Exception as exc:  # an answer read outside a step (e.g. a missing key): the scenario fails, the run goes on
        failed = StepResult(scenario.name, "(between steps)", "-", False, 0.0, None,
                            f"{exc.__class__.__name__}: {exc}"[:2000])
        result.steps.append(failed)
        if echo:
            echo(failed)
    result.ms = (time.perf_counter() - started) * 1000
    return result, built


def run_all(api: Callable[[str], Any], scenarios: list[Scenario], *,
            echo: Optional[Callable[[str], None]] = None) -> list[ScenarioResult]:
    say = echo or (lambda _line: None)

    def step_line(step: StepResult) -> None:
        say(step.line())

    results = [preflight(api, echo=step_line)]
    if not results[0].ok:
        return results
    for scenario in scenarios:
        say(f"---- {scenario.name} {scenario.title}")
        result, _ = run_scenario(api, scenario, echo=step_line)
        say(f"==== {scenario.name} {'PASSED' if result.ok else 'FAILED'} ({len(result.steps)} steps, "
            f"{result.ms / 1000:.1f} s)")
        results.append(result)
    return results


def summary(results: list[ScenarioResult]) -> str:
    scenarios = [r for r in results if r.name != "PRE"]
    failed = [r for r in results if not r.ok]
    steps = sum(len(r.steps) for r in results)
    lines = [f"{len(scenarios) - len([r for r in failed if r.name != 'PRE'])} of {len(scenarios)} scenarios passed, "
             f"{steps} steps, {sum(r.ms for r in results) / 1000:.1f} s"]
    for r in failed:
        step = r.failed_step
        lines.append(f"  FAILED {r.name} {r.title}: at '{step.name}' [{step.actor}] {step.code or '-'}: {step.message}"
                     if step else f"  FAILED {r.name} {r.title}")
    return "\n".join(lines)


def write_json(results: list[ScenarioResult], path: str | Path, *, base_url: str) -> None:
    document = {
        "baseUrl": base_url, "finishedAt": datetime.now(timezone.utc).isoformat(),
        "ok": all(r.ok for r in results),
        "scenarios": [{"name": r.name, "title": r.title, "track": r.track, "ok": r.ok, "ms": round(r.ms, 1),
                       "steps": [s.to_dict() for s in r.steps]} for r in results],
    }
    Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")


def write_junit(results: list[ScenarioResult], path: str | Path) -> None:
    """JUnit XML: one test case per step (classname `acceptance.S1`), a failure with the code and
    message for the failed one."""
    steps = [s for r in results for s in r.steps]
    suite = ET.Element("testsuite", name="LineMES acceptance", tests=str(len(steps)),
                       failures=str(sum(1 for s in steps if not s.ok)), errors="0", skipped="0",
                       time=f"{sum(r.ms for r in results) / 1000:.3f}",
                       timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    for index, step in enumerate(steps, 1):
        case = ET.SubElement(suite, "testcase", classname=f"acceptance.{step.scenario}",
                             name=f"{index:03d} {step.name} [{step.actor}]", time=f"{step.ms / 1000:.3f}")
        if not step.ok:
            failure = ET.SubElement(case, "failure", message=f"{step.code or '-'}: {step.message}"[:500],
                                    type=step.code or "CHECK_FAILED")
            failure.text = step.message
    root = ET.Element("testsuites", name="LineMES acceptance")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


@contextmanager
def throwaway_server(*, echo: Callable[[str], None] = print) -> Iterator[tuple[str, str]]:
    """A fresh SQLite database in a temporary folder, migrated and seeded with the demo data (and an
    integration API key), served by this process on 127.0.0.1 on a free port (werkzeug, threaded);
    everything is removed afterwards. Yields (base URL, integration key)."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from .. import create_app
    from ..extensions import db
    from ..services.platform.users import generate_password
    from seed.loader import seed_demo

    folder = Path(tempfile.mkdtemp(prefix="mes-acceptance-"))
    key = "sst_" + secrets.token_hex(24)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'acceptance.db'}",
        "SECRET_KEY": secrets.token_hex(32), "MES_INTEGRATION_API_KEY": key, "MES_LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        app.config["MES_ADMIN_PASSWORD"] = generate_password()  # nobody signs in as admin here
    server = None
    try:
        echo(f"throw-away server: migrating and seeding the demo data in {folder}")
        with app.app_context():
            upgrade()
            seed_demo()
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="acceptance-server", daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}"
        echo(f"throw-away server: {url}")
        yield url, key
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
