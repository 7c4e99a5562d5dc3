"""Browser (issue 18 paste timers): at the Loading Terminal the material handler sees the paste jar bound to
the line thawing with the time left, is refused when opening it or checking it too early, records (keyboard
first, in plant time) that it left the refrigerator five hours ago, and the jar checks usable; in Chinese the
panel says the same."""
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from support import LiveApi, ok_data, prep_run, screenshot
from test_dashboard_ui import sign_in
from test_execution_console import answer, type_keys
from test_zh_terminals_ui import sign_in_in_chinese, waiter

pytestmark = pytest.mark.browser

LOT = "SP-LOT-0001"


def _clock(browser):
    return browser.find_element(By.ID, "paste-clock").text


def test_a_thawing_jar_is_refused_then_recorded_thawed_and_checked(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    ok_data(live("material").post("/api/v1/lines/LINE-SMT-A/solder-paste/times", json={
        "lotNo": LOT, "kind": "THAW_START", "at": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}))
    run_no = prep_run(live)

    sign_in(browser, base, "material")
    browser.get(f"{base}/loading/{run_no}")
    wait.until(lambda d: "Thawing" in _clock(d))
    assert "left before the jar may be opened" in _clock(browser) and "2 h 5" in _clock(browser), _clock(browser)
    assert "thaw ≥ 4 h" in browser.find_element(By.ID, "paste-windows").text
    assert LOT in browser.find_element(By.ID, "paste-lot-bound").text

    browser.find_element(By.ID, "paste-lot").click()
    type_keys(browser, LOT)
    browser.find_element(By.CSS_SELECTOR, "[data-paste-kind=OPENED]").click()
    text = answer(browser, wait, "PASTE_THAW_INCOMPLETE")
    assert "never open a cold jar" in text, text
    browser.find_element(By.ID, "paste-lot").click()
    assert browser.find_element(By.ID, "paste-lot").get_attribute("value") == ""  # the next scan starts empty
    type_keys(browser, LOT + Keys.ENTER)                 # Enter checks the jar before use
    assert "PASTE_THAW_INCOMPLETE" in answer(browser, wait, "PASTE_THAW_INCOMPLETE")

    # out of the refrigerator five hours ago, typed as a plant clock time
    zone = browser.execute_script("return JSON.parse(document.getElementById('loading-config').textContent).timeZone")
    from zoneinfo import ZoneInfo
    five_ago = (datetime.now(timezone.utc) - timedelta(hours=5)).astimezone(ZoneInfo(zone)).strftime("%H:%M")
    browser.find_element(By.ID, "paste-at").click()
    type_keys(browser, five_ago + Keys.ENTER)            # Enter goes back to the jar field
    type_keys(browser, LOT)
    browser.find_element(By.CSS_SELECTOR, "[data-paste-kind=THAW_START]").click()
    text = answer(browser, wait, "Thaw started")
    assert five_ago in text and "Thawed: usable." in text, text
    assert five_ago in browser.find_element(By.CSS_SELECTOR, "#paste-times [data-time=thawStartedAt]").text
    wait.until(lambda d: "Thawed: usable." in _clock(d))
    type_keys(browser, LOT + Keys.ENTER)                 # the focus is back on the jar field: check it
    assert "may be used" in answer(browser, wait, "PASS")

    sign_in_in_chinese(browser, base, "material")
    browser.get(f"{base}/loading/{run_no}")
    wait.until(EC.text_to_be_present_in_element((By.ID, "paste-clock"), "已回温"))
    assert "锡膏" in browser.find_element(By.ID, "paste-title").text
    screenshot(browser, "loading-paste-zh")
