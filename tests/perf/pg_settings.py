"""The PostgreSQL connection settings of the hot path, measured side by side (sop/ops/configuration.md,
"PostgreSQL connection settings"): wall and CPU time per TrackIn + TrackOut pair with each setting,
in rounds that alternate the settings so that a noisy machine hits them alike.

    .venv/bin/python tests/perf/pg_settings.py [--units N] [--rounds N]

The app runs in this process behind Flask's test client (no HTTP, no gunicorn: what differs is the
database work), on a throw-away database on 127.0.0.1:5432 (user postgres), migrated and seeded with the
demo data; each setting gets a fresh app (engine, pool) and its own run of the demo SMT product.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

TREE = Path(__file__).resolve().parents[2]
SETTINGS = [
    ("defaults (pre-ping on, prepare after 5)", {}),
    ("MES_DB_PRE_PING=0", {"MES_DB_PRE_PING": False}),
    ("MES_DB_PREPARE_THRESHOLD=0", {"MES_DB_PREPARE_THRESHOLD": "0"}),
    ("MES_DB_PREPARE_THRESHOLD=off", {"MES_DB_PREPARE_THRESHOLD": "off"}),
    ("MES_DB_POOL_SIZE=10", {"MES_DB_POOL_SIZE": 10}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=40, help="measured units (of 5 pairs) per setting and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path[:0] = [str(TREE), str(TREE / "tests")]
    os.environ["MES_ENV"] = "test"
    os.environ.setdefault("MES_LOG_LEVEL", "ERROR")
    import psycopg
    from flask_migrate import upgrade

    import support
    from app import create_app
    from app.extensions import db
    from seed.loader import seed_demo

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"mes_settings_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    figures: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in SETTINGS}
    try:
        for round_no in range(args.rounds):
            for label, overrides in SETTINGS:
                app = create_app({**support.app_overrides(url), **overrides})
                if not figures[label] and label == SETTINGS[0][0]:
                    with app.app_context():
                        upgrade()
                        seed_demo(oqc_rules=False)
                        db.session.remove()
                figures[label].append(_measure(app, support, args.units))
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
                wall, cpu = figures[label][-1]
                print(f"  round {round_no + 1}: {label:40s} {wall:6.2f} ms wall, {cpu:6.2f} ms CPU per pair", flush=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print("\n| Setting | Wall per pair (median, ms) | CPU of the app per pair (median, ms) |\n|---|---:|---:|")
    for label, rows in figures.items():
        print(f"| {label} | {statistics.median(w for w, _ in rows):.2f} | {statistics.median(c for _, c in rows):.2f} |")


def _measure(app, support, units: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per pair over `units` units of the SMT route, after 5 warm-up units."""
    client = app.test_client()

    def api(username):
        token = support.INTEGRATION_KEY if username == "integration" else support.jwt_token(client, username)
        return support.ApiAs(client, {"Authorization": f"Bearer {token}"})

    operator, stations = api("operator"), support.stations_for("P-1001")
    run_no = support.authorized_run(api, qty=units + 5)

    def unit(sn: str) -> None:
        for step in sorted(stations):
            for action, body in (("track-in", {}), ("track-out", {"result": "PASS", "data": support.SMT_DATA[step]})):
                answer = operator.post(f"/api/v1/stations/{stations[step]}/{action}", json={"sn": sn, "runNo": run_no, **body})
                assert answer.status_code == 200, answer.get_json()

    for i in range(5):
        unit(f"{run_no}-W{i}")
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(units):
        unit(f"{run_no}-U{i:04d}")
    pairs = units * len(stations)
    return 1000 * (time.perf_counter() - wall) / pairs, 1000 * (time.process_time() - cpu) / pairs


if __name__ == "__main__":
    main()
