"""Plugs the later capabilities into the run and execution lifecycle (the lists in services/runs.py,
services/execution.py and services/trace.py). Called once by create_app(); idempotent."""
from __future__ import annotations

from . import defects, execution, genealogy, inspection_results, inspections, mrb, oqc, readiness, runs, trace


def _add(hooks: list, hook) -> None:
    if hook not in hooks:
        hooks.append(hook)


def install() -> None:
    _add(runs.RUN_CREATED_HOOKS, readiness.precheck_on_run_created)
    _add(runs.PRE_AUTHORIZE_HOOKS, readiness.ensure_current_formal)
    _add(runs.AUTHORIZE_GATES, readiness.readiness_gate)
    _add(execution.TRACK_OUT_HOOKS, genealogy.record_material_use)
    _add(trace.UNIT_TRACE_SECTIONS, genealogy.trace_materials)
    _add(trace.UNIT_TRACE_SECTIONS, readiness.trace_readiness)
    _add(runs.AUTHORIZE_GATES, inspections.fai_authorize_gate)
    _add(execution.PREP_RUN_GATES, inspections.fai_trial_gate)
    _add(execution.TRACK_IN_CHECKS, inspections.fai_trial_check)
    _add(trace.UNIT_TRACE_SECTIONS, inspections.trace_inspections)
    _add(execution.TRACK_OUT_FORCERS, inspection_results.force_track_out)
    _add(execution.TRACK_OUT_HOOKS, defects.close_rework_tasks)
    _add(trace.UNIT_TRACE_SECTIONS, inspection_results.trace_inspection_results)
    _add(trace.UNIT_TRACE_SECTIONS, defects.trace_dispositions)
    _add(runs.CLOSEOUT_HOOKS, oqc.oqc_closeout)
    inspections.COMPLETERS["OQC"] = oqc.complete_oqc
    _add(trace.UNIT_TRACE_SECTIONS, mrb.trace_mrb)
    for index, phase in enumerate((readiness.readiness_phase, readiness.loading_phase, inspections.fai_phase)):
        if phase not in runs.RUN_PHASES:
            runs.RUN_PHASES.insert(index, phase)  # before Authorize
