"""Browser: the operator builds boards at the Station Terminal with the keyboard only (steps without
data: scan again or Enter = PASS; another board is refused while one is open; the defect picker has no
preselection and filters by code or name); a reflow temperature beyond its FAIL limit fails a board
plainly; the trace page shows every track and value. The terminal shows a run's closeout, ignores
scans while an answer is pending, and answers plainly when the session expired or a proxy answers
with an HTML error page. The planner releases a work order, creates a run and sees the next action."""
import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import DEMO_PASSWORD, LiveApi, SMT_STATIONS, authorized_run, build_unit, ok_data, screenshot

pytestmark = pytest.mark.browser
VALUES = {10: ["6"], 20: ["150"], 30: [], 40: ["250"], 50: []}


def waiter(browser):
    return WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException])


def sign_in(browser, base, username):
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-home h1")))


def type_keys(browser, text):
    """Keys go wherever the focus is — exactly like a keyboard-wedge scanner."""
    browser.switch_to.active_element.send_keys(text)


def focused(browser):
    return browser.switch_to.active_element.get_attribute("id")


def headline(browser):
    codes = browser.find_elements(By.CSS_SELECTOR, "#feedback .mes-term-code")
    return codes[0].text if codes else ""


def answer(browser, wait, code):
    """Wait for the terminal's answer whose headline starts with `code`; return the whole feedback."""
    wait.until(lambda d: "mes-term-busy" not in d.find_element(By.ID, "feedback").get_attribute("class")
               and headline(d).startswith(code))
    return browser.find_element(By.ID, "feedback").text


def go_to_station(browser, wait, station):
    if browser.find_element(By.ID, "station-code").text != station:
        type_keys(browser, station + Keys.ENTER)  # scanning a station label switches the terminal
        wait.until(EC.text_to_be_present_in_element((By.ID, "station-code"), station))
    wait.until(lambda d: focused(d) == "scan")


def scan_in(browser, wait, sn, step):
    type_keys(browser, sn + Keys.ENTER)
    text = answer(browser, wait, "IN")
    wait.until(lambda d: d.find_element(By.ID, "unit-sn").text == sn
               and d.find_element(By.ID, "unit-step").text.startswith(f"Step {step} ·"))
    return text


