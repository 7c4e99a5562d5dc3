"""Fixtures of the operations drills: a database with production history, empty databases."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from support import BACKEND, LiveApi, authorized_run, build_unit, ok_data


@pytest.fixture
def empty_database(database, tmp_path):
    """An empty database of the test backend (dropped at the end)."""
    made = []

    def make() -> str:
        if BACKEND == "sqlite":
            url = f"sqlite:///{tmp_path / f'old_{uuid.uuid4().hex[:6]}.db'}"
        else:
            name = f"{database.name}_old_{uuid.uuid4().hex[:6]}"
            database._admin(f"CREATE DATABASE {name}")
            url = f"{database.head}/{name}"
        made.append(url)
        return url

    yield make
    if BACKEND != "sqlite":
        for url in made:
            database.drop_copy(url)


@dataclass
class History:
    url: str
    run_no: str  # an authorized run that can still build boards


@pytest.fixture
def history(server_factory) -> History:
    """A database at the head with the demo data and production history (a run with boards built and
    a FAIL); the server that built it is stopped."""
    server = server_factory()
    api = LiveApi(server.url)
    run_no = authorized_run(api, qty=6)
    for n in (1, 2):
        build_unit(api, run_no, f"{run_no}-H{n}")
    ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-in", json={"sn": f"{run_no}-H3", "runNo": run_no}))
    ok_data(api("operator").post("/api/v1/stations/ST-PRINT-01/track-out", json={
        "sn": f"{run_no}-H3", "runNo": run_no, "result": "FAIL", "defect": {"code": "SOLDER_BRIDGE"}}))
    server.process.terminate()
    server.process.wait(timeout=30)
    return History(server.db_url, run_no)
