"""`/metrics` under gunicorn with two workers (issue 12; runbook sop/ops/logs-and-metrics.md): what any
worker counted is in every scrape, whichever worker answers it; the figures read from the database are
there; only this machine or the metrics token may read it."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from support import LiveApi, authorized_run, pass_step


def scrape(url: str, token: str | None = None, headers: dict | None = None) -> tuple[int, str]:
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    request = urllib.request.Request(url + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_scrape_has_what_every_worker_counted(server_factory, tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"counts of a previous start")  # removed at start
    (folder / "README.txt").write_text("not ours")  # kept: only count files are removed
    server = server_factory(workers=2, threads=1)
    assert not (folder / "counter_99999.db").exists() and (folder / "README.txt").exists()
    api = LiveApi(server.url)
    run_no = authorized_run(api, qty=6)
    errors = []

    def build(prefix: str) -> None:  # two operators at once: both workers take requests
        try:
            for n in range(2):
                for step in (10, 20, 30, 40, 50):
                    pass_step(api, run_no, f"{run_no}-{prefix}{n}", step)
        except Exception as exc:
            errors.append(exc)
    builders = [threading.Thread(target=build, args=(p,)) for p in ("A", "B")]
    for b in builders:
        b.start()
    for b in builders:
        b.join(timeout=120)
    assert errors == []
    assert api._request("POST", "/api/v1/security/login", {"username": "planner", "password": "wrong",
                                                             "provider": "db"}).status_code == 401
    assert len({p.name.split("_")[-1] for p in folder.glob("counter_*.db")}) >= 2  # two workers counted

    outs = 20 + 5  # the boards built here, and the FAI trial board through the 5 steps (authorized_run)
    for _ in range(6):  # each scrape may be answered by either worker
        status, text = scrape(server.url)
        assert status == 200
        found = samples(text)
        assert value(found, "mes_tracks_total", kind="out", result="PASS") == outs
        assert value(found, "mes_tracks_total", kind="in", result="IN") == outs
        assert value(found, "mes_http_requests_total", endpoint="/api/v1/stations/<station_code>/track-out",
                     method="POST", status="200") == outs
        assert value(found, "mes_http_request_duration_seconds_count",
                     endpoint="/api/v1/stations/<station_code>/track-out", method="POST") == outs
        assert value(found, "mes_login_failures_total", reason="wrong password") == 1
        assert value(found, "mes_runs", status="IN_PROGRESS") >= 1
        assert value(found, "mes_open_holds", kind="run") == 0
        assert value(found, "mes_integration_messages_24h", system="TPM", status="SUCCESS") >= 1
        assert value(found, "mes_integration_degraded", system="TPM") == 0
        assert ("mes_db_connections_open", ()) in found


def test_metrics_are_read_from_this_machine_or_with_the_token(server_factory, monkeypatch):
    monkeypatch.setenv("MES_METRICS_TOKEN", "s3cret-metrics-token")
    server = server_factory()
    assert scrape(server.url)[0] == 403  # the token is required, even from this machine
    assert scrape(server.url, token="wrong")[0] == 403
    status, text = scrape(server.url, token="s3cret-metrics-token")
    assert status == 200 and "mes_runs" in text


def test_without_a_token_only_a_direct_local_client_reads_metrics(server_factory, monkeypatch):
    """A proxy on this machine (nginx) makes every client come from 127.0.0.1; with MES_PROXY_COUNT
    the app would believe an X-Forwarded-For a client wrote itself: neither is a local scraper."""
    monkeypatch.setenv("MES_PROXY_COUNT", "1")
    server = server_factory()
    assert scrape(server.url)[0] == 200
    assert scrape(server.url, headers={"X-Forwarded-For": "127.0.0.1"})[0] == 403
    assert scrape(server.url, headers={"X-Forwarded-For": "10.20.30.40"})[0] == 403
    assert scrape(server.url, headers={"Forwarded": "for=127.0.0.1"})[0] == 403


def test_metrics_refuse_other_machines_and_odd_tokens(app, monkeypatch):
    """In-process (the WSGI peer address set by the test client): another machine, and a token
    header with characters HTTP allows but the comparison did not (a 403, never a 500)."""
    with app.test_client() as client:
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 403
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    monkeypatch.setitem(app.config, "MES_METRICS_TOKEN", "s3cret")
    with app.test_client() as client:
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cr\u00e9t"}).status_code == 403
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
