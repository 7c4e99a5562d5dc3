"""A bounded schemathesis run over the whole OpenAPI document (issue 15), as admin and as operator,
against a live gunicorn server on its own copy of the seeded demo data: no answer may be a server
error, and every error answer (4xx/5xx) must be the error envelope of spec 03_api.

Deterministic (hypothesis `derandomize`, no example database) and bounded: `MES_FUZZ_EXAMPLES`
examples per operation and generation mode (positive and negative data), default 3. The figures
(requests, operations, failures) are printed and written to tests/artifacts/fuzz-<role>.json.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from support import ARTIFACTS, password_for  # noqa: E402

EXAMPLES = int(os.environ.get("MES_FUZZ_EXAMPLES", "3"))
ONLY = os.environ.get("MES_FUZZ_ONLY", "")  # debugging: only the operations whose "METHOD /path" has this
ROLES = ("admin", "operator")


def envelope_problem(response) -> str | None:
    """Why an error answer is not the envelope `{"error": {code, message, details}}` (None: it is)."""
    content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    if isinstance(content_type, list):  # schemathesis' Response keeps every value of a header
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/json"):
        return f"content type {content_type!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "no error object"
    from app.services.platform.errors import CATALOGUE
    if error.get("code") not in CATALOGUE:
        return f"code {error.get('code')!r} not catalogued"
    if not isinstance(error.get("message"), str) or not isinstance(error.get("details"), dict):
        return "message or details missing"
    return None


def can_be_invalid(operation) -> bool:
    """Whether negative data exists: a body, a query parameter or a typed path parameter. (An operation
    with only string path parameters has none, and hypothesis would search for it in vain.)"""
    raw = operation.definition.raw
    if raw.get("requestBody"):
        return True
    for parameter in raw.get("parameters", []):
        if "$ref" in parameter or parameter.get("in") == "query":
            return True
        if parameter.get("in") == "path" and parameter.get("schema", {}).get("type") != "string":
            return True
    return False


def fuzz(base_url: str, token: str, examples: int) -> dict:
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/_openapi", headers=auth, timeout=30)
    session = requests.Session()
    requests_made = Counter()
    failures: dict[tuple[str, str], dict] = {}
    operations = 0
    started = time.perf_counter()

    def record(label: str, kind: str, case, response) -> None:
        key = (label, kind)
        entry = failures.setdefault(key, {"operation": label, "kind": kind, "count": 0})
        entry["count"] += 1
        if "example" not in entry:
            entry["example"] = {"status": getattr(response, "status_code", None),
                                "body": (response.text[:200] if response is not None else None),
                                "path": case.formatted_path, "query": case.query,
                                "body_sent": repr(case.body)[:200]}
            entry["example"]["query"] = str(case.query)[:4000]

    def probe(label: str, case) -> None:
        requests_made[label] += 1
        try:
            response = case.call(base_url=base_url, session=session, headers=auth, timeout=30,
                                 allow_redirects=False)
        except requests.RequestException as exc:
            record(label, f"transport error {type(exc).__name__}", case, None)
            return
        if response.status_code >= 500:
            record(label, f"server error {response.status_code}", case, response)
        elif response.status_code >= 400:
            problem = envelope_problem(response)
            if problem:
                record(label, f"not the envelope ({response.status_code}: {problem})", case, response)

    def runner(label: str, strategy):
        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False)
        @given(case=strategy)
        def run(case):
            probe(label, case)
        return run

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        label = f"{operation.method.upper()} {operation.path}"
        if ONLY and ONLY not in label:
            continue
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if can_be_invalid(operation) else \
            (GenerationMode.POSITIVE,)
        for mode in modes:
            try:
                runner(label, operation.as_strategy(generation_mode=mode))()
            except Unsatisfiable:  # nothing to make invalid after all
                pass
    return {"operations": operations, "requests": sum(requests_made.values()),
            "seconds": round(time.perf_counter() - started, 1), "examples_per_operation_and_mode": examples,
            "failures": sorted(failures.values(), key=lambda f: (f["operation"], f["kind"])),
            "failing_operations": len({f["operation"] for f in failures.values()})}


@pytest.fixture(scope="module")
def fuzz_server(live_servers):
    start, stop = live_servers
    servers = []

    def serve():
        server = start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        stop(server)


@pytest.mark.parametrize("role", ROLES)
def test_openapi_fuzz(fuzz_server, role):
    server = fuzz_server()  # each role on its own copy of the seeded data
    login = requests.post(f"{server.url}/api/v1/security/login", timeout=30, json={
        "username": role, "password": password_for(role), "provider": "db"})
    assert login.status_code == 200, login.text
    figures = fuzz(server.url, login.json()["access_token"], EXAMPLES)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"fuzz-{role}.json").write_text(json.dumps(figures, indent=1, default=str))
    print(f"\nfuzz as {role}: {figures['requests']} requests, {figures['operations']} operations, "
          f"{sum(f['count'] for f in figures['failures'])} failures on {figures['failing_operations']} operations "
          f"({figures['seconds']} s)")
    assert figures["failures"] == [], json.dumps(figures["failures"], indent=1, default=str)
    # and the run was not empty: the whole document was read and every operation called
    assert figures["operations"] >= 130
    assert ONLY or figures["requests"] >= figures["operations"]
