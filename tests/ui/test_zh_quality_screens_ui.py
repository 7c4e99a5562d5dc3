"""Browser at 1366×768 in Simplified Chinese (issue 17): quality's screens (Defects & Disposition with a
decision form, Unit Trace, Lot Recall, Trace, OQC Sampling Rules, Defect Codes), the manager's
(Production and Quality Report, Dashboard, a line board) and the engineer's feeder screens (Feeder Slots,
Slot Table) on two days of demo history show no untranslated English — the word check of the terminals'
zh test (test_zh_terminals_ui.py), with the abbreviations these screens use as such on a Chinese shop
floor (FPY, RTY, WIP, MRB, IQC, CSV, XLSX) and the data they show removed first: master data, user names,
what the demo history typed (seed/history.py) and the plant's shift names (MES_SHIFTS).
Screenshots: tests/artifacts/zh-dashboard.png, zh-line-board.png. The chart texts (canvas) are checked
through the page's MES.t catalogue."""
import re
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from app.services.reporting.period import DEFAULT_SHIFTS
from support import SMT_STATIONS, LiveApi, authorized_run, build_unit, ok_data, screenshot
from test_zh_terminals_ui import assert_chinese, sign_in_in_chinese, waiter
from zh_words import SEED

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1366, 768
HISTORY = Path(__file__).resolve().parents[2] / "seed" / "history.py"

# abbreviations used as such on a Chinese shop floor and in its reports, the files' formats, and the OQC
# sampling types, codes of the rules (API, import) that the form's help text explains in Chinese
ALLOWED = {"FPY", "RTY", "WIP", "MRB", "IQC", "CSV", "XLSX", "h", "FIXED", "PERCENTAGE"}


def data_phrases() -> list[str]:
    """What the screens show that is data, not interface: the demo users' user names (who decided,
    recorded, signed), the lots' suppliers, the defect codes' categories, the feeder slots' names, the reasons and inspection items typed in the demo history, the
    plant's shift names."""
    demo = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    users = [u["username"] for u in demo["users"]] + [lot["supplier"] for lot in demo["lots"] if lot.get("supplier")]
    users += [code["category"] for code in demo["defect_codes"] if code.get("category")]
    users += [f"Feeder {slot['slot_code']}" for slot in demo["feeder_slots"]]  # the slots' names (seed/loader.py)
    typed = re.findall(r'"(?:reason|remark|description|itemName)": "([^"]+)"', HISTORY.read_text(encoding="utf-8"))
    shifts = [part.partition("=")[0] for part in DEFAULT_SHIFTS.split(",")]
    return users + typed + shifts


DATA = data_phrases()


def at_1366(browser):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})


def check(browser, where, username):
    assert_chinese(browser, where, username, ALLOWED, DATA)


def test_the_data_phrases_are_found():
    assert "quality" in DATA and "EARLY" in DATA
    assert "Hold for engineering analysis" in DATA and "final visual" in DATA


