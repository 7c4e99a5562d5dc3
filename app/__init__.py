"""LineMES application factory: config → extensions → logging → errors → views/APIs → CLI."""
from __future__ import annotations

from typing import Any, Optional

from flask import Flask
from flask_appbuilder import AppBuilder

import config as config_module

from . import database
from .extensions import csrf, db, migrate
from .version import __version__  # noqa: F401  (the release, app.__version__)


def create_app(overrides: Optional[dict[str, Any]] = None) -> Flask:
    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR),
                template_folder="templates", static_folder="static")
    app.config.from_object(config_module.get_config())
    if overrides:
        app.config.update(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalise_database_url(
        app.config.get("SQLALCHEMY_DATABASE_URI"))
    if not app.config.get("SECRET_KEY") and app.config["MES_ENV"] == "dev":
        app.config["SECRET_KEY"] = config_module.dev_secret_key()
    config_module.validate_config(app.config)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**config_module.engine_options(app.config),
                                               **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    from . import request_limits
    request_limits.install(app)  # before any route: the bounded `int` converter, the JSON provider
    _ensure_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config.get("MES_PROXY_COUNT"):
        # behind nginx: the client address (audit, rate limits) and scheme come from the proxy
        from werkzeug.middleware.proxy_fix import ProxyFix
        count = app.config["MES_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    from .logging_setup import configure_logging
    configure_logging(app)
    database.configure(app.config["MES_SQLITE_BUSY_TIMEOUT_MS"])

    from . import models  # noqa: F401  (every table on the shared metadata)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.PROJECT_ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    from .security_headers import register_security_headers
    register_security_headers(app)  # first before_request hooks: the CSP nonce exists for error pages
    csrf.init_app(app)

    with app.app_context():
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        from .web import i18n
        i18n.install(app)  # our locale selector (user's choice, else Accept-Language) over FAB's
        from .api import register_apis
        from .views import register_views
        register_views(appbuilder)
        register_apis(appbuilder)

    from .cli import register_cli
    from .errors import register_error_handlers
    from .health import register_health
    from .metrics import register_metrics
    from .request_hooks import register_request_hooks
    register_health(app)
    # browsers ask for /favicon.ico whatever the page links; the pages link mes/favicon.svg
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("mes/favicon.ico"))
    register_metrics(app)
    register_error_handlers(app)
    register_request_hooks(app)
    request_limits.register(app)
    register_cli(app)

    from .services import wiring
    wiring.install()

    from .security.auth import ambient_actor_provider
    from .services.platform.context import set_actor_provider
    set_actor_provider(ambient_actor_provider)
    return app


def _ensure_sqlite_folder(url: str) -> None:
    """SQLite cannot create the folder of its file; `flask db upgrade` on a fresh machine needs it."""
    if url.startswith("sqlite:////"):
        from pathlib import Path
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
