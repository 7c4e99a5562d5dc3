"""All models, imported once so Alembic and the app see the same metadata."""
from .base import Model, metadata  # noqa: F401  (sets the naming convention first)
from .master import (  # noqa: F401
    BomItem, DefectCode, Equipment, Line, Material, MaterialLot, MsdEvent, Operation, Product, Station,
    StationGroup,
)
from .routing import (  # noqa: F401
    DataCollectionSpec, ExecutableRouteVersion, RouteExecutionConfig, Routing, RoutingStep,
    route_config_data_spec,
)
from .integration import IntegrationMessage  # noqa: F401
from .production import DataValue, Defect, Run, Track, Unit, WorkOrder  # noqa: F401
from .readiness import (  # noqa: F401
    EquipmentStatusEvent, FeederSlot, LineSolderPaste, LineStencil, LoadingRecord, MaterialUse, ReadinessCheck,
    ReadinessItem, RunSlotExpectation, SlotMaterialMapping, SolderPasteStatus, StencilStatus,
)
from .quality import (  # noqa: F401
    Disposition, Inspection, InspectionItem, InspectionResult, MrbDecision, OqcSamplingRule, ReworkTask,
)
from .audit import AuditArchive, AuditEvent, ElectronicSignature  # noqa: F401
from .reporting import FpySlot, SummaryHour  # noqa: F401
from .spc import SpcAlarm, SpcChart  # noqa: F401
from .security import MesUser, RoleScope, SecurityVersion, user_line_binding, user_station_binding  # noqa: F401
