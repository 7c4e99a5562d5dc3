"""The one place that connects the contexts: every extension point of production and every record
rule of master data, filled once by create_app(). The only services module that imports every
context (the import contract lets no other module do it, tests/unit/test_architecture.py).

Read the table as "when production does X, it also runs Y" — in this order.
"""
from __future__ import annotations

from ..models import DataCollectionSpec, OqcSamplingRule
from .engineering import data_specs, master_data, oqc_rules
from .preparation import genealogy, loading, readiness
from .production import extension_points as ep
from .quality import defects, inspection_results, inspections, mrb, oqc, spc_alarms

# extension point → the functions it runs, in order
EXTENSIONS: list[tuple[list, tuple]] = [
    # a run (services/production/runs.py)
    (ep.RUN_CREATED_HOOKS, (readiness.precheck_on_run_created,)),
    (ep.PRE_AUTHORIZE_HOOKS, (readiness.ensure_current_formal,)),
    (ep.AUTHORIZE_GATES, (readiness.readiness_gate, inspections.fai_authorize_gate)),
    (ep.CLOSEOUT_HOOKS, (oqc.oqc_closeout,)),
    (ep.PREPARATION_PHASES, (readiness.readiness_phase, readiness.loading_phase, inspections.fai_phase)),
    # a scan (services/production/execution.py)
    (ep.PREP_RUN_GATES, (inspections.fai_trial_gate,)),
    (ep.TRACK_IN_CHECKS, (inspections.fai_trial_check,)),
    (ep.SCAN_FLAGS, (("inspection_fail", inspection_results.fail_waiting_for_track_out),
                     ("spc", spc_alarms.armed_specs_flag))),
    (ep.TRACK_OUT_FORCERS, (inspection_results.force_track_out,)),
    (ep.TRACK_OUT_DATA_HOOKS, (spc_alarms.evaluate_at_track_out,)),
    (ep.TRACK_OUT_HOOKS, (genealogy.record_material_use, defects.close_rework_tasks)),
    # the unit trace (services/production/trace.py)
    (ep.UNIT_TRACE_SECTIONS, (genealogy.trace_materials, readiness.trace_readiness, inspections.trace_inspections,
                              inspection_results.trace_inspection_results, defects.trace_dispositions,
                              mrb.trace_mrb)),
    (ep.RUN_TRACE_SECTIONS, (readiness.trace_run_readiness, loading.trace_run_loading,
                             inspections.trace_run_inspections, mrb.trace_run_mrb)),
]

# record → its own rule beyond fields, references and uniqueness (master_data.validate_save)
ENTITY_RULES: list[tuple[type, object]] = [
    (DataCollectionSpec, data_specs.check_fields),
    (OqcSamplingRule, oqc_rules.check_rule_fields),
]


def install() -> None:
    """Fill the extension points and entity rules (idempotent: a second app in the same process, as
    in the tests, finds them filled)."""
    for point, functions in EXTENSIONS:
        point[:] = list(functions)
    for cls, rule in ENTITY_RULES:
        master_data.register_entity_rule(cls, rule)
