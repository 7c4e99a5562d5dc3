"""Browser (issue 18): at the Loading Terminal the material handler scans a moisture-sensitive reel whose
floor life is spent and is told, in Chinese, to take it off the line to be baked; after the bake it loads
(the same reel in English shows the English sentence)."""
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from support import LiveApi, ok_data, prep_run
from test_dashboard_ui import sign_in
from test_execution_console import answer, focused, type_keys
from test_zh_terminals_ui import sign_in_in_chinese, waiter

pytestmark = pytest.mark.browser

REEL = "MAT-MCU|LOT-M-001"   # MSL 3 in the demo data: 168 h


def _event(live, kind, hours_ago):
    at = (datetime.now(timezone.utc) - timedelta(hours=hours_ago)).isoformat()
    ok_data(live("material").post("/api/v1/material-lots/MAT-MCU/LOT-M-001/msd-events", json={"kind": kind, "at": at}))


def _scan_reel(browser, base, wait, run_no):
    browser.get(f"{base}/loading/{run_no}")
    wait.until(lambda d: focused(d) == "scan")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr[data-slot]")) == 3)
    type_keys(browser, "2-01" + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "2-01"))
    type_keys(browser, REEL + Keys.ENTER)


def test_a_spent_reel_is_refused_and_a_baked_one_loads(browser, live_server):
    base, wait, live = live_server.url, waiter(browser), LiveApi(live_server.url)
    _event(live, "OPENED", 200)
    run_no = prep_run(live)
    ok_data(live("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))

    sign_in_in_chinese(browser, base, "material")
    _scan_reel(browser, base, wait, run_no)
    text = answer(browser, wait, "不合格")
    assert "MSD_FLOOR_LIFE_EXPIRED" in text and "车间寿命已用完" in text and "烘烤" in text, text

    _event(live, "BAKED", 165)  # baked long ago: 3 h of floor life left, under the 4 h warning
    browser.delete_all_cookies()
    sign_in(browser, base, "material")
    _scan_reel(browser, base, wait, run_no)
    text = answer(browser, wait, "PASS")
    assert "Floor life left: 3" in text and "plan this reel's replacement" in text, text
