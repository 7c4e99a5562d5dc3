"""Browser at 1024×768 (a common line-side touch PC): the Station Terminal with the keyboard only — a
DIP functional test (TrackIn → data → PASS, and a FAIL with defect and location), PASS and Record FAIL
visible without scrolling, no horizontal scrollbar, scans that land in a data field taken as scans, a
foreign station label named, fields in the engineer's order under readable labels, defect codes of the
line's process only, stations in process order — the same with touch only, and the Loading Terminal
at 1024×768 with the plant's 24-hour time."""
import re
from datetime import datetime, timezone

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import DEMO_PASSWORD, LiveApi, authorized_run, build_unit, ok_data, ready_run, screenshot
from test_execution_console import answer, focused, type_keys  # the terminals' keyboard helpers

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1024, 768


def waiter(browser):
    return WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException])


def at_1024(browser):
    """The viewport is exactly 1024×768 (the window's own chrome does not count)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})


def sign_in_with_keys(browser, base, username):
    browser.get(base + "/login/")
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys(username + Keys.TAB)
    browser.switch_to.active_element.send_keys(DEMO_PASSWORD + Keys.ENTER)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-home h1")))


def visible_without_scrolling(browser, element_id):
    """The element is displayed and wholly inside the viewport, and the page is not scrolled."""
    return browser.execute_script("""
        var e = document.getElementById(arguments[0]); if (!e || !e.offsetParent) { return false; }
        var r = e.getBoundingClientRect();
        return window.scrollY === 0 && r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight
          && r.right <= window.innerWidth;""", element_id)


def no_horizontal_scrollbar(browser):
    return browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def layout_ok(browser, *ids):
    assert browser.execute_script("return [window.innerWidth, window.innerHeight]") == [WIDTH, HEIGHT]
    assert no_horizontal_scrollbar(browser), "horizontal scrollbar at 1024 px"
    for element_id in ids:
        assert visible_without_scrolling(browser, element_id), f"#{element_id} is not visible without scrolling"


def field_labels(browser):
    return [label.text for label in browser.find_elements(By.CSS_SELECTOR, "#data-fields label")]


def defect_options(browser):
    return [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#defect-code option")]


def dip_boards_at_test(live, operator="operator2", boards=2):
    """An authorized DIP run whose boards wait at step 40 (functional test)."""
    run_no = authorized_run(live, product="P-2001", qty=boards, units=boards)
    sns = [f"{run_no}-000{i}" for i in range(1, boards + 1)]
    for sn in sns:
        build_unit(live, run_no, sn, product="P-2001", operator=operator, until=30)
    return run_no, sns


def test_functional_test_with_the_keyboard_only_at_1024(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no, (first, second) = dip_boards_at_test(live)
    at_1024(browser)
    sign_in_with_keys(browser, base, "operator2")
    browser.get(base + "/terminal/ST-DIP-TEST-01")
    wait.until(lambda d: focused(d) == "scan")
    layout_ok(browser, "scan", "run-select", "change-station")

    # another station's label (not one of operator2's): said what it is and what to do, nothing registered
    type_keys(browser, "ST-PRINT-01" + Keys.ENTER)
    text = answer(browser, wait, "SCAN_NOT_A_BOARD")
    assert "label of station ST-PRINT-01" in text and "not one of your stations" in text
    assert "Unknown SN" not in text
    layout_ok(browser, "feedback")  # the long code wraps: no horizontal scrollbar
    assert live("quality").get("/api/v1/trace/units/ST-PRINT-01").status_code == 404

    # the functional test form: process order, readable labels, PASS and FAIL above the fold
    type_keys(browser, first + Keys.ENTER)
    answer(browser, wait, "IN")
    labels = field_labels(browser)
    assert labels[0].startswith("Output voltage") and labels[1].startswith("Firmware version"), labels
    assert not any("_" in label for label in labels)
    assert focused(browser) == "spec-0"
    layout_ok(browser, "pass-button", "fail-button", "run-select")

    # a scan into the NUMBER field: another board — refused plainly, the field cleared, nothing sent
    type_keys(browser, second + Keys.ENTER)
    text = answer(browser, wait, "FINISH FIRST")
    assert f"finish {first} first" in text and "Output voltage field" in text
    assert browser.find_element(By.ID, "spec-0").get_attribute("value") == "" and focused(browser) == "spec-0"
    assert "needs a number" not in text
    # a scan right after a value was typed: the value stays, the scan is refused
    type_keys(browser, "5.0" + second + Keys.ENTER)
    text = answer(browser, wait, "FINISH FIRST")
    wait.until(lambda d: "keeps what was typed before it (5.0)" in d.find_element(By.ID, "feedback").text)
    assert browser.find_element(By.ID, "spec-0").get_attribute("value") == "5.0" and focused(browser) == "spec-0"
    type_keys(browser, "1" + Keys.ENTER)
    assert focused(browser) == "spec-1"
    # the TEXT field would take the board's own SN: a scan, not a value
    type_keys(browser, first + Keys.ENTER)
    assert "is this board's SN" in answer(browser, wait, "SCAN, NOT A VALUE")
    assert browser.find_element(By.ID, "spec-1").get_attribute("value") == "" and focused(browser) == "spec-1"
    type_keys(browser, "1.4.2")
    screenshot(browser, "terminal-1024")
    type_keys(browser, Keys.ENTER)
    assert "DONE" in answer(browser, wait, "PASS")
    layout_ok(browser, "feedback")

    # a FAIL with defect and location, keys only: F9, filter, Tab to Location, Enter
    type_keys(browser, second + Keys.ENTER)
    answer(browser, wait, "IN")
    type_keys(browser, "4.98" + Keys.ENTER + "1.4.2" + Keys.F9)
    wait.until(lambda d: focused(d) == "defect-filter")
    codes = defect_options(browser)
    assert "FCT_FAIL" in codes and "WS_BRIDGE" in codes and "INS_MISS" in codes
    assert "SOLDER_BRIDGE" not in codes and "TOMBSTONE" not in codes  # SMT codes are not offered on DIP
    layout_ok(browser, "defect-filter", "defect-location", "confirm-fail", "cancel-fail")
    type_keys(browser, "functional")
    wait.until(lambda d: defect_options(d) == ["FCT_FAIL"])
    type_keys(browser, Keys.TAB)
    assert focused(browser) == "defect-location"  # Tab goes to Location, as the guide says
    type_keys(browser, "J1")
    layout_ok(browser, "confirm-fail")
    screenshot(browser, "terminal-1024-defect")
    type_keys(browser, Keys.ENTER)
    assert second in answer(browser, wait, "FAIL FCT_FAIL")
    layout_ok(browser, "feedback")

    trace = ok_data(live("quality").get(f"/api/v1/trace/units/{second}"))
    assert [(d["code"], d["location"]) for d in trace["defects"]] == [("FCT_FAIL", "J1")]
    assert trace["unit"]["status"] == "OUT_FAILED"
    done = ok_data(live("quality").get(f"/api/v1/trace/units/{first}"))
    assert done["unit"]["status"] == "DONE"
    values = {v["spec"]: v for track in done["tracks"] for v in track.get("dataValues", [])}
    assert values["firmware_version"]["value"] == "1.4.2" and values["output_voltage_v"]["value"] == 5.01


def test_stations_in_process_order_and_smt_defects_at_smt(browser, live_server):
    base, wait = live_server.url, waiter(browser)
    at_1024(browser)
    sign_in_with_keys(browser, base, "operator")
    browser.get(base + "/terminal/?choose=1")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-station-btn")))
    order = [b.get_attribute("data-station") for b in browser.find_elements(By.CSS_SELECTOR, ".mes-station-btn")]
    assert order == ["ST-DIP-INS-01", "ST-DIP-WAVE-01", "ST-DIP-POST-01", "ST-DIP-TEST-01",
                     "ST-PRINT-01", "ST-SPI-01", "ST-MOUNT-01", "ST-REFLOW-01", "ST-AOI-01"]
    assert no_horizontal_scrollbar(browser)
    browser.get(base + "/terminal/ST-AOI-01")
    wait.until(lambda d: focused(d) == "scan")
    codes = browser.execute_script(
        "return JSON.parse(document.getElementById('terminal-config').textContent).defectCodes"
        ".map(function (d) { return d.code; })")
    assert "SOLDER_BRIDGE" in codes and "FCT_FAIL" in codes
    assert "WS_BRIDGE" not in codes and "INS_MISS" not in codes  # DIP codes are not offered on SMT


def test_functional_test_with_touch_only_at_1024(browser, live_server):
    """Touch only: taps (clicks) on the screen's own buttons and fields; the board's SN comes from the
    scanner (the scan field), values from the on-screen keyboard (typed into the tapped field)."""
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no, (board,) = dip_boards_at_test(live, boards=1)
    at_1024(browser)
    sign_in_with_keys(browser, base, "operator2")
    browser.get(base + "/terminal/?choose=1")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-station="ST-DIP-TEST-01"]'))).click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "station-code"), "ST-DIP-TEST-01"))
    browser.find_element(By.ID, "scan").send_keys(board + Keys.ENTER)  # the scanner
    answer(browser, wait, "IN")
    layout_ok(browser, "pass-button", "fail-button")
    browser.find_element(By.ID, "spec-0").click()
    browser.find_element(By.ID, "spec-0").send_keys("5.1")
    browser.find_element(By.ID, "spec-1").click()
    browser.find_element(By.ID, "spec-1").send_keys("1.4.2")
    browser.find_element(By.ID, "fail-button").click()
    wait.until(lambda d: d.find_element(By.ID, "defect-panel").is_displayed())
    layout_ok(browser, "defect-code", "defect-location", "confirm-fail")
    browser.find_element(By.CSS_SELECTOR, '#defect-code option[value="FCT_FAIL"]').click()
    browser.find_element(By.ID, "defect-location").click()
    browser.find_element(By.ID, "defect-location").send_keys("J2")
    browser.find_element(By.ID, "cancel-fail").click()  # changed their mind: Back, then PASS
    wait.until(lambda d: d.find_element(By.ID, "pass-button").is_displayed())
    layout_ok(browser, "pass-button")
    browser.find_element(By.ID, "pass-button").click()
    assert "DONE" in answer(browser, wait, "PASS")
    values = {v["spec"]: v["value"] for t in ok_data(live("quality").get(f"/api/v1/trace/units/{board}"))["tracks"]
              for v in t.get("dataValues", [])}
    assert values["output_voltage_v"] == 5.1 and values["firmware_version"] == "1.4.2"


def test_loading_terminal_at_1024_shows_plant_time(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = ready_run(live, qty=2)
    # the browser's own clock is in New York; the plant's (MES_TIMEZONE of the server) is UTC
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    at_1024(browser)
    sign_in_with_keys(browser, base, "material")
    browser.get(f"{base}/loading/{run_no}")
    wait.until(lambda d: focused(d) == "scan")
    layout_ok(browser, "scan", "feedback")
    assert "times: UTC" in browser.find_element(By.ID, "scan-time-zone").text
    slot = "1-01"
    type_keys(browser, slot + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "scan-label"), f"slot {slot}"))
    type_keys(browser, "MAT-C100N|LOT-C-001" + Keys.ENTER)  # the wrong reel: refused, logged
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#scan-log li"))
    wait.until(lambda d: "mes-term-busy" not in d.find_element(By.ID, "feedback").get_attribute("class"))
    assert no_horizontal_scrollbar(browser)
    screenshot(browser, "loading-terminal-1024")
    entry = browser.find_element(By.CSS_SELECTOR, "#scan-log li").text
    match = re.match(r"^(\d{2}):(\d{2}):(\d{2}) ", entry)
    assert match and "AM" not in entry and "PM" not in entry, entry
    now = datetime.now(timezone.utc)
    shown = now.replace(hour=int(match[1]), minute=int(match[2]), second=int(match[3]), microsecond=0)
    assert abs((now - shown).total_seconds()) < 120 or abs((now - shown).total_seconds()) > 86400 - 120
    # the leader's view has the Unlock column: still no horizontal scrollbar
    browser.delete_all_cookies()
    sign_in_with_keys(browser, base, "leader")
    browser.get(f"{base}/loading/{run_no}")
    wait.until(lambda d: focused(d) == "scan")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr[data-slot]")) == 3)
    layout_ok(browser, "scan", "feedback")


def test_fai_trial_board_pass_says_what_really_happens_next(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = ready_run(live, product="P-2001", qty=2)
    fai = ok_data(live("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}))["id"]
    ok_data(live("quality").post(f"/api/v1/inspections/{fai}/start"))
    board = f"{run_no}-FAI1"
    at_1024(browser)
    sign_in_with_keys(browser, base, "operator2")
    browser.get(base + "/terminal/ST-DIP-INS-01")
    wait.until(lambda d: focused(d) == "scan")
    # the FAI trial run is offered for new boards (other tests' runs may be active on the line too)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#run-select option[value="{run_no}"]'))
    Select(browser.find_element(By.ID, "run-select")).select_by_value(run_no)
    wait.until(lambda d: focused(d) == "scan")
    type_keys(browser, board + Keys.ENTER)
    answer(browser, wait, "IN")
    type_keys(browser, Keys.ENTER)  # no data at insertion: Enter = PASS
    text = answer(browser, wait, "PASS")
    assert "next: Step 20 · WAVE_SOLDER (Wave soldering) (after the FAI)" in text
    assert browser.find_element(By.ID, "next-step-waits").text.startswith(
        "FAI trial board: it stops after step 10 (DIP_INSERT). Hand it to quality for the FAI")
    layout_ok(browser, "feedback")
    screenshot(browser, "terminal-1024-fai-trial")
    type_keys(browser, "ST-DIP-WAVE-01" + Keys.ENTER)  # the wave station refuses it, as the message said
    wait.until(EC.text_to_be_present_in_element((By.ID, "station-code"), "ST-DIP-WAVE-01"))
    wait.until(lambda d: focused(d) == "scan")
    type_keys(browser, board + Keys.ENTER)
    answer(browser, wait, "FAI_TRIAL_STEP_NOT_ALLOWED")
