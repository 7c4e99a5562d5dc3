"""Master-data import (Engineering → Import, services/engineering/master_import.py): XLSX and CSV files with
the lists' export headers; dry run per row; all or nothing; audited; idempotent on business keys; the
console's page, templates and exports. The CLI, the 10,000-row file and the export → import round trip
into an empty install are in tests/ops/test_master_import_cli.py."""
from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, BomItem, Material, MaterialLot, Product, Station
from app.models.readiness import SlotMaterialMapping
from app.services.engineering import master_import
from app.services.platform.actor import SYSTEM
from app.services.platform.errors import DomainError
from support import console_login, count, csrf_from


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


NEW_BOARD = {
    "Products": [["Code", "Name", "Process", "Description"], ["P-3001", "Sensor board C", "SMT", "new at go-live"]],
    "Materials": [["Code", "Name", "Category", "Unit"], ["MAT-LED-R", "LED red 0603", "LED", "PCS"],
                  ["MAT-R1K", "Resistor 1k 0402", "RESISTOR", None]],
    "BOM lines": [["Product", "Material", "Qty per board", "Reference designators"],
                  ["P-3001", "MAT-LED-R", 4, "D1-D4"], ["P-3001", "MAT-R1K", 4, "R1-R4"],
                  ["P-3001", "MAT-MCU", 1, "U1"]],
    "Material lots": [["Material", "Lot no", "Supplier", "Qty", "IQC result", "IQC date"],
                      ["MAT-LED-R", "LOT-L-001", "Kingbright", 5000, "ACCEPTED", "2026-11-30"]],
}


def audit_events(*where) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(*where).order_by(AuditEvent.id)).scalars())


def master_counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (Product, Material, BomItem, MaterialLot, Station, SlotMaterialMapping)}


def test_a_dry_run_reports_every_row_and_writes_nothing(app_ctx):
    before, events = master_counts(), count(AuditEvent)
    report = master_import.import_file(actor=SYSTEM, filename="go-live.xlsx", content=workbook(NEW_BOARD),
                                       dry_run=True)
    assert (report.dry_run, report.applied, report.refused) == (True, False, [])
    # in dependency order, whatever the sheets' order; the rows numbered as in the spreadsheet
    assert [(r.sheet, r.row, r.key, r.action) for r in report.rows] == [
        ("Products", 2, "P-3001", "CREATE"), ("Materials", 2, "MAT-LED-R", "CREATE"),
        ("Materials", 3, "MAT-R1K", "CREATE"), ("BOM lines", 2, "P-3001 / MAT-LED-R", "CREATE"),
        ("BOM lines", 3, "P-3001 / MAT-R1K", "CREATE"), ("BOM lines", 4, "P-3001 / MAT-MCU", "CREATE"),
        ("Material lots", 2, "MAT-LED-R / LOT-L-001", "CREATE")]
    assert master_counts() == before and count(AuditEvent) == events


