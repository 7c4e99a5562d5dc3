"""Issue 17 (zh-CN): the language of an export's column headers (app/web/i18n.py export_locale). A file
from a console button follows the user's language (Chinese headers and sheet titles for a Chinese
user, English by default); the API's files keep stable English headers — whatever the language of its
messages (`_l_`) — unless the call asks `lang=zh`; the cells (codes, statuses) are the same in both; the
master-data exports keep their import headers in every language (they import again as they are)."""
import csv
import io

from openpyxl import load_workbook

from support import authorized_run, build_unit, console_login, ok_data

QUEUE_HEADER_EN = ["sn", "run", "line", "board status", "current step", "rework count", "next action",
                   "waiting since", "defect", "code", "step", "location", "description", "source", "defect status",
                   "recorded at", "station", "recorded by"]
QUEUE_HEADER_ZH = ["SN", "生产批", "产线", "板状态", "当前工步", "返工次数", "下一步", "等待开始于", "不良", "代码", "工步",
                   "位置", "描述", "来源", "不良状态", "记录时间", "工位", "记录人"]
PARETO_EN, PARETO_ZH = ["code", "qty", "share", "cumulative share"], ["代码", "数量", "占比", "累计占比"]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def console(client, username, language=None):
    """The client signed in as `username`, its language chosen (the `mes_lang` cookie) or the default."""
    client.get("/logout/")
    if language:
        client.set_cookie("mes_lang", language)
    else:
        client.delete_cookie("mes_lang")
    console_login(client, username)
    return client


def test_console_exports_follow_the_users_language(api, client):
    run_no = authorized_run(api, qty=1, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=10)
    ok_data(api("quality").post("/api/v1/defects", json={"sn": sn, "code": "TOMBSTONE", "location": "C3"}))

    english = csv_rows(console(client, "quality").get(f"/disposition/csv?run={run_no}"))
    chinese = csv_rows(console(client, "quality", "zh").get(f"/disposition/csv?run={run_no}"))
    assert english[0] == QUEUE_HEADER_EN and chinese[0] == QUEUE_HEADER_ZH
    assert english[1] == chinese[1] and english[1][0] == sn and "TOMBSTONE" in english[1]  # the same cells

    workbook = load_workbook(io.BytesIO(console(client, "quality", "zh").get(f"/disposition/xlsx?run={run_no}").get_data()))
    sheet = workbook["处置队列"]
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == QUEUE_HEADER_ZH

    # the unit's trace (Unit Trace's buttons): Chinese sheet titles and headers, codes as they are
    workbook = load_workbook(io.BytesIO(console(client, "quality", "zh").get(f"/trace/units/{sn}/xlsx").get_data()))
    assert workbook.sheetnames == ["过站记录", "不良", "物料", "检验"]
    assert [c.value for c in next(workbook["不良"].iter_rows(max_row=1))] == ["代码", "工步", "位置", "状态", "来源",
                                                                             "记录时间"]

    # a report's CSV from the console's button
    rows = csv_rows(console(client, "manager", "zh").get("/reports/quality/csv?section=pareto"))
    assert rows[0] == PARETO_ZH


def test_api_exports_keep_english_headers_unless_lang_is_asked(api, app):
    base = "/api/v1/reports/quality?format=csv&section=pareto"
    assert csv_rows(api("manager").get(base))[0] == PARETO_EN
    assert csv_rows(api("manager").get(base + "&_l_=zh"))[0] == PARETO_EN      # messages in Chinese, headers stable
    assert csv_rows(api("manager").get(base + "&lang=zh"))[0] == PARETO_ZH
    assert csv_rows(api("manager").get(base + "&lang=xx"))[0] == PARETO_EN     # not a language of the interface
    content = api("manager").get("/api/v1/reports/quality?format=xlsx&lang=zh").get_data()
    assert "直通率(FPY)" in load_workbook(io.BytesIO(content)).sheetnames


def test_master_data_exports_keep_their_import_headers(client):
    english = csv_rows(console(client, "engineer").get("/products/csv"))
    chinese = csv_rows(console(client, "engineer", "zh").get("/products/csv"))
    assert english[0] == chinese[0] and english[0][0].isascii()
