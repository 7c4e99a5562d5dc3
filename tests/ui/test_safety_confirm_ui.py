"""Browser: a SCRAP disposition asks first and names the consequence (keyboard only: Enter submits, the
confirmation is answered from the keyboard); Cancel changes nothing; a REWORK does not ask."""
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import LiveApi, authorized_run, build_unit, ok_data, screenshot
from ui.test_execution_console import sign_in

pytestmark = pytest.mark.browser


def fail_at_aoi(api, run_no, sn):
    build_unit(api, run_no, sn, until=40)
    ok_data(api("operator").post("/api/v1/stations/ST-AOI-01/track-in", json={"sn": sn, "runNo": run_no}))
    ok_data(api("operator").post("/api/v1/stations/ST-AOI-01/track-out", json={
        "sn": sn, "runNo": run_no, "result": "FAIL", "data": [], "defect": {"code": "SOLDER_BRIDGE", "location": "U3"}}))


def status_of(api, sn):
    return ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))["unit"]["status"]


def test_scrap_asks_first_and_cancel_changes_nothing(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    api = LiveApi(base)
    run_no = authorized_run(api, qty=2, units=2)
    scrap, rework = f"{run_no}-0001", f"{run_no}-0002"
    fail_at_aoi(api, run_no, scrap)
    fail_at_aoi(api, run_no, rework)
    sign_in(browser, base, "quality")
    browser.get(f"{base}/disposition/?run={run_no}")
    kind = Select(wait.until(EC.presence_of_element_located((By.ID, f"type-{scrap}"))))
    assert kind.first_selected_option.text == "choose…"
    kind.select_by_value("SCRAP")
    browser.find_element(By.ID, f"reason-{scrap}").send_keys("burnt pad under U3" + Keys.ENTER)
    alert = WebDriverWait(browser, 5).until(EC.alert_is_present())
    assert f"SCRAP board {scrap}" in alert.text and "never built or reworked again" in alert.text
    alert.dismiss()  # Cancel (Esc)
    assert status_of(api, scrap) == "OUT_FAILED"
    browser.find_element(By.ID, f"reason-{scrap}").send_keys(Keys.ENTER)
    WebDriverWait(browser, 5).until(EC.alert_is_present()).accept()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "SCRAP recorded"))
    assert status_of(api, scrap) == "SCRAPPED"

    # a REWORK goes straight through: no question
    Select(wait.until(EC.presence_of_element_located((By.ID, f"type-{rework}")))).select_by_value("REWORK")
    browser.find_element(By.ID, f"reason-{rework}").send_keys("touch up U3" + Keys.ENTER)
    with pytest.raises(TimeoutException):
        WebDriverWait(browser, 1).until(EC.alert_is_present())
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "REWORK recorded"))
    assert status_of(api, rework) == "QUEUED"
    screenshot(browser, "disposition-after-scrap-confirm")
