"""/health (liveness) and /ready (database reachable and at the migration head)."""
from __future__ import annotations

from functools import lru_cache

from alembic.script import ScriptDirectory
from alembic.config import Config as AlembicConfig
from flask import Flask, jsonify
from sqlalchemy import text

import config as config_module

from .extensions import db


@lru_cache(maxsize=1)
def migration_head() -> str:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(config_module.PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""


def database_status() -> dict:
    status = {"db": "ok", "head": migration_head()}
    try:
        db.session.execute(text("SELECT 1"))
        try:
            status["migration"] = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            db.session.rollback()
            status["migration"] = None
    except Exception as exc:
        db.session.rollback()
        status["db"] = f"error: {exc.__class__.__name__}"
        status["migration"] = None
    finally:
        db.session.rollback()
    return status


def register_health(app: Flask) -> None:
    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    @app.get("/ready")
    def ready():
        status = database_status()
        if status["db"] != "ok":
            return jsonify({"status": "unavailable", "db": status["db"], "migration": None}), 503
        if status["migration"] != status["head"]:
            return jsonify({"status": "unavailable", "db": "ok", "migration": status["migration"],
                            "expected": status["head"]}), 503
        return jsonify({"status": "ok", "db": "ok", "migration": status["migration"]})
