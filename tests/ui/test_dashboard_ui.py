"""Browser: the manager signs in and lands on the dashboard (demo history behind it), changes the line
and the period, follows a chart to its report, downloads the report's XLSX; the line board on a TV,
signed in by nothing but the Board account's key in the address's fragment. Screenshots of both go
to tests/artifacts/."""
import time

import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import DEMO_PASSWORD, LiveApi, flask_cli, ok_data, screenshot

pytestmark = pytest.mark.browser


def sign_in(browser, base, username):
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)


def charts_drawn(browser):
    return browser.execute_script("return document.body.dataset.chartsReady === '1'")


def test_manager_dashboard_to_report_and_xlsx(browser, history_server, tmp_path):
    base, wait = history_server.url, WebDriverWait(browser, 20)
    browser.set_window_size(1366, 1400)  # the screenshots show the whole dashboard
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    sign_in(browser, base, "manager")  # the manager's home page is the dashboard
    wait.until(EC.presence_of_element_located((By.ID, "dashboard-kpis")))
    assert browser.current_url.rstrip("/").endswith("/dashboard")
    wait.until(charts_drawn)

    # the last 7 days on LINE-SMT-A: the history's output, charts drawn from it
    browser.find_element(By.ID, "period-7d").click()
    wait.until(EC.presence_of_element_located((By.ID, "dashboard-kpis")))
    Select(browser.find_element(By.ID, "f-line")).select_by_value("LINE-SMT-A")
    browser.find_element(By.ID, "apply-filters").click()
    wait.until(lambda b: "lineCode=LINE-SMT-A" in b.current_url)
    wait.until(charts_drawn)
    output = int(browser.find_element(By.ID, "kpi-output").text.replace(",", ""))
    assert output > 0
    for chart in ("chart-output", "chart-fpy", "chart-pareto"):
        assert browser.find_element(By.ID, chart).get_attribute("data-drawn") == "1", chart
    assert int(browser.find_element(By.ID, "kpi-holds").text.replace(",", "")) >= 1  # the history leaves a run on hold
    screenshot(browser, "dashboard-manager")

    # follow the output chart to the production report, same line and period
    browser.find_element(By.ID, "chart-output").click()
    wait.until(EC.presence_of_element_located((By.ID, "output-buckets")))
    assert "/reports/production" in browser.current_url and "lineCode=LINE-SMT-A" in browser.current_url
    assert int(browser.find_element(By.ID, "kpi-output").text.replace(",", "")) == output
    assert Select(browser.find_element(By.ID, "f-line")).first_selected_option.get_attribute("value") == "LINE-SMT-A"
    screenshot(browser, "report-production")

    # and download its XLSX: the output sheet holds the same boards
    browser.find_element(By.ID, "export-xlsx").click()
    deadline = time.time() + 20
    while time.time() < deadline and not [p for p in downloads.iterdir() if p.suffix == ".xlsx"]:
        time.sleep(0.2)
    files = [p for p in downloads.iterdir() if p.suffix == ".xlsx"]
    assert files, list(downloads.iterdir())
    book = load_workbook(files[0], read_only=True)
    rows = list(book["Output"].iter_rows(values_only=True))
    assert rows[0][:5] == ("bucket", "bucket start", "line", "product", "output")
    assert {r[2] for r in rows[1:]} == {"LINE-SMT-A"} and sum(r[4] for r in rows[1:]) == output

    # the quality report from the Pareto chart
    browser.back()
    browser.back()
    wait.until(charts_drawn)
    browser.find_element(By.ID, "link-pareto").click()
    wait.until(EC.presence_of_element_located((By.ID, "pareto-codes")))
    assert "/reports/quality" in browser.current_url
    screenshot(browser, "report-quality")


def test_line_board_on_a_tv_with_the_board_key(browser, history_server):
    base, wait = history_server.url, WebDriverWait(browser, 20)
    browser.set_window_size(1600, 900)  # a TV, 16:9
    api = LiveApi(base)
    run = ok_data(api("manager").get("/api/v1/boards/LINE-SMT-A"))
    key = _board_key(history_server.db_url)
    browser.get(f"{base}/board/LINE-SMT-A#key={key}")
    wait.until(lambda b: b.execute_script("return document.body.dataset.loaded === '1'"))
    assert browser.find_element(By.ID, "board-line").text == "LINE-SMT-A"
    assert browser.find_element(By.ID, "board-message").get_attribute("hidden") is not None
    assert browser.find_element(By.ID, "board-shift").text == run["shift"]["label"]
    stations = [row.find_element(By.TAG_NAME, "td").text
                for row in browser.find_elements(By.CSS_SELECTOR, "#board-stations tr")]
    assert stations == ["ST-PRINT-01", "ST-SPI-01", "ST-MOUNT-01", "ST-REFLOW-01", "ST-AOI-01"]  # process order
    assert int(browser.find_element(By.ID, "board-hold-count").text) >= 1
    # the scripts' number helpers (common.js), as the templates' mes_number / mes_percent write them
    assert browser.execute_script("return [MES.number(12345), MES.number(2.25, 1), MES.percent(0.953), MES.percent(null)]"
                                  ) == ["12,345", "2.3", "95.3%", "—"]
    # the demo history's last day drifts: the line's open SPC alarms are on the board (issue 18)
    count = int(browser.find_element(By.ID, "board-spc-count").text.replace(",", ""))
    assert count == run["spcAlarmCount"] >= len(run["spcAlarms"]) >= 1  # the count is all, the rows the newest 20
    assert len(browser.find_elements(By.CSS_SELECTOR, "#board-spc tr")) == len(run["spcAlarms"]) == min(count, 20)
    screenshot(browser, "line-board")

    # without a key (and no session) the board says what to do
    browser.delete_all_cookies()
    browser.get(f"{base}/board/LINE-DIP-A")
    wait.until(lambda b: not b.find_element(By.ID, "board-message").get_attribute("hidden"))
    assert "API key of a Board account" in browser.find_element(By.ID, "board-message").text


def _board_key(db_url: str) -> str:
    made = flask_cli(db_url, "mes", "create-api-key", "board", "--name", "TV LINE-SMT-A")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1].strip()
