"""One JSON object per log line on stdout (time, level, request id, user, method, path, status,
duration, error code) — or plain text when MES_LOG_FORMAT=text."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from .services.platform.context import request_id_var

_REQUEST_FIELDS = ("user", "method", "path", "status", "duration_ms", "error_code", "ip")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for field in _REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        rid = getattr(record, "request_id", None) or request_id_var.get()
        return f"{base} [rid={rid}]" if rid else base


def configure_logging(app) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if app.config.get("MES_LOG_FORMAT") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_mes", False):
            root.removeHandler(existing)
    handler._mes = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config.get("MES_LOG_LEVEL", "INFO"))
    # FAB and the libraries are chatty at INFO (every permission, every view registered).
    for noisy in ("flask_appbuilder", "werkzeug", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
