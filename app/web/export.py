"""The CSV and XLSX files of the console's lists and reports and of the API's `format=csv|xlsx`.

Column headers and sheet titles (N_-marked msgids) are written in the export's language
(app/web/i18n.py export_locale): a file from a console button in the user's language (a plant's Excel
users in China read Chinese headers), a file from the API in English — stable names for integrations —
unless the call asks `lang=zh`. The cells (codes, statuses, numbers, times) are the same in every language.
Files meant to be imported again keep their import headers in every language: the master-data exports
(views/base.py, the import sheets' columns) and the import templates call csv_response / xlsx_response /
xlsx_template directly."""
from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from flask import Response, stream_with_context

from ..models import Unit
from ..services.platform.errors import DomainError
from ..services.production.work_orders import unit_tallies
from .i18n import N_, in_export_language

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_ROWS = 100_000  # the most rows a paged list (work orders, runs) exports in one file


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    text = str(value)
    # keep spreadsheet programs from executing cell content (CSV injection)
    if text[:1] in ("=", "+", "-", "@") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _xlsx_cell(value: Any) -> Any:
    """A cell for openpyxl: numbers as numbers; text guarded like the CSV's and without the control
    characters a workbook cannot hold (data typed through the API may carry them)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    cell = _cell(value)
    if isinstance(cell, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        cell = ILLEGAL_CHARACTERS_RE.sub("", cell)
    return cell


def csv_response(filename_stem: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel opens UTF-8 correctly with a BOM
        writer.writerow(header)
        yield buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([_cell(v) for v in row])
            yield buffer.getvalue()

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename_stem}-{stamp}.csv"'})


def xlsx_response(filename_stem: str, sheets: list[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> Response:
    """An XLSX workbook with one sheet per (title, header, rows), header bold. Written in openpyxl's
    write-only mode (rows go to temporary files as they come, not into memory) and sent from a
    temporary file in chunks: a large export streams."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        heading = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            heading.append(cell)
        sheet.append(heading)
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
    spool = tempfile.TemporaryFile()
    workbook.save(spool)
    spool.seek(0)

    def chunks():
        with spool:
            while block := spool.read(256 * 1024):
                yield block

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(chunks(), mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename_stem}-{stamp}.xlsx"'})


def _headed(header: Sequence[str]) -> list[str]:
    return [in_export_language(name) for name in header]


