"""Browser (issue 18): quality opens the SPC chart of a spec whose process shifted after its baseline,
sees the chart drawn with the points where rule 1 fired marked, and follows such a point to its board's
trace; then opens Quality → SPC Alarms and acknowledges the alarm with a reason. Screenshots
tests/artifacts/spc-chart.png and spc-alarms.png."""
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, text

from support import LiveApi, authorized_run, ok_data, pass_step, screenshot
from test_dashboard_ui import sign_in

pytestmark = pytest.mark.browser

SPEC = "squeegee_pressure_kg"


@pytest.fixture(scope="module")
def spc_server(live_servers):
    start, stop = live_servers
    server = start()
    yield server
    stop(server)


def shifted_board(server) -> str:
    """A stable baseline of SPEC frozen (rules 1 and 2), then one board far above it: its SN."""
    api = LiveApi(server.url)
    engine = create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            spec_id = conn.execute(text("SELECT id FROM data_collection_spec WHERE name = :n"), {"n": SPEC}).scalar_one()
    finally:
        engine.dispose()
    run_no = authorized_run(api, qty=26)
    for i in range(21):
        pass_step(api, run_no, f"{run_no}-S{i:02d}", 10, data=[{"spec": SPEC, "value": 6.0 + 0.1 * ((i * 7) % 5 - 2)}])
    ok_data(api("engineer").put(f"/api/v1/spc/{spec_id}", json={"chartType": "IMR", "rules": [1, 2]}))
    ok_data(api("engineer").post(f"/api/v1/spc/{spec_id}/baseline", json={}))
    shifted = f"{run_no}-HIGH"
    pass_step(api, run_no, shifted, 10, data=[{"spec": SPEC, "value": 7.9}])
    return shifted


def test_quality_follows_an_spc_alarm_point_to_its_board(browser, spc_server):
    base, wait = spc_server.url, WebDriverWait(browser, 20, ignored_exceptions=[StaleElementReferenceException])
    shifted = shifted_board(spc_server)

    browser.set_window_size(1366, 1000)
    sign_in(browser, base, "quality")
    browser.get(f"{base}/spc/")
    link = wait.until(EC.element_to_be_clickable((By.LINK_TEXT, SPEC)))
    link.click()
    wait.until(lambda b: b.execute_script(
        "var c = document.getElementById('spc-chart'); return c && c.dataset.drawn === '1'"))
    alarms = browser.find_elements(By.CSS_SELECTOR, "#spc-points tr.danger")
    assert len(alarms) == 1 and "1 — One point beyond 3 sigma" in alarms[0].text
    assert browser.find_element(By.ID, "spc-cpk").text not in ("", "—")
    screenshot(browser, "spc-chart")
    alarms[0].find_element(By.LINK_TEXT, shifted).click()
    wait.until(lambda b: f"/trace/units/{shifted}" in b.current_url)
    assert shifted in browser.find_element(By.TAG_NAME, "body").text


def test_quality_acknowledges_an_spc_alarm_with_a_reason(browser, spc_server):
    base, wait = spc_server.url, WebDriverWait(browser, 20, ignored_exceptions=[StaleElementReferenceException])
    shifted = shifted_board(spc_server)
    browser.set_window_size(1366, 1000)
    sign_in(browser, base, "quality")
    browser.get(f"{base}/")
    count = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-key="spc-alarms"] a')))
    assert int(count.get_attribute("data-count")) >= 1
    count.click()
    wait.until(lambda b: "/spc/alarms" in b.current_url)
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#spc-alarms tr[data-status=OPEN]") if shifted in r.text)
    assert "One point beyond 3 sigma" in row.text
    alarm_id = row.get_attribute("data-alarm")
    row.find_element(By.ID, f"reason-{alarm_id}").send_keys("Squeegee pressure valve stuck: fixed, board re-printed")
    screenshot(browser, "spc-alarms")
    row.find_element(By.ID, f"acknowledge-{alarm_id}").click()
    wait.until(lambda b: "is acknowledged" in b.find_element(By.TAG_NAME, "body").text)
    assert "/spc/alarms?status=OPEN" in browser.current_url  # back on the list it came from: the alarm is gone
    assert not browser.find_elements(By.CSS_SELECTOR, f'#spc-alarms tr[data-alarm="{alarm_id}"]')
    browser.get(f"{base}/spc/alarms?status=ACKNOWLEDGED")
    done = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'#spc-alarms tr[data-alarm="{alarm_id}"]')))
    assert done.get_attribute("data-status") == "ACKNOWLEDGED" and "valve stuck" in done.text and "quality" in done.text
    done.find_element(By.CSS_SELECTOR, "a.spc-alarm-chart").click()
    wait.until(lambda b: b.execute_script(
        "var c = document.getElementById('spc-chart'); return c && c.dataset.drawn === '1'"))
