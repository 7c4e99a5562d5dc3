"""What the hot path costs, counted in what does not depend on the machine: the SQL statements of each
TrackIn and TrackOut of one unit through the demo SMT route, and the Python function calls per pair
(cProfile) — plus the CPU time per pair in this process (that one does depend on the machine).

    .venv/bin/python tests/perf/counts.py [--tree DIR] [--backend sqlite|postgresql] [--units N] [--spc]

`--spc` counts the P-1001 pairs once more with an SPC chart armed on paste_height_um (step 20: I-MR, every
Nelson rule, frozen limits), and the profiled pairs run with it too: what the run-rule check costs.

The app runs in this process behind Flask's test client (no network, no gunicorn), on a fresh database
migrated and seeded with the demo data (PostgreSQL: a throw-away database on 127.0.0.1:5432, user
postgres). `--tree` measures another checkout with this one's virtualenv, e.g. the commit before a
change: run both side by side and compare (tests/perf/README.md).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[2]), help="checkout to measure")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--units", type=int, default=60, help="units (of 5 pairs) for the CPU and call counts")
    parser.add_argument("--show", action="store_true", help="print the statements of every counted pair")
    parser.add_argument("--profile", metavar="FILE", help="save the profile of the measured pairs (pstats)")
    parser.add_argument("--spc", action="store_true", help="count again with an SPC chart armed on paste_height_um")
    args = parser.parse_args()

    sys.path[:0] = [args.tree, os.path.join(args.tree, "tests")]
    os.environ["MES_ENV"] = "test"
    os.environ.setdefault("MES_LOG_FORMAT", "text")
    os.environ.setdefault("MES_LOG_LEVEL", "ERROR")
    import psycopg
    from flask_migrate import upgrade
    import support
    from statements import StatementCounter  # tests/perf/statements.py of this checkout
    from app import create_app
    from app.extensions import db
    from seed.loader import seed_demo

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    pg_name = None
    if args.backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/counts.db"
    else:
        pg_name = f"mes_counts_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {pg_name}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    app = create_app(support.app_overrides(url))
    try:
        with app.app_context():
            upgrade()
            seed_demo(oqc_rules=False, msd_reels=False, paste_thawing=False)  # as the test suite's template
            db.session.remove()
            engine = db.engine
        client = app.test_client()

        def api(username):
            token = support.INTEGRATION_KEY if username == "integration" else support.jwt_token(client, username)
            return support.ApiAs(client, {"Authorization": f"Bearer {token}"})

        operator = api("operator")
        counter = StatementCounter(engine, keep=args.show)
        pair_pings: list[int] = []

        def pair(run_no: str, sn: str, step: int, product: str = "P-1001") -> tuple[int, int]:
            station = support.stations_for(product)[step]
            data = (support.SMT_DATA if product == "P-1001" else support.DIP_DATA)[step]
            counter.take()
            pings = counter.pings
            answer = operator.post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no})
            assert answer.status_code == 200, answer.get_json()
            shown = list(counter.log)
            track_in = counter.take()
            answer = operator.post(f"/api/v1/stations/{station}/track-out",
                                   json={"sn": sn, "runNo": run_no, "result": "PASS", "data": data})
            assert answer.status_code == 200, answer.get_json()
            pair_pings.append(counter.pings - pings)
            if args.show:
                print(f"  --- {product} step {step}, {sn}: TrackIn, then TrackOut")
                for line in shown + counter.log:
                    print(f"    {line[:300]}")
            return track_in, counter.take()

        with counter:
            for product in ("P-1001", "P-2001"):
                run_no = support.authorized_run(api, product=product, qty=2)
                steps = sorted(support.stations_for(product))
                counted = [(step, *pair(run_no, f"{run_no}-C{unit}", step, product))
                           for unit in range(2) for step in steps]
                print(f"{args.backend} ({args.tree}), {product}: statements per request, BEGIN included "
                      f"(a new unit, then another; the last one completes the run)")
                for step, track_in, track_out in counted:
                    print(f"  step {step}: TrackIn {track_in}, TrackOut {track_out}, pair {track_in + track_out}")
                totals = [track_in + track_out for _, track_in, track_out in counted]
                print(f"  mean {sum(totals) / len(totals):.1f} statements per pair, max {max(totals)}")
        if args.spc:
            from sqlalchemy import text
            with app.app_context():
                spec_id = db.session.execute(text("SELECT id FROM data_collection_spec WHERE name = 'paste_height_um'")).scalar_one()
            answer = api("engineer").put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR", "rules": list(range(1, 9))})
            assert answer.status_code == 200, answer.get_json()
            with app.app_context():  # frozen limits around the value SMT_DATA sends (no history to freeze them from)
                db.session.execute(text("UPDATE spc_chart SET center = 150, sigma = 5, lcl = 135, ucl = 165, "
                                        "sigma_within = 5 WHERE spec_id = :s"), {"s": spec_id})
                db.session.commit()
            with counter:
                run_no = support.authorized_run(api, qty=2)
                steps = sorted(support.stations_for("P-1001"))
                counted = [(step, *pair(run_no, f"{run_no}-S{unit}", step)) for unit in range(2) for step in steps]
            print(f"{args.backend}, P-1001 with an SPC chart armed on paste_height_um (step 20, rules 1-8):")
            for step, track_in, track_out in counted:
                print(f"  step {step}: TrackIn {track_in}, TrackOut {track_out}, pair {track_in + track_out}")
            totals = [track_in + track_out for _, track_in, track_out in counted]
            print(f"  mean {sum(totals) / len(totals):.1f} statements per pair, max {max(totals)}")
        print(f"  plus {sum(pair_pings) / len(pair_pings):.1f} pool pre-ping(s) per pair (not in the counts)"
              if any(pair_pings) else "  no pool pre-ping")

        stations = support.stations_for("P-1001")
        run_no = support.authorized_run(api, qty=args.units)
        profiler = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        for unit in range(args.units):
            for step in sorted(stations):
                pair(run_no, f"{run_no}-U{unit:04d}", step)
        profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = args.units * len(stations)
        if args.profile:
            profiler.dump_stats(args.profile)
        print(f"  {pstats.Stats(profiler).total_calls / n:.0f} Python function calls per pair; "
              f"CPU {1000 * cpu / n:.2f} ms, wall {1000 * wall / n:.2f} ms per pair under the profiler ({n} pairs)")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if pg_name:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
