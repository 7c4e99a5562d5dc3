"""LineMES configuration: defaults here, every value overridable from the environment (12-factor).

`MES_ENV` picks the class (dev / test / prod); `create_app()` validates the result.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("MES_INSTANCE_DIR", PROJECT_ROOT / "instance")).resolve()


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def normalise_database_url(url: str | None) -> str:
    """Return an absolute SQLAlchemy URL.

    Flask-SQLAlchemy resolves relative SQLite paths against the app's instance folder
    (`sqlite:///instance/mes.db` would land in `instance/instance/`), so relative paths are made
    absolute against the project root here, once; the app, backup and restore then open the same file.
    """
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'mes.db'}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:" and not rel.startswith("file:"):
            return f"sqlite:///{(PROJECT_ROOT / rel).resolve()}"
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def dev_secret_key() -> str:
    """A persisted development secret: API-key lookup hashes are keyed by SECRET_KEY, so a new
    random key at every start would invalidate every key."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class BaseConfig:
    MES_ENV = "dev"
    APP_NAME = "LineMES"
    APP_THEME = ""  # never a Bootswatch theme: they @import Google Fonts (offline plants)
    APP_ICON = ""
    SECRET_KEY = os.environ.get("SECRET_KEY")

    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # Connection pool and driver settings: create_app() turns these into SQLALCHEMY_ENGINE_OPTIONS for the
    # database in use (engine_options); the measurements behind the defaults are in sop/ops/sizing.md.
    MES_DB_PRE_PING = _bool("MES_DB_PRE_PING", True)
    MES_DB_POOL_SIZE = int(os.environ.get("MES_DB_POOL_SIZE", "0"))  # 0: MES_THREADS + 1 per worker process
    MES_DB_MAX_OVERFLOW = int(os.environ.get("MES_DB_MAX_OVERFLOW", "2"))
    MES_DB_PREPARE_THRESHOLD = os.environ.get("MES_DB_PREPARE_THRESHOLD", "5")  # psycopg; "off": never prepare

    # Flask-AppBuilder: the schema belongs to Alembic, permissions to `flask mes sync-roles`.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    FAB_SECURITY_MANAGER_CLASS = "app.security.manager.MesSecurityManager"
    FAB_INDEX_VIEW = "app.views.home.HomeView"
    FAB_BASE_TEMPLATE = "mes/base_layout.html"
    FAB_ADD_SECURITY_VIEWS = True
    FAB_ADD_SECURITY_API = False
    FAB_API_SWAGGER_UI = True
    FAB_API_SHOW_STACKTRACE = False
    FAB_API_MAX_PAGE_SIZE = 500
    FAB_API_KEY_ENABLED = True
    FAB_API_KEY_PREFIXES = ["sst_"]
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    AUTH_USERNAME_CI = True

    # Login protection: per-process address limits plus the shared per-user lockout (database).
    RATELIMIT_ENABLED = _bool("MES_RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = "memory://"
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("MES_LOGIN_RATE_LIMIT", "20 per minute")
    MES_LOGIN_LOCKOUT_FAILURES = 5
    MES_LOGIN_LOCKOUT_MINUTES = 5

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # operators keep a terminal open for a whole shift
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)

    JWT_ACCESS_TOKEN_EXPIRES = timedelta(hours=int(os.environ.get("MES_JWT_HOURS", "12")))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=7)

    # Languages (Flask-Babel, app/web/i18n.py): English is the default; the user's choice (the navbar's
    # language menu, kept in a long-lived cookie), else the browser's Accept-Language, picks another.
    # Codes as Flask-AppBuilder's catalogues name them ("zh": Simplified Chinese, FAB's and ours side by
    # side); "tag" is the page's <html lang>, "guides" the folder of the translated guides (sop/zh_CN).
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = {"en": {"flag": "gb", "name": "English", "tag": "en"},
                 "zh": {"flag": "cn", "name": "简体中文", "tag": "zh-CN", "guides": "zh_CN"}}
    BABEL_TRANSLATION_DIRECTORIES = "translations"  # app/translations, after Flask-AppBuilder's own

    MES_TIMEZONE = os.environ.get("MES_TIMEZONE", "UTC")
    # Moisture-sensitive reels (J-STD-033): loading warns when less floor life than this is left.
    MES_MSD_WARN_HOURS = float(os.environ.get("MES_MSD_WARN_HOURS", "4"))
    # The plant's shifts, "NAME=HH:MM,…" (start times in MES_TIMEZONE): the reports' shift buckets and
    # the line board's "this shift".
    MES_SHIFTS = os.environ.get("MES_SHIFTS", "EARLY=06:00,LATE=14:00,NIGHT=22:00")
    # How often a line board reloads its figures (seconds, at least 5).
    MES_BOARD_REFRESH_SECONDS = max(5, int(os.environ.get("MES_BOARD_REFRESH_SECONDS", "30")))
    MES_LOG_FORMAT = os.environ.get("MES_LOG_FORMAT", "json")
    MES_LOG_LEVEL = os.environ.get("MES_LOG_LEVEL", "INFO")
    MES_HOST = os.environ.get("MES_HOST", "127.0.0.1")
    MES_PORT = int(os.environ.get("MES_PORT", "5000"))
    MES_WORKERS = int(os.environ.get("MES_WORKERS", "2"))
    MES_THREADS = int(os.environ.get("MES_THREADS", "1"))
    MES_TLS_CERT = os.environ.get("MES_TLS_CERT")
    MES_TLS_KEY = os.environ.get("MES_TLS_KEY")
    MES_ADMIN_PASSWORD = os.environ.get("MES_ADMIN_PASSWORD")
    MES_INTEGRATION_API_KEY = os.environ.get("MES_INTEGRATION_API_KEY")
    MES_SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("MES_SQLITE_BUSY_TIMEOUT_MS", "10000"))
    # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none).
    MES_PROXY_COUNT = int(os.environ.get("MES_PROXY_COUNT", "0"))
    # Strict-Transport-Security max-age (seconds) sent on requests that arrived over TLS (gunicorn's
    # MES_TLS_CERT, or https at the trusted proxy); 0 turns HSTS off. app/security_headers.py
    MES_HSTS_MAX_AGE = int(os.environ.get("MES_HSTS_MAX_AGE", "31536000"))
    # /metrics: with a token, only `Authorization: Bearer <token>` may read it; without, only 127.0.0.1 / ::1.
    MES_METRICS_TOKEN = os.environ.get("MES_METRICS_TOKEN") or None
    # How many times one unit may be sent to rework (disposition REWORK) before it must be scrapped or held.
    MES_REWORK_LIMIT = int(os.environ.get("MES_REWORK_LIMIT", "3"))
    # The window around now an event time (stencil, paste, equipment, SPI/AOI) must fall in
    # (services/platform/inputs.py): a late machine may resend a month; a clock may run 10 minutes ahead.
    MES_EVENT_MAX_AGE_DAYS = float(os.environ.get("MES_EVENT_MAX_AGE_DAYS", "30"))
    MES_EVENT_MAX_FUTURE_MINUTES = float(os.environ.get("MES_EVENT_MAX_FUTURE_MINUTES", "10"))
    # The largest request body (uploads: master-data import files); larger ones are answered 413.
    MAX_CONTENT_LENGTH = int(os.environ.get("MES_MAX_REQUEST_MB", "32")) * 1024 * 1024
    # The longest request address (path + query) the app takes: longer ones are answered 414
    # (URI_TOO_LONG). gunicorn's own limit (limit_request_line, app/gunicorn_conf.py) lies above it.
    MES_MAX_URL_LENGTH = int(os.environ.get("MES_MAX_URL_LENGTH", "4096"))
    # How deeply a JSON body may nest (the API's bodies use 4 levels at most); deeper → JSON_TOO_DEEP.
    MES_MAX_JSON_DEPTH = int(os.environ.get("MES_MAX_JSON_DEPTH", "32"))


