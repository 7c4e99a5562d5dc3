"""Browser, Simplified Chinese (issue 17): the planner's Work Orders list and a work order's page, and the
home page's worklists, as a person sees them (innerText: no untranslated English, the shared word check
of tests/zh_words.py). Screenshot: tests/artifacts/zh-work-orders.png."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from support import LiveApi, prep_run, screenshot
from test_zh_terminals_ui import assert_chinese, sign_in_in_chinese, waiter

pytestmark = pytest.mark.browser


def test_work_orders_in_chinese(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = prep_run(live, qty=2, wo_no="WO-ZH-UI-1")
    browser.set_window_size(1366, 900)
    sign_in_in_chinese(browser, base, "planner")
    assert browser.find_element(By.CSS_SELECTOR, "#worklist-planner h2").text.startswith("计划员")
    assert_chinese(browser, "home, planner", "planner")

    browser.get(base + "/work-orders/")
    wait.until(EC.presence_of_element_located((By.ID, "wo-list")))
    assert browser.find_element(By.TAG_NAME, "h1").text == "工单"
    assert "新建工单" in browser.find_element(By.ID, "new-wo").find_element(By.XPATH, "../..").text
    screenshot(browser, "zh-work-orders")
    assert_chinese(browser, "work orders", "planner")

    browser.get(base + "/work-orders/WO-ZH-UI-1")
    wait.until(EC.presence_of_element_located((By.ID, "wo-runs")))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("工单 WO-ZH-UI-1")
    assert run_no in browser.find_element(By.ID, "wo-runs").text
    assert_chinese(browser, "work order", "planner")