def defect_options(browser):
    return [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#defect-code option")]


def selected_defect(browser):
    return browser.execute_script("return document.getElementById('defect-code').value")


def test_operator_builds_boards_with_the_keyboard(browser, live_server):
    base, wait = live_server.url, waiter(browser)
    run_no = authorized_run(LiveApi(base), qty=3, units=3)  # the shared helper, over real HTTP
    first, second, third = (f"{run_no}-000{i}" for i in (1, 2, 3))

    sign_in(browser, base, "operator")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Production").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Station Terminal"))).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-station-btn")))
    # the station buttons are reachable with the arrow keys; Enter opens one
    buttons = [b.get_attribute("data-station") for b in browser.find_elements(By.CSS_SELECTOR, ".mes-station-btn")]
    station_of_focus = lambda: browser.switch_to.active_element.get_attribute("data-station")  # noqa: E731
    assert len(buttons) >= 3 and station_of_focus() == buttons[0]
    type_keys(browser, Keys.ARROW_RIGHT)
    assert station_of_focus() == buttons[1]
    type_keys(browser, Keys.ARROW_DOWN)
    assert station_of_focus() == buttons[2]
    type_keys(browser, Keys.ARROW_LEFT + Keys.ARROW_UP)
    assert station_of_focus() == buttons[0]
    type_keys(browser, Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "station-code"), buttons[0]))
    go_to_station(browser, wait, "ST-PRINT-01")
    # the only active run of the line is selected for new boards
    wait.until(lambda d: Select(d.find_element(By.ID, "run-select")).first_selected_option.get_attribute("value") == run_no)
    screenshot(browser, "terminal-1-idle")

    for step in (10, 20):
        go_to_station(browser, wait, SMT_STATIONS[step])
        scan_in(browser, wait, first, step)
        if step == 10:
            screenshot(browser, "terminal-2-after-trackin-with-data-form")
        assert focused(browser) == "spec-0"
        type_keys(browser, "".join(value + Keys.ENTER for value in VALUES[step]))
        assert first in answer(browser, wait, "PASS")

    # a step without data: the scan field keeps the focus; another board is refused while one is open
    go_to_station(browser, wait, "ST-MOUNT-01")
    scan_in(browser, wait, first, 30)
    assert focused(browser) == "scan" and browser.find_element(By.ID, "unit-no-data").is_displayed()
    type_keys(browser, second + Keys.ENTER)
    text = answer(browser, wait, "FINISH")
    assert f"finish {first} first" in text and browser.find_element(By.ID, "unit-sn").text == first
    screenshot(browser, "terminal-4-finish-first")
    # at another station the open board is reported where it is tracked in
    go_to_station(browser, wait, "ST-REFLOW-01")
    type_keys(browser, first + Keys.ENTER)
    assert "already tracked in at ST-MOUNT-01 (step 30)" in answer(browser, wait, "UNIT_ALREADY_IN_STATION")
    go_to_station(browser, wait, "ST-MOUNT-01")
    assert "is tracked in here" in scan_in(browser, wait, first, 30)
    type_keys(browser, first + Keys.ENTER)  # the same board scanned again = PASS
    assert "next: Step 40" in answer(browser, wait, "PASS")

    go_to_station(browser, wait, "ST-REFLOW-01")
    scan_in(browser, wait, first, 40)
    type_keys(browser, "250" + Keys.ENTER)
    answer(browser, wait, "PASS")

    # F9 opens the defect list with nothing chosen; F8 does nothing while it is open; Esc closes it
    go_to_station(browser, wait, "ST-AOI-01")
    scan_in(browser, wait, first, 50)
    type_keys(browser, Keys.F9)
    wait.until(lambda d: d.find_element(By.ID, "defect-panel").is_displayed())
    assert focused(browser) == "defect-filter" and selected_defect(browser) == ""
    assert "SOLDER_BRIDGE" in defect_options(browser)
    type_keys(browser, Keys.F8)
    time.sleep(0.5)
    assert headline(browser) == "IN" and browser.find_element(By.ID, "defect-panel").is_displayed()
    type_keys(browser, Keys.ESCAPE)
    assert not browser.find_element(By.ID, "defect-panel").is_displayed() and focused(browser) == "scan"
    type_keys(browser, Keys.ENTER)  # Enter on the empty scan field = PASS
    assert "DONE" in answer(browser, wait, "PASS")

    for step in (10, 20, 30):
        go_to_station(browser, wait, SMT_STATIONS[step])
        scan_in(browser, wait, second, step)
        type_keys(browser, "".join(v + Keys.ENTER for v in VALUES[step]) or Keys.ENTER)
        answer(browser, wait, "PASS")
    go_to_station(browser, wait, "ST-REFLOW-01")
    scan_in(browser, wait, second, 40)
    type_keys(browser, "280")
    wait.until(EC.text_to_be_present_in_element((By.ID, "spec-0-note"), "will FAIL"))  # the hint before submit
    type_keys(browser, Keys.ENTER)
    text = answer(browser, wait, "FAIL")
    assert "SPEC_OUT_OF_LIMIT" in text and "peak_temp_c = 280" in text
    assert "mes-term-fail" in browser.find_element(By.ID, "feedback").get_attribute("class")
    screenshot(browser, "terminal-3-after-fail")

    # the defect picker: filter by code or name, nothing chosen until the operator chooses
    go_to_station(browser, wait, "ST-PRINT-01")
    scan_in(browser, wait, third, 10)
    type_keys(browser, "6" + Keys.F9)
    wait.until(lambda d: focused(d) == "defect-filter")
    type_keys(browser, "solder")  # matches the names "Solder bridge", "Insufficient solder" (not the DIP "Wave solder bridge")
    wait.until(lambda d: defect_options(d) == ["INSUFFICIENT_SOLDER", "SOLDER_BRIDGE"])
    assert selected_defect(browser) == ""
    type_keys(browser, Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "defect-note"), "Pick a defect code first"))
    assert headline(browser) == "IN"  # nothing was sent
    type_keys(browser, Keys.ARROW_DOWN + Keys.ARROW_DOWN)
    assert selected_defect(browser) == "SOLDER_BRIDGE"
    type_keys(browser, Keys.ARROW_UP)
    assert selected_defect(browser) == "INSUFFICIENT_SOLDER"
    type_keys(browser, Keys.ARROW_DOWN)
    screenshot(browser, "terminal-5-defect-picker")
    type_keys(browser, Keys.ENTER)
    assert third in answer(browser, wait, "FAIL SOLDER_BRIDGE")

    browser.get(f"{base}/trace/units/{first}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#trace-tracks tbody tr")
    assert len(rows) == 5 and all("PASS" in row.text for row in rows)
    values = browser.find_element(By.ID, "trace-tracks").text
    assert "squeegee_pressure_kg = 6" in values and "paste_height_um = 150" in values and "peak_temp_c = 250" in values
    for station in SMT_STATIONS.values():
        assert station in values
    screenshot(browser, "trace-unit")


