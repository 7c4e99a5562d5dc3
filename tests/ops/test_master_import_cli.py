"""`flask mes import PATH [--dry-run]` as IT runs it for go-live (its own process), and the round trip:
every master-data list exported from the demo install's console, imported into an empty install, gives
the same master data."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select

from app.services.engineering import master_import
from support import ADMIN_PASSWORD, LiveApi, console_login, flask_cli, ok_data


def cli_counts(stdout: str) -> dict[str, dict[str, int]]:
    """`Materials: 2 create, 0 update, 8 unchanged, 0 refused` lines."""
    out = {}
    for title, created, updated, unchanged, refused in re.findall(
            r"^(.+): (\d+) create, (\d+) update, (\d+) unchanged, (\d+) refused$", stdout, re.M):
        out[title] = {"CREATE": int(created), "UPDATE": int(updated), "UNCHANGED": int(unchanged),
                      "REFUSED": int(refused)}
    return out


def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {s.title: connection.execute(select(func.count()).select_from(s.model.__table__)).scalar_one()
                  for s in master_import.SHEETS}
    engine.dispose()
    return counts


def test_every_list_exported_from_the_demo_imports_into_an_empty_install_as_the_same_master_data(
        app, client, api, empty_database, server_factory, tmp_path, monkeypatch, database):
    # the demo's routings (they come from ERP or the Routing Editor, not from the spreadsheets)
    routings = [ok_data(api("engineer").get(f"/api/v1/routings/{code}")) for code in ("RT-P1001-SMT", "RT-P2001-DIP")]
    # the demo install's console: every master-data list exported as its engineer does it
    console_login(client, "engineer")
    from app.views.base import MesModelView
    routes = {view.datamodel.obj: view.route_base for view in app.appbuilder.baseviews
              if isinstance(view, MesModelView) and view.datamodel.obj in master_import.BY_MODEL}
    files = {}
    for index, sheet in enumerate(master_import.SHEETS):
        fmt = "xlsx" if index % 2 else "csv"  # both kinds of export
        exported = client.get(f"{routes[sheet.model]}/{fmt}")
        assert exported.status_code == 200, sheet.title
        name = re.search(r'filename="([^"]+)"', exported.headers["Content-Disposition"]).group(1)
        files[sheet.name] = tmp_path / name
        files[sheet.name].write_bytes(exported.get_data())

    # an empty install: migrated, the base seed (roles, admin, integration account) — no demo data
    target = empty_database()
    monkeypatch.setenv("MES_ADMIN_PASSWORD", ADMIN_PASSWORD)
    for args in (("db", "upgrade"), ("mes", "seed")):
        done = flask_cli(target, *args)
        assert done.returncode == 0, done.stderr
    # every list but the slot table in one go (the files in any order: the lists go in dependency order)
    first = [str(files[s.name]) for s in reversed(master_import.SHEETS) if s.name != "slot-table"]
    done = flask_cli(target, "mes", "import", *first)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Imported " in done.stdout and len(cli_counts(done.stdout)) == len(master_import.SHEETS) - 1
    # the slot table refers to a routing: routings come from ERP or the Routing Editor, here its API
    server = server_factory(db_url=target)
    for routing in routings:
        body = {k: routing[k] for k in ("code", "name", "productCode", "processType", "versionLabel", "isActive",
                                        "steps")}
        body["executionConfig"] = [{k: v for k, v in c.items() if k != "id"} for c in routing["executionConfig"]]
        created = LiveApi(server.url)("admin").post("/api/v1/routings", json=body)
        assert created.status_code == 201, created.get_json()
    done = flask_cli(target, "mes", "import", str(files["slot-table"]))
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])

    # the same master data: the exports check UNCHANGED row by row against the target, and the target has
    # no record more (the base seed's own defect code SPEC_OUT_OF_LIMIT is in the demo's too)
    done = flask_cli(target, "mes", "import", "--dry-run", *[str(p) for p in files.values()])
    assert done.returncode == 0, done.stdout
    counts = cli_counts(done.stdout)
    for sheet in master_import.SHEETS:
        assert counts[sheet.title]["CREATE"] == counts[sheet.title]["UPDATE"] == 0, sheet.title
        assert counts[sheet.title]["UNCHANGED"] > 0 and counts[sheet.title]["REFUSED"] == 0, sheet.title
    assert table_counts(target) == table_counts(database.url)


def test_a_bad_row_imports_nothing_and_the_dry_run_names_it(app, database, tmp_path):  # app: the seeded template
    url = database.copy_to(f"imp_{uuid.uuid4().hex[:6]}")
    try:
        path = tmp_path / "materials-go-live.csv"
        path.write_text("Code,Name,Category,Unit\nMAT-NEW-1,New one,RES,PCS\nMAT-NEW-2,,RES,PCS\n"
                        "MAT-NEW-3,New three,RES,PCS\n", encoding="utf-8")
        before = table_counts(url)
        dry = flask_cli(url, "mes", "import", str(path), "--dry-run")
        assert dry.returncode == 1
        assert "Materials row 2 MAT-NEW-1: CREATE" in dry.stdout and "Materials row 4 MAT-NEW-3: CREATE" in dry.stdout
        assert re.search(r"Materials row 3 MAT-NEW-2: REFUSED\n\s+Name: VALIDATION_ERROR Name: A name is required",
                         dry.stdout), dry.stdout
        assert "nothing was imported" in dry.stderr
        applied = flask_cli(url, "mes", "import", str(path))
        assert applied.returncode == 1 and "1 rows refused: nothing was imported" in applied.stderr
        assert table_counts(url) == before

        unreadable = tmp_path / "photo.xlsx"
        unreadable.write_bytes(b"PK\x03\x04 no workbook")
        done = flask_cli(url, "mes", "import", str(unreadable))
        assert done.returncode == 1 and "IMPORT_FILE_UNREADABLE" in done.stderr
    finally:
        database.drop_copy(url)


def test_ten_thousand_materials_import_with_a_progress_bar_and_again_change_nothing(app, database, tmp_path):
    url = database.copy_to(f"imp_{uuid.uuid4().hex[:6]}")
    try:
        path = tmp_path / "materials.csv"
        lines = ["Code,Name,Category,Unit,Model,MSL"] + [
            f"BULK-{i:05d},Resistor {i} ohm 0402,RESISTOR,PCS,RC0402-{i},1" for i in range(10_000)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        demo_materials = table_counts(url)["Materials"]
        done = flask_cli(url, "mes", "import", str(path))
        assert done.returncode == 0, done.stderr[-2000:]
        assert cli_counts(done.stdout)["Materials"] == {"CREATE": 10_000, "UPDATE": 0, "UNCHANGED": 0, "REFUSED": 0}
        assert "Importing materials.csv" in done.stderr  # the progress bar
        assert table_counts(url)["Materials"] == demo_materials + 10_000
        again = flask_cli(url, "mes", "import", str(path))
        assert cli_counts(again.stdout)["Materials"] == {"CREATE": 0, "UPDATE": 0, "UNCHANGED": 10_000, "REFUSED": 0}
    finally:
        database.drop_copy(url)


def test_the_guide_shows_the_tested_commands():
    """The engineer guide's `flask mes import` lines use only what these tests run."""
    text = (Path(__file__).resolve().parents[2] / "sop" / "engineer.md").read_text()
    lines = re.findall(r"flask mes import ([^\n`]*)", text)
    assert lines and all(set(re.findall(r"--[\w-]+", line)) <= {"--dry-run"} for line in lines), lines
