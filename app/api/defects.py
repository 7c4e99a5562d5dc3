"""Defects, dispositions, rework tasks and SPI/AOI results (spec 03_api; rules in 02_rules §8)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from ..models.quality import DISPOSITION_TYPES
from ..services.platform.inputs import Key, Text, Whole
from ..services.quality import defects, inspection_results
from ..web.filters import parse_page
from .base import MesBaseApi, load_json, ok, requires
from .integration import _raw_json


class DefectSchema(Schema):
    sn = Key("sn", required=True)
    code = Key("defect_code", load_default=None, allow_none=True)  # the service answers DEFECT_CODE_REQUIRED
    location = Text(128, single_line=True, load_default=None, allow_none=True)
    description = Text(load_default=None, allow_none=True)


class DispositionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(DISPOSITION_TYPES))
    reason = Text(load_default="", allow_none=True)
    toStepNo = Whole("step_no", load_default=None, allow_none=True, strict=True)


class ReasonSchema(Schema):
    reason = Text(load_default="", allow_none=True)


class RemarkSchema(Schema):
    remark = Text(load_default=None, allow_none=True)


class DefectApi(MesBaseApi):
    resource_name = "defects"
    route_base = "/api/v1"
    openapi_spec_tag = "Quality"

    @expose("/defects", methods=["GET"])
    @requires("quality:disposition", "run:read", any_of=True)
    def list_defects(self, actor):
        """Defects of your lines, newest first (filters: status, runNo, sn; paged), each with its
        disposition and rework task.
        ---
        get:
          responses:
            200: {description: "`{data: [defect], meta}`"}
        """
        page, size = parse_page(request.args)
        rows, total = defects.list_defects(actor=actor, status=request.args.get("status"),
                                           run_no=request.args.get("runNo"), sn=request.args.get("sn"),
                                           page=page, page_size=size)
        return ok(rows, meta={"page": page, "pageSize": size, "total": total})

    @expose("/defects/queue", methods=["GET"])
    @requires("quality:disposition", "run:read", any_of=True)
    def queue(self, actor):
        """The defect queue: units with open defects or a hold, oldest first, with the next action,
        the failure step and the steps a rework may go back to (filters: lineCode, runNo; `sort` a column —
        since, sn, runNo, lineCode, unitStatus, currentStepNo, reworkCount, nextAction — and `order` asc|desc).
        ---
        get:
          parameters:
          - {in: query, name: sort, schema: {type: string}}
          - {in: query, name: order, schema: {type: string, enum: [asc, desc]}}
          responses:
            200: {description: "`{data: [unit entry with defects]}`"}
        """
        return ok(defects.defect_queue(actor=actor, line_code=request.args.get("lineCode") or None,
                                       run_no=request.args.get("runNo") or None, sort=request.args.get("sort"),
                                       order=request.args.get("order")))

    @expose("/defects", methods=["POST"])
    @requires("quality:disposition")
    def record(self, actor):
        """Record a defect by hand `{sn, code, location?, description?}` on a QUEUED unit (→ OUT_FAILED).
        ---
        post:
          responses:
            201: {description: "`{data: defect}`"}
            400: {description: UNIT_IN_STATION, UNIT_STATE_INVALID, DEFECT_CODE_REQUIRED, DEFECT_CODE_NOT_FOUND}
        """
        body = load_json(DefectSchema())
        defect = defects.record_defect(actor=actor, sn=body["sn"], code=body.get("code"),
                                       location=body.get("location"), description=body.get("description"))
        return ok(defects.defect_to_dict(defect), 201)

    @expose("/defects/<int:defect_id>/disposition", methods=["POST"])
    @requires("quality:disposition")
    def disposition(self, defect_id, actor):
        """Decide `{type REWORK|SCRAP|HOLD, reason, toStepNo?}` for all open defects of the unit.
        ---
        post:
          responses:
            200: {description: "`{data: {defect, defects, unit, reworkTask}}`"}
            404: {description: DEFECT_NOT_FOUND}
        """
        body = load_json(DispositionSchema())
        return ok(defects.decide(actor=actor, defect_id=defect_id, disposition_type=body["type"],
                                 reason=body.get("reason"), to_step_no=body.get("toStepNo")))

    @expose("/defects/<int:defect_id>/release", methods=["POST"])
    @requires("quality:disposition")
    def release(self, defect_id, actor):
        """Release a held unit `{reason}`: QUEUED at its step, the held defects CLOSED.
        ---
        post:
          responses:
            200: {description: "`{data: {defect, defects, unit}}`"}
            404: {description: DEFECT_NOT_FOUND}
        """
        body = load_json(ReasonSchema())
        return ok(defects.release(actor=actor, defect_id=defect_id, reason=body.get("reason")))

    @expose("/rework-tasks", methods=["GET"])
    @requires("quality:disposition", "run:read", any_of=True)
    def rework_tasks(self, actor):
        """Rework tasks of your lines, newest first (filters: status, runNo, sn).
        ---
        get:
          responses:
            200: {description: "`{data: [rework task]}`"}
        """
        return ok(defects.list_rework_tasks(actor=actor, status=request.args.get("status"),
                                            run_no=request.args.get("runNo"), sn=request.args.get("sn")))

    @expose("/rework-tasks/<int:task_id>/complete", methods=["POST"])
    @requires("quality:disposition")
    def complete_rework_task(self, task_id, actor):
        """Close an OPEN rework task by hand `{remark?}`.
        ---
        post:
          responses:
            200: {description: "`{data: rework task}`"}
            404: {description: REWORK_TASK_NOT_FOUND}
        """
        body = load_json(RemarkSchema())
        task = defects.complete_rework_task(actor=actor, task_id=task_id, remark=body.get("remark"))
        return ok(defects.rework_task_to_dict(task))

    @expose("/integration/inspection-results", methods=["POST"])
    @requires("integration:inbound", "quality:inspection_result", any_of=True)
    def inspection_result(self, actor):
        """SPI/AOI result `{eventId, eventTime, type SPI|AOI, sn, stationCode, stepNo?, result PASS|FAIL,
        defects:[{code, location?, description?}]}`: the integration account records AUTO, a person
        (quality, leader, an operator at their own station) MANUAL as themselves; idempotent by eventId.
        ---
        post:
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: "`{data: record + effect, unitStatus, defectIds, duplicate}`"}
            422: {description: VALIDATION_ERROR (logged as a FAILED message)}
        """
        return ok(inspection_results.receive_inspection_result(actor=actor, payload=_raw_json()).data)
