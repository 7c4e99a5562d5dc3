"""All REST APIs registered in one place."""
from __future__ import annotations

from flask_appbuilder import AppBuilder

from .audit import AuditEventApi
from .master import MASTER_DATA_APIS


def register_apis(appbuilder: AppBuilder) -> None:
    for api in MASTER_DATA_APIS:
        appbuilder.add_api(api)
    appbuilder.add_api(AuditEventApi)