def test_quality_screens_in_chinese(browser, history_server):
    base, wait, live = history_server.url, waiter(browser), LiveApi(history_server.url)
    at_1366(browser)
    sign_in_in_chinese(browser, base, "quality")

    # Defects & Disposition: the history leaves boards waiting; one more FAILs at SPI now (its decision form)
    run_no = authorized_run(live, qty=1, units=1)
    failed = f"{run_no}-0001"
    build_unit(live, run_no, failed, until=10)
    ok_data(live("leader").post(f"/api/v1/stations/{SMT_STATIONS[20]}/track-in", json={"sn": failed, "runNo": run_no}))
    ok_data(live("leader").post(f"/api/v1/stations/{SMT_STATIONS[20]}/track-out", json={
        "sn": failed, "runNo": run_no, "result": "FAIL", "data": [], "defect": {"code": "INSUFFICIENT_SOLDER"}}))
    browser.get(base + "/disposition/")
    wait.until(EC.presence_of_element_located((By.ID, f"decide-{failed}")))
    assert browser.find_element(By.TAG_NAME, "h1").text == "不良与处置"
    assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, f"#type-{failed} option")] == [
        "请选择…", "返工", "报废", "暂停"]
    entries = browser.find_elements(By.CSS_SELECTOR, ".mes-queue-entry")
    sn = entries[0].get_attribute("data-sn")  # the oldest: a board of the history
    check(browser, "disposition queue", "quality")

    # Unit Trace of a board of the queue: tracks, defects, materials, readiness, inspections
    browser.get(f"{base}/trace/units/{sn}")
    wait.until(EC.presence_of_element_located((By.ID, "trace-tracks")))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"电路板 {sn}")
    check(browser, "unit trace", "quality")

    # Lot Recall of a reel the board was built with (or of the first loaded lot of the plant)
    materials = ok_data(live("quality").get(f"/api/v1/trace/units/{sn}"))["materials"]
    assert materials, "the board's trace names its reels"
    browser.get(f"{base}/lot-recall/?q={materials[0]['materialCode']}|{materials[0]['lotNo']}")
    wait.until(EC.presence_of_element_located((By.ID, "recall-counts")))
    assert "块板" in browser.find_element(By.ID, "recall-counts").text
    check(browser, "lot recall", "quality")

    browser.get(base + "/trace/")
    wait.until(EC.presence_of_element_located((By.ID, "trace-q")))
    check(browser, "trace search", "quality")

    # quality's master data: the OQC sampling rules and the defect codes (Flask-AppBuilder lists and forms)
    for path in ("/oqc-sampling-rules/list/", "/oqc-sampling-rules/add", "/defect-codes/list/"):
        browser.get(base + path)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".panel-title, .mes-page h1, form")))
        check(browser, path, "quality")


def test_manager_reports_dashboard_and_line_board_in_chinese(browser, history_server):
    base, wait = history_server.url, waiter(browser)
    at_1366(browser)
    sign_in_in_chinese(browser, base, "manager", landing="#dashboard-kpis")

    for path, table, heading in (("/reports/production?period=7d", "plan-runs", "生产报表"),
                                 ("/reports/quality?period=7d", "fpy-table", "品质报表")):
        browser.get(base + path)
        wait.until(EC.presence_of_element_located((By.ID, table)))
        assert browser.find_element(By.TAG_NAME, "h1").text == heading
        assert browser.find_element(By.ID, "export-xlsx").text.startswith("XLSX（全部表格）")
        check(browser, path, "manager")

    browser.get(base + "/dashboard/?period=7d")
    wait.until(lambda b: b.execute_script("return document.body.dataset.chartsReady === '1'"))
    assert browser.find_element(By.ID, "period-7d").text == "最近 7 天"
    # the charts' legends and axes are drawn on canvas: they come from MES.t, in Chinese
    legends = browser.execute_script(
        "return Chart.getChart('chart-output').data.datasets.map(function (d) { return d.label; })")
    assert legends == ["产出", "报废", "计划"]
    assert browser.execute_script("return Chart.getChart('chart-pareto').options.scales.y.title.text") == "不良数"
    screenshot(browser, "zh-dashboard")
    check(browser, "dashboard", "manager")

    # the line board with the manager's session (a TV signs in with a Board account's key)
    browser.get(base + "/board/LINE-SMT-A")
    wait.until(lambda b: b.execute_script("return document.body.dataset.loaded === '1'"))
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    assert browser.find_element(By.CSS_SELECTOR, "#tile-output h2").text == "本班次产出"
    assert browser.execute_script(
        "return Chart.getChart('board-chart').data.datasets.map(function (d) { return d.label; })") == ["产出", "计划"]
    screenshot(browser, "zh-line-board")
    check(browser, "line board", "manager")


def test_engineer_feeder_screens_in_chinese(browser, history_server):
    """Engineering → Feeder Slots and Slot Table (Flask-AppBuilder lists and forms)."""
    base, wait = history_server.url, waiter(browser)
    at_1366(browser)
    sign_in_in_chinese(browser, base, "engineer")
    for path in ("/feeder-slots/list/", "/feeder-slots/add", "/slot-table/list/", "/slot-table/add"):
        browser.get(base + path)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".panel-title, form")))
        check(browser, path, "engineer")
