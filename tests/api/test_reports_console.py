"""The report screens and the console's list exports: the Manager lands on the Dashboard; the
Production and Quality Report screens show the service's figures and export them (`trace:export`);
every console list (work orders, runs, routings, disposition queue, integration messages, audit log,
a unit's and a run's trace) downloads as CSV and as XLSX, and so do the list APIs (`format=`)."""
import io

import pytest
from openpyxl import load_workbook

from support import authorized_run, build_unit, console_login, ok_data


def xlsx_rows(answer) -> list[tuple]:
    assert answer.status_code == 200 and "spreadsheetml" in answer.content_type, answer.status_code
    book = load_workbook(io.BytesIO(answer.get_data()), read_only=True)
    return list(book.worksheets[0].iter_rows(values_only=True))


def test_the_manager_lands_on_the_dashboard_and_reads_the_reports(client):
    console_login(client, "manager")
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/dashboard/")
    assert client.get("/?tiles=1").status_code == 200  # the tiles are still there
    dashboard = client.get("/dashboard/?period=7d").get_data(as_text=True)
    assert 'id="dashboard-kpis"' in dashboard and 'id="chart-output"' in dashboard
    assert "/static/vendor/chartjs/chart.umd.min.js" in dashboard and 'id="dashboard-data"' in dashboard
    production = client.get("/reports/production?period=yesterday").get_data(as_text=True)
    assert 'id="output-buckets"' in production and 'id="plan-runs"' in production and 'id="wip-steps"' in production
    assert 'id="export-xlsx"' in production  # the manager exports
    quality = client.get("/reports/quality?from=2026-01-01&to=2026-01-31").get_data(as_text=True)
    assert 'id="fpy-table"' in quality and 'id="pareto-codes"' in quality and 'id="holds-units"' in quality
    rows = xlsx_rows(client.get("/reports/quality/xlsx?from=2026-01-01&to=2026-01-31"))
    assert rows[0] == ("line", "step", "operation", "first track-outs", "first pass", "FPY")
    csv = client.get("/reports/production/csv?period=today&section=wip")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).lstrip("\ufeff").startswith("line,step,operation")
    refused = client.get("/reports/production?from=2026-02-01&to=2026-01-01").get_data(as_text=True)
    assert "REPORT_PERIOD_INVALID" in refused


def test_report_screens_follow_the_permissions(client):
    console_login(client, "engineer")  # reads reports, exports nothing
    assert client.get("/reports/production").status_code == 200
    assert 'id="export-xlsx"' not in client.get("/reports/quality").get_data(as_text=True)
    refused = client.get("/reports/production/xlsx", follow_redirects=True)
    assert refused.status_code == 200 and "trace:export" in refused.get_data(as_text=True)
    client.get("/logout/")
    console_login(client, "operator")
    for path in ("/dashboard/", "/reports/production", "/reports/quality", "/board/"):
        assert client.get(path).status_code in (302, 403), path
    client.get("/logout/")
    console_login(client, "board")  # the Board device role: the line boards only
    assert client.get("/board/").status_code == 200
    assert client.get("/dashboard/").status_code in (302, 403)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_console_list_exports(client, api, fmt):
    run_no = authorized_run(api, qty=2)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=20)
    ok_data(api("operator").post("/api/v1/stations/ST-MOUNT-01/track-in", json={"sn": sn, "runNo": run_no}))
    ok_data(api("operator").post("/api/v1/stations/ST-MOUNT-01/track-out", json={
        "sn": sn, "runNo": run_no, "result": "FAIL", "defect": {"code": "TOMBSTONE"}}))
    console_login(client, "admin")
    lists = {
        "/work-orders": run_no.rsplit("-R", 1)[0], "/runs": run_no, "/routings": "RT-P1001-SMT",
        "/disposition": "TOMBSTONE", "/integration/messages": None, "/audit": "TRACK_OUT",
        f"/trace/units/{sn}": "ST-MOUNT-01", f"/trace/runs/{run_no}": sn,
    }
    for path, expected in lists.items():
        answer = client.get(f"{path}/{fmt}")
        assert answer.status_code == 200, (path, answer.status_code)
        if fmt == "csv":
            assert answer.mimetype == "text/csv", path
            text = answer.get_data(as_text=True)
        else:
            text = repr(xlsx_rows(answer))
        if expected:
            assert expected in text, path
    # and the screens offer both buttons
    for page in ("/work-orders/", "/runs/", "/routings/", "/disposition/", "/integration/messages", "/audit/",
                 f"/trace/units/{sn}", f"/runs/{run_no}"):
        html = client.get(page).get_data(as_text=True)
        assert "xlsx" in html and "csv" in html, page


