"""Browser: the operator builds boards at the Station Terminal with the keyboard only; a reflow
temperature beyond its FAIL limit fails a board plainly; the trace page shows every track and value.
The planner releases a work order, creates a run and sees the run detail with its next action."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from support import DEMO_PASSWORD, LiveApi, SMT_STATIONS, authorized_run, ok_data, screenshot

pytestmark = pytest.mark.browser
VALUES = {10: ["6"], 20: ["150"], 30: [], 40: ["250"], 50: []}


def sign_in(browser, base, username):
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-home h1")))


def type_keys(browser, text):
    """Keys go wherever the focus is — exactly like a keyboard-wedge scanner."""
    browser.switch_to.active_element.send_keys(text)


def feedback_after(browser, wait, marker):
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), marker))
    return browser.find_element(By.ID, "feedback").text


def go_to_station(browser, wait, station):
    if browser.find_element(By.ID, "station-code").text != station:
        type_keys(browser, station + Keys.ENTER)  # scanning a station label switches the terminal
        wait.until(EC.text_to_be_present_in_element((By.ID, "station-code"), station))
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "scan")


def scan_in(browser, wait, sn):
    type_keys(browser, sn + Keys.ENTER)
    return feedback_after(browser, wait, "IN")


def test_operator_builds_boards_with_the_keyboard(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    run_no = authorized_run(LiveApi(base), qty=2, units=2)  # the shared helper, over real HTTP
    first, second = f"{run_no}-0001", f"{run_no}-0002"

    sign_in(browser, base, "operator")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Production").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Station Terminal"))).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-station-btn")))
    browser.get(base + "/terminal/ST-PRINT-01")
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "scan")
    screenshot(browser, "terminal-1-idle")

    for step in (10, 20, 30, 40, 50):
        go_to_station(browser, wait, SMT_STATIONS[step])
        scan_in(browser, wait, first)
        if step == 10:
            screenshot(browser, "terminal-2-after-trackin-with-data-form")
        keys = "".join(value + Keys.ENTER for value in VALUES[step]) or Keys.ENTER  # Enter on PASS
        marker = "DONE" if step == 50 else "PASS"
        type_keys(browser, keys)
        assert "PASS" in feedback_after(browser, wait, marker)

    for step in (10, 20, 30):
        go_to_station(browser, wait, SMT_STATIONS[step])
        scan_in(browser, wait, second)
        type_keys(browser, "".join(v + Keys.ENTER for v in VALUES[step]) or Keys.ENTER)
        feedback_after(browser, wait, "PASS")
    go_to_station(browser, wait, "ST-REFLOW-01")
    scan_in(browser, wait, second)
    type_keys(browser, "280")
    wait.until(EC.text_to_be_present_in_element((By.ID, "spec-0-note"), "will FAIL"))  # the hint before submit
    type_keys(browser, Keys.ENTER)
    text = feedback_after(browser, wait, "FAIL")
    assert "SPEC_OUT_OF_LIMIT" in text and "peak_temp_c = 280" in text
    assert "mes-term-fail" in browser.find_element(By.ID, "feedback").get_attribute("class")
    screenshot(browser, "terminal-3-after-fail")

    browser.get(f"{base}/trace/units/{first}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#trace-tracks tbody tr")
    assert len(rows) == 5 and all("PASS" in row.text for row in rows)
    values = browser.find_element(By.ID, "trace-tracks").text
    assert "squeegee_pressure_kg = 6" in values and "paste_height_um = 150" in values and "peak_temp_c = 250" in values
    for station in SMT_STATIONS.values():
        assert station in values
    screenshot(browser, "trace-unit")


def test_planner_releases_creates_a_run_and_sees_the_next_action(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    ok_data(LiveApi(base)("planner").post("/api/v1/integration/work-orders", json={
        "woNo": "WO-UI-REL-1", "productCode": "P-2001", "plannedQty": 12}))
    sign_in(browser, base, "planner")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Production").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Work Orders"))).click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "WO-UI-REL-1"))).click()
    browser.find_element(By.ID, "release-button").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "released to LINE-DIP-A"))
    assert browser.find_element(By.ID, "wo-status").text == "RELEASED"
    qty = browser.find_element(By.ID, "plan-qty")
    qty.clear()
    qty.send_keys("12")
    browser.find_element(By.ID, "create-run-button").click()
    wait.until(EC.presence_of_element_located((By.ID, "next-action")))
    assert "WO-UI-REL-1-R01" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_element(By.ID, "run-status").text == "PREP"
    assert "authorize the run" in browser.find_element(By.ID, "next-action").text
    assert browser.find_element(By.ID, "authorize-button").get_attribute("class").count("btn-primary") == 1
    screenshot(browser, "run-detail-next-action")
