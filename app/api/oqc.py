"""OQC sampling rules and MRB decisions (spec 03_api; rules in 02_rules §9).

The OQC inspection itself uses the inspection endpoints of api/quality.py (start, items, complete);
it is created by the run's closeout (`POST /runs/{runNo}/close` → 409 OQC_REQUIRED).
"""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from ..models.quality import MRB_DECISIONS, REWORK_TYPES, SAMPLING_TYPES
from ..services.engineering import oqc_rules
from ..services.platform.inputs import Key, Text, Whole
from ..services.production import runs
from ..services.quality import mrb
from .base import MesBaseApi, load_json, ok, requires


class RuleSchema(Schema):
    name = Text(128, single_line=True, allow_none=True)
    productCode = Key("code", allow_none=True)
    lineCode = Key("code", allow_none=True)
    routingCode = Key("code", allow_none=True)
    samplingType = fields.String(allow_none=True, validate=validate.OneOf(SAMPLING_TYPES))
    sampleValue = fields.Raw(allow_none=True)  # a JSON number: the service says what a valid value is
    priority = Whole("priority", strict=True)
    isActive = fields.Boolean()


class MrbDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(MRB_DECISIONS))
    reason = Text(required=True)
    reworkType = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REWORK_TYPES))
    reworkFromStepNo = Whole("step_no", load_default=None, allow_none=True, strict=True)
    faiWaiver = fields.Boolean(load_default=False)
    faiWaiverReason = Text(load_default=None, allow_none=True)
    password = fields.String(load_default=None, allow_none=True)  # the signer's, for the electronic signature


def _flag(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower() in ("1", "true", "yes")


class OqcSamplingRuleApi(MesBaseApi):
    resource_name = "oqc-sampling-rules"
    route_base = "/api/v1/oqc-sampling-rules"
    openapi_spec_tag = "Quality"

    @expose("", methods=["GET"])
    @requires("quality:oqc")
    def list_rules(self, actor):
        """Sampling rules (filters: active, productCode, lineCode).
        ---
        get:
          parameters:
          - {in: query, name: active, schema: {type: boolean}}
          - {in: query, name: productCode, schema: {type: string}}
          - {in: query, name: lineCode, schema: {type: string}}
          responses:
            200: {description: "`{data: [rule], meta}`"}
        """
        rows = oqc_rules.list_rules(actor=actor, active=_flag(request.args.get("active")),
                              product_code=request.args.get("productCode"), line_code=request.args.get("lineCode"))
        return ok([oqc_rules.rule_to_dict(r) for r in rows], meta={"page": 1, "pageSize": len(rows), "total": len(rows)})

    @expose("", methods=["POST"])
    @requires("quality:oqc")
    def create(self, actor):
        """Create a rule `{samplingType PERCENTAGE|FIXED, sampleValue, productCode?, lineCode?, routingCode?,
        priority?, isActive?, name?}`; empty scope fields match every run.
        ---
        post:
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            201: {description: "`{data: rule}`"}
            422: {description: VALIDATION_ERROR}
        """
        return ok(oqc_rules.rule_to_dict(oqc_rules.create_rule(actor=actor, fields=load_json(RuleSchema()))), 201)

    @expose("/<int:rule_id>", methods=["GET"])
    @requires("quality:oqc")
    def get(self, rule_id, actor):
        """One rule.
        ---
        get:
          parameters: [{in: path, name: rule_id, required: true, schema: {type: integer}}]
          responses:
            200: {description: "`{data: rule}`"}
            404: {description: SAMPLING_RULE_NOT_FOUND}
        """
        return ok(oqc_rules.rule_to_dict(oqc_rules.read_rule(actor=actor, rule_id=rule_id)))

    @expose("/<int:rule_id>", methods=["PATCH"])
    @requires("quality:oqc")
    def patch(self, rule_id, actor):
        """Change a rule (only the given fields; deactivate with `isActive: false` instead of deleting).
        ---
        patch:
          parameters: [{in: path, name: rule_id, required: true, schema: {type: integer}}]
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: "`{data: rule}`"}
            404: {description: SAMPLING_RULE_NOT_FOUND}
        """
        fields_ = load_json(RuleSchema(), partial=True)
        return ok(oqc_rules.rule_to_dict(oqc_rules.update_rule(actor=actor, rule_id=rule_id, fields=fields_)))


class MrbApi(MesBaseApi):
    resource_name = "mrb"
    route_base = "/api/v1"
    openapi_spec_tag = "Quality"

    @expose("/runs/<run_no>/mrb-decision", methods=["POST"])
    @requires("quality:mrb")
    def decide(self, run_no, actor):
        """The MRB decision on a held run `{decision RELEASE|SCRAP|REWORK, reason, password, reworkType?,
        reworkFromStepNo?, faiWaiver?, faiWaiverReason?}`; a terminal run answers its last decision. The
        decision is an electronic signature: the signer's `password` (403 SIGNATURE_INVALID when wrong).
        ---
        post:
          responses:
            200: {description: "`{data: {run, reworkRunNo, decision}}`"}
            404: {description: RUN_NOT_FOUND}
        """
        body = load_json(MrbDecisionSchema())
        result = mrb.decide(actor=actor, run_no=run_no, request=mrb.MrbRequest(
            decision=body["decision"], reason=body["reason"], rework_type=body.get("reworkType"),
            rework_from_step_no=body.get("reworkFromStepNo"), fai_waiver=bool(body.get("faiWaiver")),
            fai_waiver_reason=body.get("faiWaiverReason")), password=body.get("password"))
        return ok({"run": runs.run_to_dict(result.run, detail=True),
                   "reworkRunNo": result.rework_run.run_no if result.rework_run else None,
                   "decision": mrb.decision_to_dict(result.decision) if result.decision else None,
                   "idempotent": result.idempotent})

    @expose("/runs/<run_no>/mrb-decisions", methods=["GET"])
    @requires("run:read")
    def decisions(self, run_no, actor):
        """The run's MRB decisions, oldest first.
        ---
        get:
          responses:
            200: {description: "`{data: [decision]}`"}
        """
        return ok(mrb.decisions_for_run(actor=actor, run_no=run_no))