class DevConfig(BaseConfig):
    MES_ENV = "dev"
    # SECRET_KEY: from the environment, else a persisted file in instance/ (see create_app).


class TestConfig(BaseConfig):
    MES_ENV = "test"
    TESTING = True
    SECRET_KEY = os.environ.get("SECRET_KEY") or "test-secret-key-not-for-production"
    MES_LOG_FORMAT = os.environ.get("MES_LOG_FORMAT", "text")
    MES_LOG_LEVEL = os.environ.get("MES_LOG_LEVEL", "WARNING")


class ProdConfig(BaseConfig):
    MES_ENV = "prod"
    SESSION_COOKIE_SECURE = _bool("MES_SECURE_COOKIES", True)


CONFIGS = {"dev": DevConfig, "test": TestConfig, "prod": ProdConfig}


def get_config(env: str | None = None) -> type[BaseConfig]:
    env = (env or os.environ.get("MES_ENV") or "dev").lower()
    if env not in CONFIGS:
        raise RuntimeError(f"MES_ENV must be one of {sorted(CONFIGS)}, not {env!r}")
    return CONFIGS[env]


def engine_options(config: dict) -> dict:
    """SQLAlchemy engine options for the configured database. Every engine: the pool pings a connection
    before handing it out (`MES_DB_PRE_PING`, a `SELECT 1` per request: a restarted database costs no
    failed request). PostgreSQL: a pool per worker process of `MES_DB_POOL_SIZE` connections (default
    one per thread plus one) and `MES_DB_MAX_OVERFLOW` more under a burst, so that workers × pool stays
    well under the server's max_connections; psycopg prepares a statement on the server after
    `MES_DB_PREPARE_THRESHOLD` executions on a connection (0: at once, "off": never; behind PgBouncer in
    transaction mode use "off")."""
    options: dict = {"pool_pre_ping": bool(config.get("MES_DB_PRE_PING", True))}
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        threads = int(config.get("MES_THREADS") or 1)
        options["pool_size"] = int(config.get("MES_DB_POOL_SIZE") or 0) or threads + 1
        options["max_overflow"] = int(config.get("MES_DB_MAX_OVERFLOW", 2))
        threshold = str(config.get("MES_DB_PREPARE_THRESHOLD", "5")).strip().lower()
        options["connect_args"] = {"prepare_threshold": None if threshold in ("off", "none", "") else int(threshold)}
    return options


def validate_config(config: dict) -> None:
    """Fail at start-up, with a clear message, on a configuration that cannot be right."""
    if not config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set (required outside development).")
    if bool(config.get("MES_TLS_CERT")) != bool(config.get("MES_TLS_KEY")):
        raise RuntimeError("Set both MES_TLS_CERT and MES_TLS_KEY, or neither.")
    if config.get("MES_LOG_FORMAT") not in ("json", "text"):
        raise RuntimeError("MES_LOG_FORMAT must be 'json' or 'text'.")
    limit = config.get("MES_REWORK_LIMIT", 3)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise RuntimeError("MES_REWORK_LIMIT must be a whole number ≥ 0 (0: no rework at all).")
    if config.get("MES_TIMEZONE"):
        from zoneinfo import ZoneInfo
        try:
            ZoneInfo(config["MES_TIMEZONE"])
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise RuntimeError(f"MES_TIMEZONE {config['MES_TIMEZONE']!r} is not a known time zone "
                               "(e.g. UTC, Europe/Berlin).") from None
    from app.services.reporting.period import parse_shifts
    try:
        parse_shifts(config.get("MES_SHIFTS"))
    except ValueError as error:
        raise RuntimeError(str(error)) from None