def test_an_import_writes_everything_audited_and_a_second_one_changes_nothing(app_ctx):
    content = workbook(NEW_BOARD)
    start = db.session.execute(select(func.max(AuditEvent.id))).scalar()  # the seed's own events before
    report = master_import.import_file(actor=SYSTEM, filename="go-live.xlsx", content=content)
    assert report.applied and report.counts()["BOM lines"] == {"CREATE": 3, "UPDATE": 0, "UNCHANGED": 0, "REFUSED": 0}
    product = db.session.execute(select(Product).filter_by(code="P-3001")).scalar_one()
    assert (product.name, product.process_type, product.description, product.is_active) == (
        "Sensor board C", "SMT", "new at go-live", True)
    assert db.session.execute(select(Material.uom).filter_by(code="MAT-R1K")).scalar_one() == "PCS"  # the default
    assert sorted((b.material.code, b.qty_per, b.ref_designators) for b in product.bom_items) == [
        ("MAT-LED-R", 4.0, "D1-D4"), ("MAT-MCU", 1.0, "U1"), ("MAT-R1K", 4.0, "R1-R4")]
    lot = db.session.execute(select(MaterialLot).filter_by(lot_no="LOT-L-001")).scalar_one()
    assert (lot.material.code, lot.qty, lot.iqc_result, str(lot.iqc_date)) == ("MAT-LED-R", 5000.0, "ACCEPTED",
                                                                                "2026-11-30")
    # audited: every record as created by the importer, and the import itself with the file's checksum
    creates = audit_events(AuditEvent.id > start, AuditEvent.action.like("%_CREATE"))
    assert {e.actor_username for e in creates} == {"SYSTEM"}
    assert sorted((e.entity_type, e.entity_key) for e in creates) == sorted([
        ("PRODUCT", "P-3001"), ("MATERIAL", "MAT-LED-R"), ("MATERIAL", "MAT-R1K"), ("BOM_ITEM", "P-3001/MAT-LED-R"),
        ("BOM_ITEM", "P-3001/MAT-R1K"), ("BOM_ITEM", "P-3001/MAT-MCU"), ("MATERIAL_LOT", "MAT-LED-R|LOT-L-001")])
    summary, = audit_events(AuditEvent.action == "MASTER_DATA_IMPORT")
    assert (summary.status, summary.entity_key, summary.payload["sha256"], summary.payload["counts"]["Materials"]) == (
        "SUCCESS", "go-live.xlsx", report.sha256, {"CREATE": 2, "UPDATE": 0, "UNCHANGED": 0, "REFUSED": 0})

    events = count(AuditEvent)
    again = master_import.import_file(actor=SYSTEM, filename="go-live.xlsx", content=content)
    assert {r.action for r in again.rows} == {"UNCHANGED"}
    assert count(AuditEvent) == events + 1  # only the import's own event: no record changed


def test_changed_cells_update_the_record_and_empty_cells_keep_it(app_ctx):
    master_import.import_file(actor=SYSTEM, filename="a.xlsx", content=workbook(NEW_BOARD))
    report = master_import.import_file(actor=SYSTEM, filename="materials.csv", content=csv_bytes([
        ["Code", "Name", "Category", "Unit", "Active"],
        ["MAT-LED-R", "LED red 0603 (Kingbright)", "", "", "no"],
        ["MAT-R1K", "Resistor 1k 0402", "RESISTOR", "PCS", "yes"]]))
    assert [(r.row, r.action, r.changes) for r in report.rows] == [
        (2, "UPDATE", {"Name": "LED red 0603 (Kingbright)", "Active": False}), (3, "UNCHANGED", {})]
    led = db.session.execute(select(Material).filter_by(code="MAT-LED-R")).scalar_one()
    assert (led.name, led.category, led.uom, led.is_active) == ("LED red 0603 (Kingbright)", "LED", "PCS", False)
    update, = audit_events(AuditEvent.action == "MATERIAL_UPDATE", AuditEvent.entity_key == "MAT-LED-R")
    assert update.diff == {"before": {"name": "LED red 0603", "is_active": True},
                           "after": {"name": "LED red 0603 (Kingbright)", "is_active": False}}


