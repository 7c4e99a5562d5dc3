"""Routings, compile and versions; data-collection specs (spec 03_api)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from ..models.master import PROCESS_TYPES, STATION_TYPES
from ..models.routing import DATA_TYPES, ITEM_TYPES, LIMIT_ACTIONS, METHODS
from ..services.engineering import data_specs, routing
from ..services.platform.errors import DomainError
from ..services.platform.inputs import Key, Number, Text, Whole
from ..web.filters import parse_page
from .base import MesBaseApi, load_json, ok, requires


class StepSchema(Schema):
    stepNo = Whole("step_no", required=True, strict=True)
    operationCode = Key("code", required=True)
    stationGroupCode = Key("code", load_default=None, allow_none=True)
    stationType = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATION_TYPES))
    requiresFai = fields.Boolean(load_default=False)


class ConfigSchema(Schema):
    scope = fields.String(required=True, validate=validate.OneOf(("ROUTE", "OPERATION", "STEP")))
    stepNo = Whole("step_no", load_default=None, allow_none=True, strict=True)
    operationCode = Key("code", load_default=None, allow_none=True)
    stationType = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATION_TYPES))
    stationGroupCode = Key("code", load_default=None, allow_none=True)
    allowedStationCodes = fields.List(Key("code"), load_default=None, allow_none=True)
    requiresFai = fields.Boolean(load_default=None, allow_none=True)
    dataSpecs = fields.List(fields.Raw(), load_default=list)


class RoutingSchema(Schema):
    code = Key("code", required=True)
    name = Text(200, single_line=True, validate=validate.Length(min=1))
    productCode = Key("code", allow_none=True)
    processType = fields.String(validate=validate.OneOf(PROCESS_TYPES))
    effectiveFrom = fields.AwareDateTime(allow_none=True)
    effectiveTo = fields.AwareDateTime(allow_none=True)
    versionLabel = Text(32, single_line=True, allow_none=True)
    isActive = fields.Boolean()
    steps = fields.List(fields.Nested(StepSchema))
    executionConfig = fields.List(fields.Nested(ConfigSchema))


def _routing_input(body: dict, code: str) -> routing.RoutingInput:
    steps = body.get("steps")
    config = body.get("executionConfig")
    return routing.RoutingInput(
        code=code, name=body.get("name"), product_code=body.get("productCode"),
        process_type=body.get("processType"), effective_from=body.get("effectiveFrom"),
        effective_to=body.get("effectiveTo"), version_label=body.get("versionLabel"),
        is_active=body.get("isActive"),
        steps=None if steps is None else [routing.StepInput(
            step_no=s["stepNo"], operation_code=s["operationCode"], station_group_code=s["stationGroupCode"],
            station_type=s["stationType"], requires_fai=s["requiresFai"]) for s in steps],
        execution_config=None if config is None else [routing.ConfigInput(
            scope=c["scope"], step_no=c["stepNo"], operation_code=c["operationCode"], station_type=c["stationType"],
            station_group_code=c["stationGroupCode"], allowed_station_codes=c["allowedStationCodes"],
            requires_fai=c["requiresFai"], data_specs=c["dataSpecs"]) for c in config])


class RoutingApi(MesBaseApi):
    resource_name = "routings"
    route_base = "/api/v1/routings"
    openapi_spec_tag = "Routings"

    @expose("", methods=["GET"])
    @requires("route:read")
    def list_routings(self, actor):
        """List routings with their latest version.
        ---
        get:
          parameters:
          - {in: query, name: productCode, schema: {type: string}}
          - {in: query, name: q, schema: {type: string}}
          - {in: query, name: sort, schema: {type: string, enum: [code, name, productCode, processType, sourceSystem, isActive]}}
          - {in: query, name: order, schema: {type: string, enum: [asc, desc]}}
          responses:
            200: {description: "`{data: [routing]}`"}
        """
        rows = routing.list_routings(actor=actor, product_code=request.args.get("productCode"),
                                     q=request.args.get("q"), sort=request.args.get("sort"),
                                     order=request.args.get("order"))
        return ok([routing.routing_to_dict(r, with_versions=True) for r in rows])

    @expose("", methods=["POST"])
    @requires("route:configure")
    def create(self, actor):
        """Create an MES routing with steps and execution config.
        ---
        post:
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            201: {description: "`{data: routing}`"}
            409: {description: ROUTING_CODE_DUPLICATE}
        """
        body = load_json(RoutingSchema())
        for required in ("name", "processType"):
            if required not in body:
                raise DomainError("VALIDATION_ERROR", f"{required} is required.", {"fields": {required: "required"}})
        created = routing.create_routing(actor=actor, data=_routing_input(body, body["code"]))
        return ok(routing.routing_to_dict(created, with_versions=True), 201)

    @expose("/<routing_code>", methods=["GET"])
    @requires("route:read")
    def get(self, routing_code, actor):
        """A routing with steps, execution config and its latest version.
        ---
        get:
          parameters: [{in: path, name: routing_code, required: true, schema: {type: string}}]
          responses:
            200: {description: "`{data: routing}`"}
            404: {description: ROUTE_NOT_FOUND}
        """
        routing_service_require = routing.get_routing(routing_code)
        return ok(routing.routing_to_dict(routing_service_require, with_versions=True))

    @expose("/<routing_code>", methods=["PUT"])
    @requires("route:configure")
    def put(self, routing_code, actor):
        """Change the header; replace steps (MES routings) and/or execution config when given.
        ---
        put:
          parameters: [{in: path, name: routing_code, required: true, schema: {type: string}}]
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: "`{data: routing}`"}
            400: {description: ROUTE_READ_ONLY and other rule codes}
        """
        body = load_json(RoutingSchema(), partial=("code",))
        updated = routing.update_routing(actor=actor, data=_routing_input(body, routing_code))
        return ok(routing.routing_to_dict(updated, with_versions=True))

    @expose("/<routing_code>/compile", methods=["POST"])
    @requires("route:compile")
    def compile(self, routing_code, actor):
        """Compile into an executable version (READY or INVALID with per-step errors).
        ---
        post:
          parameters: [{in: path, name: routing_code, required: true, schema: {type: string}}]
          responses:
            200: {description: "`{data: {versionNo, status, errors[], created}}`"}
            404: {description: ROUTE_NOT_FOUND}
        """
        result = routing.compile_routing(actor=actor, routing_code=routing_code)
        return ok({**routing.version_to_dict(result.version), "created": result.created})

    @expose("/<routing_code>/versions", methods=["GET"])
    @requires("route:read")
    def versions(self, routing_code, actor):
        """Version history, newest first.
        ---
        get:
          parameters: [{in: path, name: routing_code, required: true, schema: {type: string}}]
          responses:
            200: {description: "`{data: [version]}`"}
        """
        return ok([routing.version_to_dict(v) for v in routing.list_versions(actor=actor, routing_code=routing_code)])

    @expose("/<routing_code>/versions/<int:version_no>", methods=["GET"])
    @requires("route:read")
    def version_detail(self, routing_code, version_no, actor):  # not `version`: that names the API version (v1)
        """One version with its frozen snapshot.
        ---
        get:
          parameters:
          - {in: path, name: routing_code, required: true, schema: {type: string}}
          - {in: path, name: version_no, required: true, schema: {type: integer}}
          responses:
            200: {description: "`{data: version with snapshot}`"}
        """
        version = routing.get_version(actor=actor, routing_code=routing_code, version_no=version_no)
        return ok(routing.version_to_dict(version, with_snapshot=True))


class DataSpecSchema(Schema):
    operationCode = Key("code")
    name = Text(128, single_line=True, validate=validate.Length(min=1))
    description = Text(allow_none=True)
    itemType = fields.String(validate=validate.OneOf(ITEM_TYPES))
    dataType = fields.String(validate=validate.OneOf(DATA_TYPES))
    enumOptions = fields.List(Text(64, single_line=True), allow_none=True, validate=validate.Length(max=200))
    method = fields.String(validate=validate.OneOf(METHODS))
    uom = Text(32, single_line=True, allow_none=True)
    lsl = Number("measurement", allow_none=True)
    target = Number("measurement", allow_none=True)
    usl = Number("measurement", allow_none=True)
    limitAction = fields.String(allow_none=True, validate=validate.OneOf(LIMIT_ACTIONS))
    isRequired = fields.Boolean()
    isActive = fields.Boolean()


_SPEC_FIELDS = {"name": "name", "description": "description", "itemType": "item_type", "dataType": "data_type",
                "enumOptions": "enum_options", "method": "method", "uom": "uom", "lsl": "lsl", "target": "target",
                "usl": "usl", "limitAction": "limit_action", "isRequired": "is_required", "isActive": "is_active"}


def _spec_fields(body: dict) -> dict:
    return {_SPEC_FIELDS[k]: v for k, v in body.items() if k in _SPEC_FIELDS}


class DataSpecApi(MesBaseApi):
    resource_name = "data-collection-specs"
    route_base = "/api/v1/data-collection-specs"
    openapi_spec_tag = "Data collection specs"

    @expose("", methods=["GET"])
    @requires("data_spec:read")
    def list_specs(self, actor):
        """Specs, filtered.
        ---
        get:
          parameters:
          - {in: query, name: operationCode, schema: {type: string}}
          - {in: query, name: name, schema: {type: string}}
          - {in: query, name: dataType, schema: {type: string}}
          - {in: query, name: active, schema: {type: boolean}}
          responses:
            200: {description: "`{data: [spec], meta}`"}
        """
        active = request.args.get("active")
        query = data_specs.SpecQuery(operation_code=request.args.get("operationCode"),
                                     name=request.args.get("name"), data_type=request.args.get("dataType"),
                                     is_active=None if active is None else active.lower() in ("1", "true", "yes"))
        page, size = parse_page(request.args, default_size=100)
        rows, total = data_specs.list_specs(actor=actor, query=query, page=page, page_size=size)
        return ok([data_specs.spec_to_dict(s) for s in rows], meta={"page": page, "pageSize": size, "total": total})

    @expose("", methods=["POST"])
    @requires("data_spec:config")
    def create(self, actor):
        """Create a spec.
        ---
        post:
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            201: {description: "`{data: spec}`"}
            400: {description: DATA_SPEC_LIMITS_INVALID}
            409: {description: DATA_SPEC_NAME_DUPLICATE}
        """
        body = load_json(DataSpecSchema())
        for required in ("operationCode", "name"):
            if required not in body:
                raise DomainError("VALIDATION_ERROR", f"{required} is required.", {"fields": {required: "required"}})
        spec = data_specs.create_spec(actor=actor, operation_code=body["operationCode"], fields=_spec_fields(body))
        return ok(data_specs.spec_to_dict(spec), 201)

    @expose("/<int:spec_id>", methods=["GET"])
    @requires("data_spec:read")
    def get(self, spec_id, actor):
        """One spec.
        ---
        get:
          parameters: [{in: path, name: spec_id, required: true, schema: {type: integer}}]
          responses:
            200: {description: "`{data: spec}`"}
        """
        return ok(data_specs.spec_to_dict(data_specs.get_spec(spec_id)))

    @expose("/<int:spec_id>", methods=["PATCH"])
    @requires("data_spec:config")
    def patch(self, spec_id, actor):
        """Change a spec (only the given fields).
        ---
        patch:
          parameters: [{in: path, name: spec_id, required: true, schema: {type: integer}}]
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: "`{data: spec}`"}
        """
        body = load_json(DataSpecSchema(), partial=True)
        spec = data_specs.update_spec(actor=actor, spec_id=spec_id, fields=_spec_fields(body),
                                      operation_code=body.get("operationCode"))
        return ok(data_specs.spec_to_dict(spec))
