"""Alembic environment for LineMES.

- target_metadata is Flask-AppBuilder's Model.metadata (every table lives there; db.metadata is empty).
- SQLite: batch mode (render_as_batch) and transactional DDL — app/database.py makes pysqlite emit
  BEGIN before DDL, so a failing migration rolls back as a whole instead of leaving half a schema.
- Our TypeDecorators are rendered as their implementation types (autogenerate would otherwise
  emit an unimportable `app.models.base.UTCDateTime()`).
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import context
from flask import current_app

from app.models import metadata
from app.models.base import UTCDateTime

config = context.config
logger = logging.getLogger("alembic.env")
target_metadata = metadata


def render_item(type_, obj, autogen_context):
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, sa.JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def include_object(obj, name, type_, reflected, compare_to):
    # sqlite's internal tables and the migration bookkeeping are not ours to manage
    if type_ == "table" and name in ("alembic_version",):
        return False
    return True


def _options(connection) -> dict:
    is_sqlite = connection.dialect.name == "sqlite"
    return dict(
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        transactional_ddl=True,
        compare_type=True,
        render_item=render_item,
        include_object=include_object,
    )


def run_migrations_offline() -> None:
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    context.configure(url=url, literal_binds=True, target_metadata=target_metadata,
                      render_item=render_item, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(connection=connection, **_options(connection))
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
