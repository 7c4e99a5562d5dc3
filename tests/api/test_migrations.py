"""Alembic owns the whole schema: the migrated database matches the models (no drift), the
migrations run on an empty database, and downgrade → upgrade round-trips."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db
from app.models import metadata


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                           "include_object": _include})
    return compare_metadata(context, metadata)


def _include(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "alembic_version")


def test_models_and_migrations_do_not_drift(app_ctx):
    with db.engine.connect() as connection:
        diff = _diff(connection)
    assert diff == [], "models and migrations differ; generate a migration (flask db migrate) and review it"


def test_every_table_of_the_models_exists(app_ctx):
    existing = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= existing


def test_downgrade_and_upgrade_round_trip(app_ctx):
    from flask_migrate import downgrade, upgrade
    downgrade(revision="base")
    assert "audit_event" not in inspect(db.engine).get_table_names()
    upgrade()
    assert "audit_event" in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        assert _diff(connection) == []
