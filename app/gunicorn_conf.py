"""gunicorn settings for `make run` and production (`gunicorn -c python:app.gunicorn_conf 'app:create_app()'`),
all from the environment."""
import os

bind = f"{os.environ.get('MES_HOST', '127.0.0.1')}:{os.environ.get('MES_PORT', '5000')}"
workers = int(os.environ.get("MES_WORKERS", "2"))
threads = int(os.environ.get("MES_THREADS", "1"))
timeout = int(os.environ.get("MES_TIMEOUT", "60"))
accesslog = None  # the app writes one JSON line per request itself
errorlog = "-"
loglevel = os.environ.get("MES_GUNICORN_LOGLEVEL", "warning")
_cert, _key = os.environ.get("MES_TLS_CERT"), os.environ.get("MES_TLS_KEY")
if bool(_cert) != bool(_key):
    raise SystemExit("Set both MES_TLS_CERT and MES_TLS_KEY, or neither.")
if _cert:
    certfile, keyfile = _cert, _key