def _sheets(sheets: list[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> list:
    """(title, header, rows) sheets with their titles and headers in the export's language."""
    return [(in_export_language(title), _headed(header), rows) for title, header, rows in sheets]


def list_export(fmt: str, stem: str, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A console list as CSV or as an XLSX workbook of one sheet (`fmt` is csv or xlsx), its header and
    title in the export's language."""
    if fmt == "csv":
        return csv_response(stem, _headed(header), rows)
    return xlsx_response(stem, _sheets([(title, header, rows)]))


def work_orders_export(fmt: str, rows) -> Response:
    """The Work Orders list (console and `GET /api/v1/work-orders?format=`): rows are work orders,
    turned into cells now, inside the request (the response streams after the session is gone)."""
    header = [N_("WO"), N_("status"), N_("product"), N_("planned qty"), N_("good"), N_("scrap"), N_("in work"),
              N_("routing"), N_("line"), N_("source"), N_("due date"), N_("released at"), N_("closed at")]
    rows = list(rows)
    counts = unit_tallies(Unit.work_order_id, [w.id for w in rows])  # each board once
    return list_export(fmt, "work-orders", N_("Work orders"), header, [
        [w.wo_no, w.status, w.product.code, w.planned_qty, counts[w.id]["good"], counts[w.id]["scrap"],
         counts[w.id]["inWork"], w.routing.code if w.routing else "", w.line.code if w.line else "",
         w.source_system, w.due_date, w.released_at, w.closed_at] for w in rows])


def runs_export(fmt: str, runs: list[dict]) -> Response:
    """The Runs list (console and `GET /api/v1/runs?format=`) from the runs as the API shows them, with
    their good / scrap / in-work units (`runs.with_unit_tallies`)."""
    header = [N_("run"), N_("status"), N_("WO"), N_("product"), N_("line"), N_("plan qty"), N_("good"), N_("scrap"),
              N_("in work"), N_("routing"), N_("version"), N_("started"), N_("ended")]
    return list_export(fmt, "runs", N_("Runs"), header, [
        [d["runNo"], d["status"], d["workOrder"]["woNo"], d["workOrder"]["productCode"], d["line"]["code"],
         d["planQty"], d["good"], d["scrap"], d["inWork"], d["routeVersion"]["routingCode"],
         d["routeVersion"]["versionNo"], d["startedAt"], d["endedAt"]] for d in runs])


def audit_export(fmt: str, events: Iterable) -> Response:
    """The Audit Log (console and `GET /api/v1/audit-events?format=`): every event the filters match,
    read as the file is written."""
    header = [N_("at"), N_("actor"), N_("actor type"), N_("roles"), N_("action"), N_("entity type"), N_("entity key"),
              N_("status"), N_("error code"), N_("reason"), N_("diff"), N_("request id"), N_("ip")]
    return list_export(fmt, "audit-events", N_("Audit events"), header, (
        [e.at.isoformat(), e.actor_username, e.actor_type, e.actor_roles, e.action, e.entity_type,
         e.entity_key, e.status, e.error_code, e.reason, _json(e.diff), e.request_id, e.ip] for e in events))


def _json(value: Any) -> str | None:
    """A JSON column as JSON text (not Python's repr: double quotes, null, true), for a file's cell."""
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def recall_export(data: dict, fmt: str) -> Response:
    """Lot recall as CSV (the units) or XLSX (units, runs, work orders, products)."""
    lot = data["lot"]
    stem = f"recall-{lot['materialCode']}-{lot['lotNo']}"
    unit_header = [N_("material"), N_("lot"), N_("sn"), N_("unit status"), N_("run"), N_("WO"), N_("product"),
                   N_("step"), N_("slot"), N_("used at")]
    unit_rows = [[lot["materialCode"], lot["lotNo"], u["sn"], u["status"], u["runNo"], u["woNo"], u["productCode"],
                  u["stepNo"], u["slotCode"], u["usedAt"]] for u in data["units"]]
    if fmt == "csv":
        return csv_response(stem, _headed(unit_header), unit_rows)
    return xlsx_response(stem, _sheets([
        (N_("Units"), unit_header, unit_rows),
        (N_("Runs"), [N_("run"), N_("units")], [[r["runNo"], r["units"]] for r in data["runs"]]),
        (N_("Work orders"), [N_("WO"), N_("units")], [[w["woNo"], w["units"]] for w in data["workOrders"]]),
        (N_("Products"), [N_("product"), N_("units")], [[p["productCode"], p["units"]] for p in data["products"]]),
    ]))


def xlsx_template(filename_stem: str, sheets: list[tuple[str, list[tuple[str, str]]]]) -> Response:
    """An empty import template: one sheet per (title, [(header, note)]), the header row bold, each
    header's note as a cell comment, the columns wide enough to read."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, columns in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append([header for header, _ in columns])
        for cell, (header, note) in zip(sheet[1], columns):
            cell.font = Font(bold=True)
            if note:
                cell.comment = Comment(note, "LineMES")
            sheet.column_dimensions[cell.column_letter].width = max(12, len(header) + 4)
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Response(buffer.getvalue(), mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename_stem}.xlsx"'})


def _defects_text(defects: list[dict]) -> str:
    return "; ".join(f"{d['code']} at {d['stepNo']} ({d['status']})" for d in defects)


def run_trace_export(data: dict, fmt: str) -> Response:
    """A run's trace as CSV (its units) or XLSX (units, defects, inspections, readiness, loading, MRB)."""
    run = data["run"]["runNo"]
    unit_header = [N_("run"), N_("sn"), N_("status"), N_("current step"), N_("rework count"), N_("tracks"),
                   N_("failed tracks"), N_("last step"), N_("last result"), N_("defects")]
    unit_rows = [[run, u["sn"], u["status"], u["currentStepNo"], u["reworkCount"], u["tracks"], u["failedTracks"],
                  u["lastStepNo"], u["lastResult"], _defects_text(u["defects"])] for u in data["units"]]
    stem = f"run-trace-{run}"
    if fmt == "csv":
        return csv_response(stem, _headed(unit_header), unit_rows)
    defects = [[u["sn"], d["code"], d["stepNo"], d["status"], d["source"]] for u in data["units"] for d in u["defects"]]
    inspections = [[i["id"], i["type"], i["status"], i["sampleQty"], i["passedQty"], i["failedQty"], i.get("decidedBy"),
                    i.get("signedBy")] for i in data.get("inspections", [])]
    readiness = [[c["id"], c["kind"], c["status"], c["checkedAt"], c["checkedBy"], i["itemType"], i["status"],
                  i["failCode"], i["waivedBy"], i["waiveReason"]]
                 for c in data.get("readinessChecks", []) for i in c["items"]]
    loading = [[r["slotCode"], r["barcode"], r["verifyResult"], r["status"], r["failReason"], r["replaceReason"],
                r["loadedBy"], r["loadedAt"]] for r in data.get("loadingRecords", [])]
    mrb = [[m["decision"], m["reason"], m["reworkType"], m["reworkRunNo"], m["decidedBy"], m["decidedAt"]]
           for m in data.get("mrbDecisions", [])]
    return xlsx_response(stem, _sheets([
        (N_("Units"), unit_header, unit_rows),
        (N_("Defects"), [N_("sn"), N_("code"), N_("step"), N_("status"), N_("source")], defects),
        (N_("Inspections"), [N_("id"), N_("type"), N_("status"), N_("sample"), N_("passed"), N_("failed"),
                             N_("decided by"), N_("signed by")], inspections),
        (N_("Readiness"), [N_("check"), N_("kind"), N_("status"), N_("checked at"), N_("checked by"), N_("item"),
                           N_("item status"), N_("fail code"), N_("waived by"), N_("waive reason")], readiness),
        (N_("Loading"), [N_("slot"), N_("barcode"), N_("result"), N_("status"), N_("fail reason"),
                         N_("replace reason"), N_("by"), N_("at")], loading),
        (N_("MRB"), [N_("decision"), N_("reason"), N_("rework type"), N_("rework run"), N_("decided by"),
                     N_("decided at")], mrb),
    ]))


def unit_trace_export(data: dict, fmt: str) -> Response:
    """A unit's trace as CSV (one row per data value, or per track without values) or XLSX (tracks with
    their values, defects, materials, inspections)."""
    sn = data["unit"]["sn"]
    header = [N_("sn"), N_("step"), N_("operation"), N_("station"), N_("operator"), N_("in"), N_("out"), N_("result"),
              N_("mode"), N_("spec"), N_("value"), N_("judge"), N_("lsl"), N_("usl"), N_("uom")]
    rows = []
    for t in data["tracks"]:
        head = [sn, t["stepNo"], t["operation"], t["station"], t["operator"], t["inAt"], t["outAt"], t["result"],
                t["mode"]]
        for v in t["dataValues"] or [None]:
            rows.append(head + ([v["spec"], v["value"], v["judge"], v["lsl"], v["usl"], v["uom"]] if v else
                                [None] * 6))
    stem = f"unit-trace-{sn}"
    if fmt == "csv":
        return csv_response(stem, _headed(header), rows)
    defects = [[d["code"], d["stepNo"], d["location"], d["status"], d["source"], d["recordedAt"]]
               for d in data["defects"]]
    materials = [[m["materialCode"], m["lotNo"], m["slotCode"], m["stepNo"]] for m in data.get("materials", [])]
    inspections = [[i["id"], i["type"], i["status"], i.get("decidedBy"), i.get("signedBy")]
                   for i in data.get("inspections", [])]
    return xlsx_response(stem, _sheets([
        (N_("Tracks"), header, rows),
        (N_("Defects"), [N_("code"), N_("step"), N_("location"), N_("status"), N_("source"), N_("recorded at")], defects),
        (N_("Materials"), [N_("material"), N_("lot"), N_("slot"), N_("step")], materials),
        (N_("Inspections"), [N_("id"), N_("type"), N_("status"), N_("decided by"), N_("signed by")], inspections),
    ]))


# ---------------------------------------------------------------------------------------------
# Reports: each report is a list of tables (key, sheet title, header, rows); the XLSX has them all,
# one per sheet, the CSV the one its `section` names (the first by default).
# ---------------------------------------------------------------------------------------------

Table = tuple[str, str, list[str], list[list[Any]]]


def _period_table(data: dict) -> Table:
    period, filters = data["period"], data["filters"]
    return ("period", N_("Period"), [N_("from"), N_("to"), N_("bucket"), N_("time zone"), N_("line"), N_("product")],
            [[period["from"], period["to"], period["bucket"], period["timeZone"], filters["lineCode"] or "all",
              filters["productCode"] or "all"]])


def production_tables(data: dict) -> list[Table]:
    output, plan, wip = data["output"], data["plan"], data["wip"]
    return [
        ("output", N_("Output"), [N_("bucket"), N_("bucket start"), N_("line"), N_("product"), N_("output"),
                                  N_("scrapped")],
         [[r["bucket"], r["start"], r["lineCode"], r["productCode"], r["output"], r["scrapped"]] for r in output["rows"]]),
        ("buckets", N_("Output per bucket"), [N_("bucket"), N_("bucket start"), N_("output"), N_("scrapped"),
                                              N_("plan")],
         [[r["bucket"], r["start"], r["output"], r["scrapped"], r["plan"]] for r in output["byBucket"]]),
        ("runs", N_("Runs"), [N_("run"), N_("WO"), N_("line"), N_("product"), N_("status"), N_("plan qty"),
                              N_("done"), N_("scrapped"), N_("WIP"), N_("output in period"), N_("achievement"),
                              N_("started"), N_("ended")],
         [[r["runNo"], r["woNo"], r["lineCode"], r["productCode"], r["status"], r["planQty"], r["done"], r["scrapped"],
           r["wip"], r["outputInPeriod"], r["achievement"], r["startedAt"], r["endedAt"]] for r in plan["runs"]]),
        ("workOrders", N_("Work orders"), [N_("WO"), N_("product"), N_("status"), N_("planned qty"), N_("done"),
                                           N_("scrapped"), N_("WIP"), N_("output in period"), N_("achievement"),
                                           N_("runs")],
         [[w["woNo"], w["productCode"], w["status"], w["plannedQty"], w["done"], w["scrapped"], w["wip"],
           w["outputInPeriod"], w["achievement"], ", ".join(w["runs"])] for w in plan["workOrders"]]),
        ("wip", N_("WIP"), [N_("line"), N_("step"), N_("operation"), N_("queued"), N_("in station"), N_("out failed"),
                            N_("on hold"), N_("total")],
         [[r["lineCode"], r["stepNo"], r["operationCode"], r["queued"], r["inStation"], r["outFailed"], r["onHold"],
           r["total"]] for r in wip["byStep"]]),
        _period_table(data),
    ]


def _pareto_rows(rows: list[dict], keys: list[str]) -> list[list[Any]]:
    return [[r[k] for k in keys] + [r["qty"], r["share"], r["cumulativeShare"]] for r in rows]


def quality_tables(data: dict) -> list[Table]:
    pareto, holds = data["pareto"], data["holds"]
    share = [N_("qty"), N_("share"), N_("cumulative share")]
    return [
        ("fpy", N_("First-pass yield"), [N_("line"), N_("step"), N_("operation"), N_("first track-outs"),
                                         N_("first pass"), N_("FPY")],
         [[r["lineCode"], r["stepNo"], r["operationCode"], r["firstTrackOuts"], r["firstPass"], r["fpy"]]
          for r in data["fpy"]]),
        ("rty", N_("Rolled throughput yield"), [N_("line"), N_("RTY")], [[r["lineCode"], r["rty"]] for r in data["rty"]]),
        ("trend", N_("FPY trend"), [N_("bucket"), N_("bucket start"), N_("line"), N_("RTY"), N_("first track-outs")],
         [[r["bucket"], r["start"], r["lineCode"], r["rty"], r["firstTrackOuts"]] for r in data["fpyTrend"]]),
        ("pareto", N_("Defects by code"), [N_("code")] + share, _pareto_rows(pareto["byCode"], ["code"])),
        ("paretoSteps", N_("Defects by step"), [N_("line"), N_("step"), N_("operation")] + share,
         _pareto_rows(pareto["byStep"], ["lineCode", "stepNo", "operationCode"])),
        ("paretoLines", N_("Defects by line"), [N_("line")] + share, _pareto_rows(pareto["byLine"], ["lineCode"])),
        ("scrapRework", N_("Scrap and rework"), [N_("line"), N_("scrapped"), N_("reworked")],
         [[r["lineCode"], r["scrapped"], r["reworked"]] for r in data["scrapRework"]["byLine"]]),
        ("holds", N_("Units on hold"), [N_("sn"), N_("run"), N_("line"), N_("product"), N_("step"), N_("operation"),
                                        N_("defect codes"), N_("since"), N_("age (h)"), N_("decided by"),
                                        N_("reason")],
         [[u["sn"], u["runNo"], u["lineCode"], u["productCode"], u["stepNo"], u["operationCode"],
           ", ".join(u["defectCodes"]), u["since"], u["ageHours"], u["decidedBy"], u["reason"]] for u in holds["units"]]),
        ("runHolds", N_("Runs on hold"), [N_("run"), N_("WO"), N_("line"), N_("product"), N_("OQC"), N_("OQC failed"),
                                          N_("since"), N_("age (h)")],
         [[r["runNo"], r["woNo"], r["lineCode"], r["productCode"], r["oqcId"], r["oqcFailed"], r["since"],
           r["ageHours"]] for r in holds["runs"]]),
        ("oqc", N_("OQC"), [N_("OQC"), N_("run"), N_("line"), N_("product"), N_("status"), N_("sample"), N_("passed"),
                            N_("failed"), N_("decided by"), N_("decided at")],
         [[r["id"], r["runNo"], r["lineCode"], r["productCode"], r["status"], r["sampleQty"], r["passedQty"],
           r["failedQty"], r["decidedBy"], r["decidedAt"]] for r in data["oqc"]["rows"]]),
        ("mrb", N_("MRB"), [N_("run"), N_("line"), N_("product"), N_("decision"), N_("reason"), N_("rework type"),
                            N_("rework run"), N_("decided by"), N_("decided at")],
         [[r["runNo"], r["lineCode"], r["productCode"], r["decision"], r["reason"], r["reworkType"], r["reworkRunNo"],
           r["decidedBy"], r["decidedAt"]] for r in data["mrb"]["rows"]]),
        _period_table(data),
    ]


def report_export(stem: str, tables: list[Table], fmt: str, section: str | None = None) -> Response:
    """A report as XLSX (every table a sheet) or CSV (the table `section` names, the first by default),
    titles and headers in the export's language."""
    if fmt == "xlsx":
        return xlsx_response(stem, _sheets([(title, header, rows) for _, title, header, rows in tables]))
    for key, _, header, rows in tables:
        if key == (section or tables[0][0]):
            return csv_response(f"{stem}-{key}", _headed(header), rows)
    keys = [key for key, *_ in tables]
    raise DomainError("VALIDATION_ERROR", f"section must be one of {', '.join(keys)}, not {section!r}.",
                      {"fields": {"section": keys}})


SPC_HEADER = ["point", "time (UTC)", "value", "dispersion", "boards", "rules fired", "center", "lcl", "ucl"]


def spc_export(fmt: str, data: dict) -> Response:
    """An SPC chart's points (`GET /api/v1/spc/{specId}?format=csv|xlsx`, the SPC Charts screen) with the
    limits they were judged against; the XLSX adds a sheet with the limits and the capability."""
    limits = data.get("limits") or {}
    rows = [[p["index"] + 1, p["at"], p["value"], p["dispersion"], " ".join(p["sns"]),
             " ".join(str(r) for r in p["rules"]), limits.get("center"), limits.get("lcl"), limits.get("ucl")]
            for p in data["points"]]
    stem = f"spc-{data['spec']['name']}"
    if fmt == "csv":
        return csv_response(stem, SPC_HEADER, rows)
    figures = [["frozen limits", limits.get("frozen")]] + [[k, v] for k, v in limits.items() if k != "frozen"]
    figures += [[k, v] for k, v in (data.get("capability") or {}).items()]
    return xlsx_response(stem, [("Points", SPC_HEADER, rows), ("Limits and capability", ["figure", "value"], figures)])
