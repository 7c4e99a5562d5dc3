"""One small CSV helper shared by every list export (FAB 5 ModelViews have none)."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from flask import Response, stream_with_context


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
    """An XLSX workbook with one sheet per (title, header, rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(buffer.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename_stem}-{stamp}.xlsx"'})


def recall_export(data: dict, fmt: str) -> Response:
    """Lot recall as CSV (the units) or XLSX (units, runs, work orders, products)."""
    lot = data["lot"]
    stem = f"recall-{lot['materialCode']}-{lot['lotNo']}"
    unit_header = ["material", "lot", "sn", "unit status", "run", "WO", "product", "step", "slot", "used at"]
    unit_rows = [[lot["materialCode"], lot["lotNo"], u["sn"], u["status"], u["runNo"], u["woNo"], u["productCode"],
                  u["stepNo"], u["slotCode"], u["usedAt"]] for u in data["units"]]
    if fmt == "csv":
        return csv_response(stem, unit_header, unit_rows)
    return xlsx_response(stem, [
        ("Units", unit_header, unit_rows),
        ("Runs", ["run", "units"], [[r["runNo"], r["units"]] for r in data["runs"]]),
        ("Work orders", ["WO", "units"], [[w["woNo"], w["units"]] for w in data["workOrders"]]),
        ("Products", ["product", "units"], [[p["productCode"], p["units"]] for p in data["products"]]),
    ])


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
    return Response(buffer.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename_stem}.xlsx"'})


def _defects_text(defects: list[dict]) -> str:
    return "; ".join(f"{d['code']} at {d['stepNo']} ({d['status']})" for d in defects)


def run_trace_export(data: dict, fmt: str) -> Response:
    """A run's trace as CSV (its units) or XLSX (units, defects, inspections, readiness, loading, MRB)."""
    run = data["run"]["runNo"]
    unit_header = ["run", "sn", "status", "current step", "rework count", "tracks", "failed tracks", "last step",
                   "last result", "defects"]
    unit_rows = [[run, u["sn"], u["status"], u["currentStepNo"], u["reworkCount"], u["tracks"], u["failedTracks"],
                  u["lastStepNo"], u["lastResult"], _defects_text(u["defects"])] for u in data["units"]]
    stem = f"run-trace-{run}"
    if fmt == "csv":
        return csv_response(stem, unit_header, unit_rows)
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
    return xlsx_response(stem, [
        ("Units", unit_header, unit_rows),
        ("Defects", ["sn", "code", "step", "status", "source"], defects),
        ("Inspections", ["id", "type", "status", "sample", "passed", "failed", "decided by", "signed by"], inspections),
        ("Readiness", ["check", "kind", "status", "checked at", "checked by", "item", "item status", "fail code",
                       "waived by", "waive reason"], readiness),
        ("Loading", ["slot", "barcode", "result", "status", "fail reason", "replace reason", "by", "at"], loading),
        ("MRB", ["decision", "reason", "rework type", "rework run", "decided by", "decided at"], mrb),
    ])


def unit_trace_export(data: dict, fmt: str) -> Response:
    """A unit's trace as CSV (one row per data value, or per track without values) or XLSX (tracks with
    their values, defects, materials, inspections)."""
    sn = data["unit"]["sn"]
    header = ["sn", "step", "operation", "station", "operator", "in", "out", "result", "mode", "spec", "value",
              "judge", "lsl", "usl", "uom"]
    rows = []
    for t in data["tracks"]:
        head = [sn, t["stepNo"], t["operation"], t["station"], t["operator"], t["inAt"], t["outAt"], t["result"],
                t["mode"]]
        for v in t["dataValues"] or [None]:
            rows.append(head + ([v["spec"], v["value"], v["judge"], v["lsl"], v["usl"], v["uom"]] if v else
                                [None] * 6))
    stem = f"unit-trace-{sn}"
    if fmt == "csv":
        return csv_response(stem, header, rows)
    defects = [[d["code"], d["stepNo"], d["location"], d["status"], d["source"], d["recordedAt"]]
               for d in data["defects"]]
    materials = [[m["materialCode"], m["lotNo"], m["slotCode"], m["stepNo"]] for m in data.get("materials", [])]
    inspections = [[i["id"], i["type"], i["status"], i.get("decidedBy"), i.get("signedBy")]
                   for i in data.get("inspections", [])]
    return xlsx_response(stem, [
        ("Tracks", header, rows),
        ("Defects", ["code", "step", "location", "status", "source", "recorded at"], defects),
        ("Materials", ["material", "lot", "slot", "step"], materials),
        ("Inspections", ["id", "type", "status", "decided by", "signed by"], inspections),
    ])
