"""Quality REST endpoints (spec 03_api): FAI and OQC inspections."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields

from ..services.platform.inputs import Text
from ..services.production import runs
from ..services.quality import inspections
from .base import MesBaseApi, load_json, ok, requires
from .integration import _raw_json


class FaiCreateSchema(Schema):
    sampleQty = fields.Raw(required=True)  # the service says what a valid quantity is
    remark = Text(load_default=None, allow_none=True)


class SignSchema(Schema):
    remark = Text(load_default=None, allow_none=True)
    password = fields.String(load_default=None, allow_none=True)  # the signer's, for the electronic signature


class InspectionApi(MesBaseApi):
    resource_name = "inspections"
    route_base = "/api/v1"
    openapi_spec_tag = "Quality"

    @expose("/runs/<run_no>/fai", methods=["POST"])
    @requires("quality:fai")
    def create_fai(self, run_no, actor):
        """Create the run's FAI `{sampleQty, remark?}` (run PREP, FORMAL readiness passed).
        ---
        post:
          responses:
            201: {description: "`{data: inspection}`"}
            409: {description: FAI_ALREADY_EXISTS}
        """
        body = load_json(FaiCreateSchema())
        inspection = inspections.create_fai(actor=actor, run_no=run_no, sample_qty=body["sampleQty"],
                                            remark=body.get("remark"))
        return ok(inspections.inspection_to_dict(inspection), 201)

    @expose("/runs/<run_no>/inspections", methods=["GET"])
    @requires("run:read")
    def for_run(self, run_no, actor):
        """The run's inspections (`type` query: FAI or OQC); OQC entries include `sampledSns`.
        ---
        get:
          responses:
            200: {description: "`{data: [inspection]}`"}
        """
        return ok(inspections.list_for_run(actor=actor, run_no=run_no, kind=request.args.get("type") or None))

    @expose("/inspections/<int:inspection_id>", methods=["GET"])
    @requires("run:read")
    def get(self, inspection_id, actor):
        """An inspection with its items and trial units (FAI) or sampled SNs (OQC).
        ---
        get:
          responses:
            200: {description: "`{data: inspection}`"}
            404: {description: INSPECTION_NOT_FOUND}
        """
        return ok(inspections.get(actor=actor, inspection_id=inspection_id))

    @expose("/inspections/<int:inspection_id>/start", methods=["POST"])
    @requires("quality:fai", "quality:oqc", any_of=True)
    def start(self, inspection_id, actor):
        """PENDING → INSPECTING (`quality:fai` or `quality:oqc` by type).
        ---
        post:
          responses:
            200: {description: "`{data: inspection}`"}
        """
        return ok(inspections.inspection_to_dict(inspections.start(actor=actor, inspection_id=inspection_id)))

    @expose("/inspections/<int:inspection_id>/items", methods=["POST"])
    @requires("quality:fai", "quality:oqc", any_of=True)
    def add_item(self, inspection_id, actor):
        """Record an item `{unitSn, itemName, itemSpec?, actualValue?, result PASS|FAIL|NA, defectCode?}`.
        ---
        post:
          responses:
            201: {description: "`{data: inspection}`"}
        """
        inspections.add_item(actor=actor, inspection_id=inspection_id, payload=_raw_json())
        return ok(inspections.get(actor=actor, inspection_id=inspection_id), 201)

    @expose("/inspections/<int:inspection_id>/complete", methods=["POST"])
    @requires("quality:fai", "quality:oqc", any_of=True)
    def complete(self, inspection_id, actor):
        """Decide `{decision PASS|FAIL, remark?, password?}`; an OQC decision is an electronic signature:
        `password` (the signer's) is required (403 SIGNATURE_INVALID when wrong, nothing changes).
        ---
        post:
          responses:
            200: {description: "`{data: inspection + runStatus}`"}
        """
        inspection = inspections.complete(actor=actor, inspection_id=inspection_id, payload=_raw_json())
        data = inspections.inspection_to_dict(inspection)
        data["runStatus"] = runs.get_run(data["runNo"]).status  # an OQC decision moves the run (§9)
        return ok(data)

    @expose("/inspections/<int:inspection_id>/sign", methods=["POST"])
    @requires("quality:fai_sign")
    def sign(self, inspection_id, actor):
        """Sign a PASS FAI `{password, remark?}` (once; a signed FAI is immutable): an electronic signature
        "FAI approved", the signer re-enters their password (403 SIGNATURE_INVALID when wrong).
        ---
        post:
          responses:
            200: {description: "`{data: inspection}`"}
        """
        body = load_json(SignSchema())
        return ok(inspections.inspection_to_dict(inspections.sign(actor=actor, inspection_id=inspection_id,
                                                                  password=body.get("password"),
                                                                  remark=body.get("remark"))))
