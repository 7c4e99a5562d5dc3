"""Configuration: database URL normalisation and start-up validation."""
import pytest

import config


def test_relative_sqlite_paths_resolve_against_the_project_root():
    url = config.normalise_database_url("sqlite:///instance/mes.db")
    assert url == f"sqlite:///{config.PROJECT_ROOT / 'instance' / 'mes.db'}"


def test_default_database_is_the_instance_file():
    assert config.normalise_database_url(None) == f"sqlite:///{config.INSTANCE_DIR / 'mes.db'}"


def test_absolute_sqlite_and_postgres_urls():
    assert config.normalise_database_url("sqlite:////var/lib/mes.db") == "sqlite:////var/lib/mes.db"
    assert config.normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert config.normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("overrides,message", [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"MES_TLS_CERT": "/c.pem", "MES_TLS_KEY": None}, "MES_TLS_CERT and MES_TLS_KEY"),
    ({"MES_LOG_FORMAT": "xml"}, "MES_LOG_FORMAT"),
])
def test_invalid_configuration_fails_at_start(overrides, message):
    values = {"SECRET_KEY": "x", "MES_TLS_CERT": None, "MES_TLS_KEY": None, "MES_LOG_FORMAT": "json"}
    values.update(overrides)
    with pytest.raises(RuntimeError, match=message):
        config.validate_config(values)


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.setenv("MES_ENV", "prod")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    from app import create_app
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": None})


def test_flask_appbuilder_defaults_that_fight_alembic_are_off():
    assert config.BaseConfig.FAB_CREATE_DB is False
    assert config.BaseConfig.FAB_UPDATE_PERMS is False
    assert config.BaseConfig.APP_THEME == ""
