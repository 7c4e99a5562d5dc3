"""Flask-AppBuilder's data interface for the master-data screens and model APIs.

FAB's `SQLAInterface` commits each write itself and, when the database refuses it, re-raises the
driver's exception (add) or wraps it in `DatabaseException` (edit, delete), which FAB's model API
answers with a 422 carrying the SQL statement and its parameters, and its screens with a bare flash.
The master-data rules (services/engineering/master_data.py) run before every write, so a refusal here
means a parallel write got there first (e.g. on PostgreSQL the unique index decides between two creates
of one code) or the database stayed busy: this interface turns it into the rule's catalogued
DomainError (`<ENTITY>_CODE_DUPLICATE` naming the field, `<ENTITY>_IN_USE`, DATABASE_BUSY,
MASTER_DATA_CONFLICT), which the API answers in its envelope and the screens put on the form.
"""
from __future__ import annotations

from typing import Any, Callable

from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy.exc import SQLAlchemyError

from ..services.engineering import master_data


class MasterDataInterface(SQLAInterface):
    def _write(self, item: Any, write: Callable[[], None], *, deleting: bool = False) -> None:
        keys = master_data.write_keys(item)
        try:
            write()
        except (SQLAlchemyError, DatabaseException) as error:
            self.session.rollback()  # FAB rolled back already; a second rollback is harmless
            raise master_data.refused_write(type(item), keys, error, deleting=deleting) from None

    def add(self, item: Any, commit: bool = True) -> None:
        self._write(item, lambda: super(MasterDataInterface, self).add(item, commit))

    def edit(self, item: Any, commit: bool = True) -> None:
        self._write(item, lambda: super(MasterDataInterface, self).edit(item, commit))

    def delete(self, item: Any, commit: bool = True) -> None:
        self._write(item, lambda: super(MasterDataInterface, self).delete(item, commit), deleting=True)