def bad_rows_file() -> bytes:
    sheets = {k: [list(r) for r in v] for k, v in NEW_BOARD.items()}
    sheets["BOM lines"] += [["P-3001", "MAT-NOPE", 1, "U9"],     # row 5: unknown material
                            ["P-3001", "MAT-R1K", "four", "R5"],  # row 6: not a number
                            ["P-3001", "MAT-C100N", 0, "C1"],     # row 7: the BOM rule (qty > 0)
                            ["P-3001", "MAT-LED-R", 2, "D5"]]     # row 8: the same line as row 2
    sheets["Products"].append(["P-3002", "Sensor board D", "THT", None])  # row 3: not a process type
    return workbook(sheets)


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row_column_and_code(app_ctx):
    before, events = master_counts(), count(AuditEvent, AuditEvent.status == "SUCCESS")
    dry = master_import.import_file(actor=SYSTEM, filename="bad.xlsx", content=bad_rows_file(), dry_run=True)
    refused = [(r.sheet, r.row, [(e.column, e.code) for e in r.errors]) for r in dry.refused]
    assert refused == [
        ("Products", 3, [("Process", "VALIDATION_ERROR")]),
        ("BOM lines", 5, [("Material", "IMPORT_REFERENCE_NOT_FOUND")]),
        ("BOM lines", 6, [("Qty per board", "IMPORT_VALUE_INVALID")]),
        ("BOM lines", 7, [("Qty per board", "VALIDATION_ERROR")]),
        ("BOM lines", 8, [("Product", "IMPORT_ROW_DUPLICATE")])]
    messages = {r.row: r.errors[0].message for r in dry.refused}
    assert "MAT-NOPE" in messages[5] and "'four'" in messages[6] and "greater than 0" in messages[7]
    assert "row 2" in messages[8] and "SMT, DIP" in messages[3]
    assert {r.action for r in dry.rows} - {"REFUSED"} == {"CREATE"}  # the good rows: what they would do

    report = master_import.import_file(actor=SYSTEM, filename="bad.xlsx", content=bad_rows_file())
    assert (report.applied, len(report.refused)) == (False, 5)
    assert master_counts() == before  # not even the good rows
    assert count(AuditEvent, AuditEvent.status == "SUCCESS") == events
    failure, = audit_events(AuditEvent.status == "FAIL", AuditEvent.action == "MASTER_DATA_IMPORT")
    assert (failure.error_code, failure.entity_key, len(failure.payload["details"]["refused"])) == (
        "IMPORT_REFUSED", "bad.xlsx", 5)


@pytest.mark.parametrize("name, content, code", [
    ("x.csv", b"\xff\xfe\x00garbage", "IMPORT_FILE_UNREADABLE"),
    ("x.xlsx", b"PK\x03\x04 not really a zip", "IMPORT_FILE_UNREADABLE"),
    ("materials.csv", b"Code,Name,Colour\nM-1,One,red\n", "IMPORT_COLUMN_UNKNOWN"),
    ("materials.csv", b"Name,Category\nOne,RES\n", "IMPORT_KEY_COLUMN_MISSING"),
    ("things.csv", b"Code,Name,Colour\nM-1,One,red\n", "IMPORT_SHEET_UNKNOWN"),
    ("materials.csv", b"Code,Name\n\n", "IMPORT_EMPTY"),
])
def test_a_file_it_cannot_read_is_refused_before_any_row(app_ctx, name, content, code):
    before, events = master_counts(), count(AuditEvent)
    with pytest.raises(DomainError) as refused:
        master_import.import_file(actor=SYSTEM, filename=name, content=content)
    assert refused.value.code == code
    assert master_counts() == before and count(AuditEvent) == events


def test_a_csv_file_is_recognised_by_its_headers_and_the_slot_table_by_line_and_slot(app_ctx):
    content = csv_bytes([["Line", "Slot", "Material", "Product", "Routing", "Priority", "Alternate"],
                         ["LINE-SMT-A", "1-02", "MAT-R10K-ALT", "P-1001", "RT-P1001-SMT", 2, "yes"],
                         ["LINE-SMT-A", "9-99", "MAT-MCU", "", "", 1, "no"]])
    report = master_import.import_file(actor=SYSTEM, filename="upload.csv", content=content, dry_run=True)
    assert [(r.sheet, r.action, [e.code for e in r.errors]) for r in report.rows] == [
        ("Slot table", "CREATE", []), ("Slot table", "REFUSED", ["IMPORT_REFERENCE_NOT_FOUND"])]
    assert "9-99 on line LINE-SMT-A" in report.rows[1].errors[0].message


