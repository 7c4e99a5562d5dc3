"""Browser (issue 18): the floor-life clock of moisture-sensitive reels on the screens. At the Loading
Terminal the material handler scans a reel's label, records Opened and — once the reel is spent — Baked
with the keyboard (F8, arrows, Enter, the bake confirmed), and the clock changes each time; Run Detail and
the line board show a loaded reel that ran out on the line, with what to do."""
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from support import SMT_REELS, LiveApi, load_reels, ok_data, prep_run, screenshot
from test_dashboard_ui import sign_in
from test_execution_console import focused, type_keys
from test_zh_terminals_ui import waiter

pytestmark = pytest.mark.browser

MCU, LOT = "MAT-MCU", "LOT-M-001"   # MSL 3 in the demo data: 168 h
SPENT = "LOT-M-SPENT"


def _event(live, kind, hours_ago, lot=LOT):
    at = (datetime.now(timezone.utc) - timedelta(hours=hours_ago)).isoformat()
    ok_data(live("material").post(f"/api/v1/material-lots/{MCU}/{lot}/msd-events", json={"kind": kind, "at": at}))


def _signed_in(browser, base, wait, username):
    sign_in(browser, base, username)
    wait.until(lambda d: "/login" not in d.current_url)


def _clock(browser):
    box = browser.find_element(By.ID, "msd-clock")
    return box.get_attribute("data-state"), box.get_attribute("data-status"), box.text


def test_the_loading_terminal_records_opened_and_baked(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = prep_run(live)
    ok_data(live("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    _signed_in(browser, base, wait, "material")
    browser.get(f"{base}/loading/{run_no}")
    wait.until(lambda d: focused(d) == "scan")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr[data-slot]")) == 3)

    type_keys(browser, f"{MCU}|{LOT}" + Keys.ENTER)   # a reel's label, no slot first: its floor life
    wait.until(EC.visibility_of_element_located((By.ID, "msd-panel")))
    wait.until(lambda d: _clock(d)[0] == "SEALED")
    assert "MSL 3" in browser.find_element(By.ID, "msd-msl").text
    assert "168.0 h of floor life left" in _clock(browser)[2]

    type_keys(browser, Keys.F8)                         # to the buttons: Opened first
    wait.until(lambda d: focused(d) == "msd-opened")
    type_keys(browser, Keys.ENTER)
    wait.until(lambda d: _clock(d)[0] == "ON_FLOOR")
    assert "recorded as opened" in browser.find_element(By.ID, "feedback").text
    assert focused(browser) == "scan"

    _event(live, "OPENED", 200)     # WMS reports it had left its dry pack 200 h ago: spent
    type_keys(browser, f"{MCU}|{LOT}" + Keys.ENTER)
    wait.until(lambda d: _clock(d)[1] == "EXPIRED")
    assert "Floor life spent" in _clock(browser)[2] and "spent" in _clock(browser)[2]
    screenshot(browser, "loading-msd-spent")

    type_keys(browser, Keys.F8)
    for _ in range(3):                                   # Opened → Into dry → Out of dry → Baked
        type_keys(browser, Keys.ARROW_RIGHT)
    assert focused(browser) == "msd-baked"
    type_keys(browser, Keys.ENTER)
    alert = wait.until(EC.alert_is_present())            # a bake resets the clock: asked first
    assert "baked" in alert.text
    alert.accept()
    wait.until(lambda d: _clock(d)[1] == "OK")
    state, _, text = _clock(browser)
    assert state == "ON_FLOOR" and "exposed 0.0 h of 168.0 h" in text, text
    assert "recorded as baked" in browser.find_element(By.ID, "feedback").text
    events = ok_data(live("quality").get(f"/api/v1/material-lots/{MCU}/{LOT}/msd"))["events"]
    assert [(e["kind"], e["source"], e["recordedBy"]) for e in events] == [
        ("OPENED", "MANUAL", "material"), ("OPENED", "MANUAL", "material"), ("BAKED", "MANUAL", "material")]


def test_run_detail_and_the_line_board_show_a_spent_loaded_reel(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    run_no = prep_run(live)                              # (a reel of its own: the server's database is the module's)
    load_reels(live, run_no, {**SMT_REELS, "2-01": f"{MCU}|{SPENT}"})   # a new reel, still sealed: it loads
    _event(live, "OPENED", 200, lot=SPENT)               # its opening, reported late: spent on the line
    _signed_in(browser, base, wait, "leader")
    browser.get(f"{base}/runs/{run_no}")
    alert = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".mes-msd-alert[data-status='EXPIRED']")))
    assert "MAT-MCU" in alert.text and SPENT in alert.text and "2-01" in alert.text and "baked" in alert.text
    row = browser.find_element(By.CSS_SELECTOR, "#loading-grid tr[data-slot='2-01']")
    assert "danger" in row.get_attribute("class") and "floor life spent" in row.text
    assert browser.find_element(By.CSS_SELECTOR, "#loading-grid tr[data-slot='1-01'] ").find_elements(
        By.CSS_SELECTOR, ".mes-msd-clock") == []      # a resistor (MSL 1): no clock
    screenshot(browser, "run-detail-msd-spent")

    browser.delete_all_cookies()
    _signed_in(browser, base, wait, "manager")                     # the board as the manager sees it (session)
    browser.get(f"{base}/board/LINE-SMT-A")
    wait.until(lambda b: b.execute_script("return document.body.dataset.loaded === '1'"))
    reels = browser.find_element(By.ID, "board-msd").text
    assert "2-01" in reels and SPENT in reels and "floor life spent" in reels, reels
    assert browser.find_element(By.ID, "board-msd-count").text == "1"
    screenshot(browser, "line-board-msd")
