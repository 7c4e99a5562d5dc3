"""`/metrics` — Prometheus text format (spec 05_ops "Observability"; runbook sop/ops/logs-and-metrics.md).

Two kinds of figures:
- counted by the processes as requests pass: requests by endpoint, method and status, their latency,
  TrackIn/TrackOut by result, failed sign-ins, database connections in use. Under gunicorn every
  worker writes its counts to files in one folder (prometheus-client's multiprocess mode; the folder is
  set by app/gunicorn_conf.py) and a scrape — whichever worker answers it — adds them all up;
- read from the database at each scrape: runs by status, open holds, integration messages of the last
  24 h by system and status, and which systems run on manual (degraded) entries.

Not public: with `MES_METRICS_TOKEN` set only `Authorization: Bearer <token>` may read it; without, only
a client on the same machine (127.0.0.1 / ::1) connecting directly, not through a proxy.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from .extensions import db
from .version import __version__

REQUESTS = Counter("mes_http_requests", "HTTP requests by endpoint (route), method and status.",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("mes_http_request_duration_seconds", "HTTP request duration by endpoint (route) and method.",
                    ["endpoint", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
TRACKS = Counter("mes_tracks", "TrackIn (result IN) and TrackOut (PASS / FAIL) by result.", ["kind", "result"])
LOGIN_FAILURES = Counter("mes_login_failures", "Failed sign-ins by reason.", ["reason"])
POOL_OPEN = Gauge("mes_db_connections_open", "Database connections held by the workers' pools (as each "
                  "worker's last request ended).", multiprocess_mode="livesum")
POOL_IN_USE = Gauge("mes_db_connections_in_use", "Database connections checked out as each worker's last request "
                    "ended (its own included).", multiprocess_mode="livesum")


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class DatabaseCollector:
    """Figures read from the database at each scrape (a handful of indexed queries)."""

    def collect(self):
        from .services.integration.status import integration_status
        from .services.platform.actor import SYSTEM
        from .services.production.runs import hold_counts, run_counts

        runs = GaugeMetricFamily("mes_runs", "Runs by status.", labels=["status"])
        for status, n in sorted(run_counts().items()):
            runs.add_metric([status], n)
        holds = GaugeMetricFamily("mes_open_holds", "Units and runs ON_HOLD (waiting for quality / the MRB).",
                                  labels=["kind"])
        for kind, n in hold_counts().items():
            holds.add_metric([kind], n)
        messages = GaugeMetricFamily("mes_integration_messages_24h", "Integration messages of the last 24 h by "
                                     "system and status.", labels=["system", "status"])
        degraded = GaugeMetricFamily("mes_integration_degraded", "1 while a system runs on manual entries (MANUAL "
                                     "since its last AUTO message).", labels=["system"])
        for row in integration_status(actor=SYSTEM):
            for status, n in row["last24h"].items():
                messages.add_metric([row["system"], status], n)
            degraded.add_metric([row["system"]], 1 if row["degraded"] else 0)
        info = GaugeMetricFamily("mes_info", "The release.", labels=["version"])
        info.add_metric([__version__], 1)
        db.session.rollback()
        yield from (runs, holds, messages, degraded, info)


def render() -> bytes:
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return counted + generate_latest(database)


def _allowed() -> bool:
    token = current_app.config.get("MES_METRICS_TOKEN")
    if token:
        return hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode())
    # Without a token: a client on this machine talking to the app directly. The socket's own peer
    # address (before ProxyFix rewrites it from X-Forwarded-For, which any client can send), and no
    # forwarding header: through a proxy on this machine (nginx) every remote client would otherwise
    # come from 127.0.0.1.
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    environ = request.environ
    peer = (environ.get("werkzeug.proxy_fix.orig") or {}).get("REMOTE_ADDR") or environ.get("REMOTE_ADDR") or ""
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


_pool_seen = [0.0]


def register_metrics(app: Flask) -> None:
    @app.get("/metrics")
    def metrics():
        if not _allowed():
            return Response("metrics: sign in with the metrics token, or scrape from this machine\n", status=403,
                            mimetype="text/plain")
        return Response(render(), mimetype=CONTENT_TYPE_LATEST)

    @app.before_request
    def _metrics_start():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _metrics_count(response):
        started = g.pop("metrics_started", None)
        if started is not None and not request.path.startswith("/static/"):
            endpoint = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
            ended = time.perf_counter()
            REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
            LATENCY.labels(endpoint, request.method).observe(ended - started)
            if ended - _pool_seen[0] > 1.0:  # the pool's state at most once a second per worker
                _pool_seen[0] = ended
                pool = db.engine.pool
                if hasattr(pool, "checkedout"):
                    POOL_IN_USE.set(pool.checkedout())
                    POOL_OPEN.set(pool.checkedout() + pool.checkedin())
        return response


def child_exit(pid: int) -> None:
    """gunicorn: a worker exited — its live gauges leave the sums."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)
