"""Browser at 1024×768 in Simplified Chinese (issue 17): the operator's Station Terminal (choose the
station, TrackIn a board, the data form, the defect picker, PASS) and the material handler's Loading
Terminal (choose the run, the slot table, a wrong reel) show no untranslated English — only codes and
identifiers (SNs, station and run codes, defect and material codes, units, keys) and the plant's own
master data (codes, names and descriptions of stations, operations, specs, defects, materials: seed/demo.yaml),
which is data, not interface text. Screenshots: tests/artifacts/zh-terminal.png, zh-loading-terminal.png,
zh-run-detail.png (Run Detail as the planner: its own texts, and the phases and the next action that come from
the services, are Chinese). A refusal of the server (the API's envelope) is Chinese too: its message, not only
its hint (app/services/platform/messages.py)."""
import re

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from support import DEMO_PASSWORD, LiveApi, authorized_run, build_unit, ready_run, screenshot
from zh_words import english_words  # the shared word check (tests/zh_words.py)
from test_execution_console import answer, focused, type_keys  # the terminals' keyboard helpers

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1024, 768


def assert_chinese(browser, where, username, allowed=(), phrases=()):
    text = browser.execute_script("return document.body.innerText")
    assert re.search(r"[\u4e00-\u9fff]", text), f"{where}: no Chinese at all"
    left = english_words(text, username, tuple(phrases), allowed)
    assert not left, f"{where}: untranslated English {sorted(set(left))}\n---\n{text}"


def waiter(browser):
    return WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException])


def at_1024(browser):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})


def sign_in_in_chinese(browser, base, username, landing=".mes-home h1"):
    """The terminal's language is kept in the `mes_lang` cookie (set by the language menu); `landing`:
    a selector of the user's home page (the manager's is the dashboard)."""
    browser.delete_all_cookies()
    browser.get(base + "/login/")
    browser.add_cookie({"name": "mes_lang", "value": "zh", "path": "/"})
    browser.get(base + "/login/")
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, landing)))
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"


def test_the_word_check_finds_english_and_passes_codes():
    assert english_words("工位 ST-DIP-TEST-01 · Functional test · 扫描 SN RUN-20261204-0001-0001 F9") == []
    assert english_words("合格 (Enter / F8) 5.0 V FCT_FAIL MAT-C100N|LOT-C-001") == []
    assert english_words("Ready. Scan a board.") == ["Ready", "Scan", "a", "board"]
    assert english_words("请先完成 FINISH FIRST") == ["FINISH", "FIRST"]


def test_station_terminal_in_chinese_at_1024(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = authorized_run(live, product="P-2001", qty=1, units=1)
    board = f"{run_no}-0001"
    build_unit(live, run_no, board, product="P-2001", operator="operator2", until=30)
    at_1024(browser)
    sign_in_in_chinese(browser, base, "operator2")

    browser.get(base + "/terminal/?choose=1")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-station="ST-DIP-TEST-01"]')))
    assert "选择您的工位" in browser.find_element(By.TAG_NAME, "h1").text
    assert_chinese(browser, "choose the station", "operator2")
    browser.find_element(By.CSS_SELECTOR, '[data-station="ST-DIP-TEST-01"]').click()
    wait.until(lambda d: focused(d) == "scan")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-waiting li"))
    assert "就绪" in browser.find_element(By.ID, "feedback").text
    assert_chinese(browser, "terminal, ready", "operator2")

    # TrackIn: the data form, in Chinese (the spec labels are the engineer's descriptions: data)
    type_keys(browser, board + Keys.ENTER)
    text = answer(browser, wait, "已进站")
    assert board in text and "工步 40" in text
    assert browser.find_element(By.ID, "pass-button").text.startswith("合格")
    assert focused(browser) == "spec-0"
    type_keys(browser, "9")  # beyond the FAIL limit: the hint under the field is Chinese too
    wait.until(lambda d: "不合格" in d.find_element(By.ID, "spec-0-note").text)
    screenshot(browser, "zh-terminal")
    assert_chinese(browser, "terminal, data form", "operator2")

    # the defect picker (F9), then Back and PASS
    type_keys(browser, Keys.BACKSPACE + "5.0" + Keys.ENTER + "1.4.2" + Keys.F9)
    wait.until(lambda d: focused(d) == "defect-filter")
    type_keys(browser, "999")
    wait.until(lambda d: "没有与" in d.find_element(By.ID, "defect-note").text)
    assert_chinese(browser, "terminal, defect picker", "operator2")
    type_keys(browser, Keys.ESCAPE)
    wait.until(lambda d: d.find_element(By.ID, "pass-button").is_displayed())
    browser.find_element(By.ID, "pass-button").click()
    text = answer(browser, wait, "合格")
    assert "完成" in text and board in text
    assert_chinese(browser, "terminal, PASS", "operator2")

    # a server refusal: the code stays, the message and the hint come in Chinese (the API's envelope)
    type_keys(browser, board + Keys.ENTER)
    text = answer(browser, wait, "UNIT_")
    hint = browser.find_element(By.CSS_SELECTOR, "#feedback .mes-term-hint").text
    assert re.match(r"^处理方法：[^A-Za-z]*[\u4e00-\u9fff]", hint), hint
    message = text.replace(hint, "")
    assert board in message and re.search(r"[\u4e00-\u9fff]", message), text
    assert_chinese(browser, "terminal, refusal", "operator2")