def test_the_list_apis_export_the_screens_files(client, api):
    """`format=csv|xlsx` on GET /api/v1/work-orders, /runs and /audit-events: every row the filters
    match (not a page) in the screen's file; another format is refused."""
    authorized_run(api, qty=1)
    run_no = authorized_run(api, qty=2)
    wo_no = run_no.rsplit("-R", 1)[0]
    manager = api("manager")
    runs = manager.get("/api/v1/runs?pageSize=1").get_json()
    answer = manager.get("/api/v1/runs?format=csv&pageSize=1")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("run,status,WO") and len(lines) - 1 == runs["meta"]["total"] > 1
    assert any(line.startswith(f"{run_no},AUTHORIZED,{wo_no},") for line in lines)
    rows = xlsx_rows(manager.get(f"/api/v1/work-orders?format=xlsx&q={wo_no}"))
    assert rows[0][:3] == ("WO", "status", "product") and [r[0] for r in rows[1:]] == [wo_no]
    events = xlsx_rows(api("admin").get(f"/api/v1/audit-events?format=xlsx&entityKey={run_no}"))
    assert events[0][:5] == ("at", "actor", "actor type", "roles", "action")
    assert {r[4] for r in events[1:]} >= {"RUN_CREATE", "RUN_AUTHORIZE"}
    refused = manager.get("/api/v1/runs?format=pdf")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_manager_guide_shows_its_screenshots(client):
    console_login(client, "manager")
    guide = client.get("/help/manager").get_data(as_text=True)
    for name in ("manager-dashboard", "manager-production-report", "manager-quality-report", "manager-line-board"):
        assert f'src="img/{name}.png"' in guide, name
        image = client.get(f"/help/img/{name}.png")
        assert image.status_code == 200 and image.mimetype == "image/png" and image.get_data()[:4] == b"\x89PNG"
    assert client.get("/help/img/manager.md").status_code == 404
    for anchor in ("morning-review", "dashboard", "production-report", "quality-report", "line-board"):
        assert f'id="{anchor}"' in guide, anchor


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_reports_format_counts_and_yields_for_the_locale(app, api, lang):
    """Issue 17, numbers for the locale: a large count with the locale's digit grouping (12,345 in both
    English and Chinese, CLDR) and a yield as a percentage of the locale ("100.0%", no "100.0 %"); the runs
    list's plan the same way."""
    run_no = authorized_run(api, qty=12344)  # 12,345 boards planned: the FAI trial board takes one place
    client = app.test_client()
    client.set_cookie("mes_lang", lang)
    console_login(client, "manager")
    production = client.get("/reports/production?period=today").get_data(as_text=True)
    row = production[production.index(f">{run_no}</a>"):]
    row = row[:row.index("</tr>")]
    assert '<td class="text-right">12,345</td>' in row, row
    assert "12345" not in row
    quality = client.get("/reports/quality?period=today").get_data(as_text=True)
    fpy = quality[quality.index('id="fpy-table"'):quality.index('id="pareto"')]
    assert "100.0%" in fpy and "100.0 %" not in fpy, fpy
    runs = client.get("/runs/").get_data(as_text=True)  # the console lists use the same filter
    assert "<td>12,345</td>" in runs and "<td>12345</td>" not in runs
