"""Load with invariants (issue 16 §4), the short run of the suite: 4 gunicorn workers and 8 clients at once
on PostgreSQL for 15 s — TrackIn/TrackOut pairs mixed with SPI/AOI results (some sent twice), reel
replacements on another client's run and trace reads — then plain SQL on the database: no unit with two
open tracks, no lost data value or material use, units, tracks, inbox messages and audit events equal to
what the server confirmed, no error answer.

The clients and the checks are tests/perf/load.py, the same as the long run of `make bench` (`bench.py
--soak SECONDS`, on PostgreSQL and on SQLite). PostgreSQL only: on SQLite the writers take turns on one
write lock (the benchmark's run shows that), and the suite's SQLite pass stays shorter."""
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

from load import format_checks, run_load  # noqa: E402
from support import INTEGRATION_KEY  # noqa: E402

pytestmark = pytest.mark.postgresql_only

WORKERS, CLIENTS, SECONDS = 4, 8, 15


def test_many_workers_and_clients_at_once_lose_and_double_nothing(server_factory):
    server = server_factory(workers=WORKERS, threads=1)
    address = urlsplit(server.url)
    result = run_load(address.hostname, address.port, server.db_url, clients=CLIENTS, seconds=SECONDS,
                      integration_key=INTEGRATION_KEY, tag="T")
    report = format_checks(result) + "".join(f"\n    {failure}" for failure in result["failures"])
    assert result["ok"], f"invariants broken under {WORKERS} workers x {CLIENTS} clients:\n{report}"
    # the mix really ran
    assert result["done"] >= CLIENTS and result["pairs"] == 5 * result["done"], report
    assert min(result["inspections"], result["duplicates"], result["replaces"], result["traces"]) > 0, result