def test_the_exports_of_the_master_data_lists_have_the_import_headers_and_import_unchanged(client, app):
    console_login(client, "engineer")
    for view, sheet in (("material", "materials"), ("materiallot", "material-lots"), ("bom", "bom-lines"),
                        ("slot-table", "slot-table")):
        sheet = master_import.BY_NAME[sheet]
        url = {"material": "/materials/csv", "materiallot": "/material-lots/csv", "bom": "/bom/csv",
               "slot-table": "/slot-table/csv"}[view]
        exported = client.get(url)
        assert exported.status_code == 200, url
        rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows[0] == sheet.headers
        name = re.search(r'filename="([^"]+)"', exported.headers["Content-Disposition"]).group(1)
        assert name.startswith(sheet.name + "-")
        with app.app_context():
            report = master_import.import_file(actor=SYSTEM, filename=name, content=exported.get_data(), dry_run=True)
            assert {r.action for r in report.rows} == {"UNCHANGED"} and len(report.rows) == len(rows) - 1
        xlsx = client.get(url.replace("/csv", "/xlsx"))
        assert xlsx.status_code == 200
        assert [c.value for c in next(load_workbook(io.BytesIO(xlsx.get_data())).active.iter_rows(max_row=1))] == \
            sheet.headers


def test_the_import_page_checks_then_imports_the_same_file(client, app):
    console_login(client, "engineer")
    page = client.get("/master-import/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert all(f'id="template-{s.name}"' in html for s in master_import.SHEETS)
    template = client.get("/master-import/template/material-lots")
    sheet = load_workbook(io.BytesIO(template.get_data())).active
    assert [c.value for c in sheet[1]] == master_import.BY_NAME["material-lots"].headers
    assert "YYYY-MM-DD" in sheet["G1"].comment.text
    assert client.get("/master-import/template/nope").status_code == 404

    token = csrf_from(html)
    checked = client.post("/master-import/", data={"csrf_token": token, "action": "check",
                                                   "file": (io.BytesIO(workbook(NEW_BOARD)), "go-live.xlsx")},
                          content_type="multipart/form-data")
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "checked: nothing refused" in html and 'id="import-this"' in html
    assert html.count(">CREATE<") == 7
    with app.app_context():
        assert count(Product, Product.code == "P-3001") == 0
    form = {name: value for name, value in re.findall(
        r'<input type="hidden" name="(\w+)" value="([^"]*)">', html.split('id="import-confirm"')[1].split("</form>")[0])}
    assert set(form) == {"csrf_token", "filename", "sha256", "content"}
    imported = client.post("/master-import/", data={**form, "action": "import"})
    assert imported.status_code == 200 and ">imported<" in imported.get_data(as_text=True)
    with app.app_context():
        assert count(Product, Product.code == "P-3001") == 1
        summary, = audit_events(AuditEvent.action == "MASTER_DATA_IMPORT")
        assert summary.actor_username == "engineer"
    tampered = client.post("/master-import/", data={**form, "sha256": "0" * 64, "action": "import"})
    assert tampered.status_code == 400

    bad = client.post("/master-import/", data={"csrf_token": token, "action": "import",
                                               "file": (io.BytesIO(bad_rows_file()), "bad.xlsx")},
                      content_type="multipart/form-data")
    html = bad.get_data(as_text=True)
    assert "5 row(s) refused" in html and 'id="import-this"' not in html
    assert re.search(r"<td>BOM lines</td><td>5</td><td>P-3001 / MAT-NOPE</td><td>REFUSED</td>\s*<td>Material</td>", html)


def test_only_master_data_writers_see_the_import(client):
    console_login(client, "operator")
    answer = client.get("/master-import/")
    assert answer.status_code in (302, 403)
    client.get("/logout/")
    console_login(client, "quality")  # writes defect codes only: not the import page
    assert client.get("/master-import/").status_code in (302, 403)


def test_empty_cells_of_a_new_record_take_the_defaults_and_optional_key_columns_may_be_left_out(app_ctx):
    report = master_import.import_file(actor=SYSTEM, filename="go-live.xlsx", content=workbook({
        "Stations": [["Code", "Name", "Line"], ["ST-XRAY-01", "X-ray", "LINE-SMT-A"]],
        "Material lots": [["Material", "Lot no"], ["MAT-MCU", "LOT-M-777"]],
        "Slot table": [["Line", "Slot", "Material"], ["LINE-SMT-A", "1-02", "MAT-R10K-ALT"]],
    }))
    assert report.applied and {r.action for r in report.rows} == {"CREATE"}, [r.to_dict() for r in report.refused]
    station = db.session.execute(select(Station).filter_by(code="ST-XRAY-01")).scalar_one()
    assert (station.station_type, station.is_active, station.line.code) == ("MANUAL", True, "LINE-SMT-A")
    lot = db.session.execute(select(MaterialLot).filter_by(lot_no="LOT-M-777")).scalar_one()
    assert lot.iqc_result == "PENDING"
    mapping = db.session.execute(select(SlotMaterialMapping).where(
        SlotMaterialMapping.material.has(code="MAT-R10K-ALT"), SlotMaterialMapping.product_id.is_(None))).scalar_one()
    assert (mapping.priority, mapping.is_alternate, mapping.routing_id) == (1, False, None)


def test_a_slot_table_line_scoped_by_its_routing_is_one_record_with_or_without_the_product(app_ctx):
    rows = [["Line", "Slot", "Material", "Product", "Routing", "Priority", "Alternate"],
            ["LINE-SMT-A", "1-02", "MAT-R10K-ALT", "", "RT-P1001-SMT", 2, "yes"],
            ["LINE-SMT-A", "1-02", "MAT-R10K-ALT", "P-1001", "RT-P1001-SMT", 2, "yes"]]
    report = master_import.import_file(actor=SYSTEM, filename="slot-table.csv", content=csv_bytes(rows), dry_run=True)
    assert [(r.action, [e.code for e in r.errors]) for r in report.rows] == [
        ("CREATE", []), ("REFUSED", ["IMPORT_ROW_DUPLICATE"])]
    content = csv_bytes(rows[:2])
    assert master_import.import_file(actor=SYSTEM, filename="slot-table.csv", content=content).applied
    again = master_import.import_file(actor=SYSTEM, filename="slot-table.csv", content=content)
    assert [r.action for r in again.rows] == ["UNCHANGED"]


def test_numbers_formulas_control_characters_and_stray_cells(app_ctx):
    content = csv_bytes([["Material", "Lot no", "Qty"], ["MAT-MCU", "LOT-N-1", "5,000"], ["MAT-MCU", "LOT-N-2", "4,75"],
                         ["MAT-MCU", "LOT-N-3", "1,234.5"], ["MAT-MCU", "LOT-N-4", "12 500"],
                         ["MAT-MCU", "LOT-N-5", "0,125"]])
    report = master_import.import_file(actor=SYSTEM, filename="material-lots.csv", content=content)
    assert report.applied
    european = "Material;Lot no;Qty\nMAT-MCU;LOT-E-1;1.234,5\nMAT-MCU;LOT-E-2;5,250\n".encode()
    assert master_import.import_file(actor=SYSTEM, filename="material-lots.csv", content=european).applied
    qty = dict(db.session.execute(select(MaterialLot.lot_no, MaterialLot.qty).where(
        MaterialLot.lot_no.like("LOT-N-%") | MaterialLot.lot_no.like("LOT-E-%"))).all())
    assert qty == {"LOT-N-1": 5000.0, "LOT-N-2": 4.75, "LOT-N-3": 1234.5, "LOT-N-4": 12500.0, "LOT-N-5": 0.125,
                   "LOT-E-1": 1234.5, "LOT-E-2": 5.25}

    book = Workbook()
    sheet = book.active
    sheet.title = "Materials"
    sheet.append(["Code", "Name"])
    sheet.append(["MAT-F-1", '=CONCATENATE("Res", "istor")'])
    buffer = io.BytesIO()
    book.save(buffer)
    report = master_import.import_file(actor=SYSTEM, filename="f.xlsx", content=buffer.getvalue(), dry_run=True)
    assert [(r.row, [(e.column, e.code) for e in r.errors]) for r in report.refused] == [
        (2, [("Name", "IMPORT_VALUE_INVALID")])]
    assert "Paste special" in report.refused[0].errors[0].message
    report = master_import.import_file(actor=SYSTEM, filename="materials.csv", dry_run=True,
                                       content=csv_bytes([["Code", "Name"], ["MAT-F-2", "bell\x07"]]))
    assert [(r.row, [(e.column, e.code) for e in r.errors]) for r in report.refused] == [
        (2, [("Name", "IMPORT_VALUE_INVALID")])]

    with pytest.raises(DomainError) as stray:
        master_import.import_file(actor=SYSTEM, filename="materials.csv",
                                  content=b"Code,Name,,Unit\nMAT-S-1,One,lost,PCS\n")
    assert stray.value.code == "IMPORT_COLUMN_UNKNOWN" and "row 2" in stray.value.message


def test_a_workbook_declaring_a_huge_sheet_is_read_within_bounds(app_ctx, monkeypatch):
    book = Workbook()
    sheet = book.active
    sheet.title = "Materials"
    sheet["A1"], sheet["B1"] = "Code", "Name"
    sheet["XFD1048576"] = "far away"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(DomainError) as refused:  # nothing read beyond the bounds: no row at all
        master_import.import_file(actor=SYSTEM, filename="big.xlsx", content=buffer.getvalue())
    assert refused.value.code == "IMPORT_EMPTY"
    monkeypatch.setattr(master_import, "MAX_ROWS", 3)  # the bound itself, on a small file
    lines = "Code,Name\n" + "".join(f"MAT-B-{i},B{i}\n" for i in range(4))
    with pytest.raises(DomainError) as refused:
        master_import.import_file(actor=SYSTEM, filename="materials.csv", content=lines.encode())
    assert refused.value.code == "IMPORT_FILE_TOO_LARGE"


def test_the_exports_keep_apostrophes_formula_guards_and_odd_characters_through_a_round_trip(client, app):
    with app.app_context():
        db.session.add_all([Material(code="MAT-Q-1", name="=cmd", model="O'Neil 5'", category="RES"),
                            Material(code="MAT-Q-2", name="-5V rail; \"quoted\"", category="PWR"),
                            Material(code="MAT-Q-3", name="bell\x07 inside", category="ODD")])
        db.session.commit()
    console_login(client, "engineer")
    exported = client.get("/materials/csv").get_data()
    assert client.get("/materials/xlsx").status_code == 200  # a control character does not break the workbook
    with app.app_context():
        report = master_import.import_file(actor=SYSTEM, filename="materials.csv", content=exported, dry_run=True)
        by_key = {r.key: r for r in report.rows}
        assert (by_key["MAT-Q-1"].action, by_key["MAT-Q-2"].action) == ("UNCHANGED", "UNCHANGED")
        assert by_key["MAT-Q-3"].errors[0].code == "IMPORT_VALUE_INVALID"  # said, not silently changed


def test_the_console_takes_files_up_to_its_row_limit(client, app, monkeypatch):
    import app.views.master_import as view
    monkeypatch.setattr(view, "CONSOLE_MAX_ROWS", 2)
    console_login(client, "engineer")
    token = csrf_from(client.get("/master-import/").get_data(as_text=True))
    content = csv_bytes([["Code", "Name"], ["MAT-C-1", "one"], ["MAT-C-2", "two"], ["MAT-C-3", "three"]])
    answer = client.post("/master-import/", data={"csrf_token": token, "action": "check",
                                                  "file": (io.BytesIO(content), "materials.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200 and "IMPORT_FILE_TOO_LARGE" in answer.get_data(as_text=True)


def test_an_upload_larger_than_the_request_limit_is_refused_with_413(client, app, monkeypatch):
    console_login(client, "engineer")
    token = csrf_from(client.get("/master-import/").get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    answer = client.post("/master-import/", data={"csrf_token": token, "action": "check",
                                                  "file": (io.BytesIO(b"Code,Name\n" + b"x" * 4096), "materials.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413 and "MES_MAX_REQUEST_MB" in answer.get_data(as_text=True)
