"""Browser (issue 18): quality opens the SPC chart of a spec whose process shifted after its baseline,
sees the chart drawn with the points where rule 1 fired marked, and follows such a point to its board's
trace. Screenshot tests/artifacts/spc-chart.png."""
import pytest
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


def test_quality_follows_an_spc_alarm_point_to_its_board(browser, spc_server):
    base, wait = spc_server.url, WebDriverWait(browser, 20)
    api = LiveApi(base)
    engine = create_engine(spc_server.db_url)
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
