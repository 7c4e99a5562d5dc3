"""gunicorn settings for `make run` and production (`gunicorn -c python:app.gunicorn_conf 'app:create_app()'`),
all from the environment."""
import os

bind = f"{os.environ.get('MES_HOST', '127.0.0.1')}:{os.environ.get('MES_PORT', '5000')}"
workers = int(os.environ.get("MES_WORKERS", "2"))
threads = int(os.environ.get("MES_THREADS", "1"))
timeout = int(os.environ.get("MES_TIMEOUT", "60"))
# The request line (method, path, query): gunicorn refuses longer ones itself (before the app sees
# the request). Its maximum (8190) lies above the app's own limit (MES_MAX_URL_LENGTH, 4096 by
# default), so an address between the two reaches the app and is answered URI_TOO_LONG by it; a line
# longer than 8190 bytes, or a request that is not valid HTTP, is answered by gunicorn — in the API's
# envelope too (`_write_error` below), not its HTML page. (0 — unlimited — would let a client make a
# worker buffer any amount before the app sees the request.)
limit_request_line = 8190
accesslog = None  # the app writes one JSON line per request itself
errorlog = "-"
loglevel = os.environ.get("MES_GUNICORN_LOGLEVEL", "warning")
_cert, _key = os.environ.get("MES_TLS_CERT"), os.environ.get("MES_TLS_KEY")
if bool(_cert) != bool(_key):
    raise SystemExit("Set both MES_TLS_CERT and MES_TLS_KEY, or neither.")
if _cert:
    certfile, keyfile = _cert, _key

# /metrics under gunicorn (app/metrics.py): every worker writes its counts into one folder, which a
# scrape adds up. A folder of its own per server (PROMETHEUS_MULTIPROC_DIR to choose it); the counts of
# the previous start are removed — prometheus-client's own files only (`*.db`), nothing else in it.
import re  # noqa: E402
import tempfile  # noqa: E402

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="linemes-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
_COUNT_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db")  # values.py names them so


def on_starting(server):
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        if _COUNT_FILE.fullmatch(name):
            os.remove(os.path.join(_metrics_dir, name))


def child_exit(server, worker):
    from app.metrics import child_exit as forget_worker
    forget_worker(worker.pid)


# gunicorn's own refusals (Worker.handle_error → util.write_error): the request was never parsed, so
# whether it was for /api is unknown; the answer is the API's envelope with a catalogued code either
# way (a browser never sends such a request), and nosniff like every answer of the app.
import json  # noqa: E402

from gunicorn import util as _gunicorn_util  # noqa: E402

_GUNICORN_CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 414: "URI_TOO_LONG", 431: "HEADERS_TOO_LARGE",
                   500: "INTERNAL_ERROR"}


def _write_error(sock, status_int, reason, mesg):
    from app.services.platform.errors import CATALOGUE
    code = _GUNICORN_CODES.get(status_int, "BAD_REQUEST")
    details = {"reason": mesg} if mesg and status_int < 500 else {}
    body = json.dumps({"error": {"code": code, "message": CATALOGUE[code].message, "hint": CATALOGUE[code].hint,
                                 "details": details}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n")
    _gunicorn_util.write_nonblock(sock, head.encode("latin1") + body)


_gunicorn_util.write_error = _write_error