def test_manual_inspection_result_form_in_chinese(browser, live_server):
    """The AOI station's manual result form (F4, while the machine's link is down)."""
    base, wait = live_server.url, waiter(browser)
    at_1024(browser)
    sign_in_in_chinese(browser, base, "operator")
    browser.get(base + "/terminal/ST-AOI-01")
    wait.until(lambda d: focused(d) == "scan")
    assert browser.find_element(By.ID, "manual-toggle").text.startswith("手工录入 AOI 结果")
    type_keys(browser, Keys.F4)
    wait.until(lambda d: focused(d) == "manual-sn")
    assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#manual-verdict option")] == ["合格", "不合格"]
    assert [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#manual-verdict option")] == ["PASS", "FAIL"]
    assert_chinese(browser, "terminal, manual AOI result", "operator")


def test_loading_terminal_in_chinese_at_1024_and_run_detail(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = ready_run(live, qty=2)
    at_1024(browser)
    sign_in_in_chinese(browser, base, "material")

    browser.get(base + "/loading/")
    wait.until(EC.presence_of_element_located((By.ID, "loading-runs")))
    assert_chinese(browser, "loading, choose the run", "material")
    browser.get(f"{base}/loading/{run_no}")
    wait.until(lambda d: focused(d) == "scan")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr[data-slot]")) == 3)
    assert browser.find_element(By.ID, "scan-label").text == "扫描料站"
    assert browser.find_element(By.CSS_SELECTOR, "#slot-1-01 .slot-status").text == "已上料"
    assert_chinese(browser, "loading terminal", "material")
    # replace mode (F2): the reason, the slot, then a wrong reel: FAIL, said in Chinese
    type_keys(browser, Keys.F2)
    wait.until(lambda d: focused(d) == "replace-reason")
    assert "换料模式" in browser.find_element(By.ID, "feedback").text
    type_keys(browser, "料盘用完" + Keys.ENTER)
    wait.until(lambda d: focused(d) == "scan")
    type_keys(browser, "1-01" + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "scan-label"), "扫描料站 1-01 的料盘"))
    assert "料站 1-01 应上 MAT-R10K" in browser.find_element(By.ID, "feedback").text
    type_keys(browser, "MAT-C100N|LOT-C-001" + Keys.ENTER)
    text = answer(browser, wait, "不合格")
    assert "不是料站 1-01 所需的物料" in text and "连续扫描失败" in text, text
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#scan-log li"))
    screenshot(browser, "zh-loading-terminal")
    assert_chinese(browser, "loading terminal, wrong reel", "material")

    # Run Detail as the planner: its own headings, and the services' phases and next action, are Chinese
    sign_in_in_chinese(browser, base, "planner")
    browser.get(f"{base}/runs/{run_no}")
    wait.until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"生产批 {run_no}")
    assert browser.find_element(By.ID, "readiness").text == "生产就绪"
    for where in ("next-action", "phases"):
        text = browser.find_element(By.ID, where).text
        assert re.search(r"[\u4e00-\u9fff]", text) and not english_words(text, "planner"), f"{where}: {text}"
    screenshot(browser, "zh-run-detail")
