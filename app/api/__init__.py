"""All REST APIs registered in one place."""
from __future__ import annotations

from flask_appbuilder import AppBuilder

from .accounts import UserAccountApi
from .audit import AuditEventApi
from .defects import DefectApi
from .integration import IntegrationApi
from .master import MASTER_DATA_APIS
from .oqc import MrbApi, OqcSamplingRuleApi
from .production import RunApi, StationExecutionApi, TraceApi, WorkOrderApi
from .quality import InspectionApi
from .readiness import IntegrationStatusApi, ReadinessApi
from .reports import BoardApi, ReportApi
from .routing import DataSpecApi, RoutingApi
from .spc import SpcApi


def register_apis(appbuilder: AppBuilder) -> None:
    for api in MASTER_DATA_APIS:
        appbuilder.add_api(api)
    appbuilder.add_api(AuditEventApi)
    appbuilder.add_api(UserAccountApi)
    appbuilder.add_api(RoutingApi)
    appbuilder.add_api(DataSpecApi)
    appbuilder.add_api(IntegrationApi)
    for api in (WorkOrderApi, RunApi, StationExecutionApi, TraceApi, ReadinessApi, IntegrationStatusApi,
                InspectionApi, OqcSamplingRuleApi, MrbApi, DefectApi, ReportApi, BoardApi, SpcApi):
        appbuilder.add_api(api)