def test_terminal_shows_the_closeout_and_answers_plainly(browser, live_server):
    base, wait = live_server.url, waiter(browser)
    live = LiveApi(base)
    run_a = authorized_run(live, qty=1, units=1)
    run_b = authorized_run(live, qty=1, units=1)
    board, other = f"{run_a}-0001", f"{run_b}-0001"
    build_unit(live, run_a, board, until=40)

    sign_in(browser, base, "operator")
    browser.get(base + "/terminal/ST-AOI-01")
    wait.until(lambda d: focused(d) == "scan")
    # several active runs: the operator chooses the run for new boards, none is preselected
    run_select = lambda: Select(browser.find_element(By.ID, "run-select"))  # noqa: E731
    wait.until(lambda d: len(run_select().options) >= 3)
    assert run_select().options[0].text.startswith("(choose")
    assert run_select().first_selected_option.get_attribute("value") == ""
    type_keys(browser, "NEW-BOARD-1" + Keys.ENTER)
    assert "choose the run for new boards" in answer(browser, wait, "NO RUN")

    # the last board of run A: its PASS completes the run, and the terminal says so
    scan_in(browser, wait, board, 50)
    type_keys(browser, Keys.ENTER)
    answer(browser, wait, "PASS")
    closeout = browser.find_element(By.ID, "run-closeout").text
    assert run_a in closeout and "COMPLETED" in closeout
    screenshot(browser, "terminal-6-run-closeout")
    wait.until(lambda d: run_a not in [o.get_attribute("value") for o in run_select().options])

    # while an answer is pending, further scans are ignored (sent once)
    browser.execute_script("""
        window.__realFetch = window.__realFetch || window.fetch; window.__calls = 0;
        window.fetch = function (url, options) {
          window.__calls += 1;
          return new Promise(function (resolve) {
            window.__release = function () { resolve(window.__realFetch(url, options)); };
          });
        };""")
    type_keys(browser, other + Keys.ENTER)
    wait.until(lambda d: f"Checking {other}" in d.find_element(By.ID, "feedback").text)
    type_keys(browser, other + Keys.ENTER)
    type_keys(browser, "ANOTHER-1" + Keys.ENTER)
    assert "Scan ignored" in browser.find_element(By.ID, "feedback").text
    assert browser.execute_script("return window.__calls") == 1
    browser.execute_script("window.fetch = window.__realFetch; window.__release();")
    assert "step 10 (PRINTING)" in answer(browser, wait, "STATION_MISMATCH")  # the board is at step 10

    # an HTML error page from a proxy: a plain message, and the terminal keeps working
    browser.execute_script("""
        window.fetch = function () {
          return Promise.resolve(new Response("<html><body><h1>502 Bad Gateway</h1></body></html>",
                                              {status: 502, headers: {"Content-Type": "text/html"}}));
        };""")
    type_keys(browser, other + Keys.ENTER)
    assert "(HTTP 502)" in answer(browser, wait, "SERVER ERROR")
    browser.execute_script("window.fetch = window.__realFetch;")
    assert focused(browser) == "scan"

    # the session expired: say so, with the way back
    browser.delete_all_cookies()
    type_keys(browser, other + Keys.ENTER)
    assert "Your session has expired — sign in again" in answer(browser, wait, "SIGNED OUT")
    link = browser.find_element(By.ID, "sign-in-again").get_attribute("href")
    assert "/login/" in link and "next=" in link and "ST-AOI-01" in link
    screenshot(browser, "terminal-7-session-expired")
    browser.find_element(By.ID, "sign-in-again").click()
    wait.until(EC.presence_of_element_located((By.ID, "username"))).send_keys("operator")
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "station-code"), "ST-AOI-01"))  # back at the station


def test_planner_releases_creates_a_run_and_sees_the_next_action(browser, live_server):
    base, wait = live_server.url, waiter(browser)
    ok_data(LiveApi(base)("planner").post("/api/v1/integration/work-orders", json={
        "woNo": "WO-UI-REL-1", "productCode": "P-2001", "plannedQty": 12}))
    sign_in(browser, base, "planner")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Production").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Work Orders"))).click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "WO-UI-REL-1"))).click()
    # every active line is offered, the ones of the routing's process first
    options = Select(browser.find_element(By.ID, "release-line")).options
    assert [o.get_attribute("value") for o in options][:1] == ["LINE-DIP-A"] and len(options) >= 2
    assert "does not match" in options[-1].text
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
    # the next action is the first unfinished preparation: the FORMAL readiness check (then the FAI)
    assert "Readiness" in browser.find_element(By.ID, "next-action").text
    assert "Run the FORMAL check" in browser.find_element(By.ID, "next-action").text
    assert browser.find_element(By.ID, "authorize-button").get_attribute("class").count("btn-primary") == 0
    screenshot(browser, "run-detail-next-action")
