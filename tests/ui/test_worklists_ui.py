"""Browser: the home page's worklists (issue 17). The material handler sees "Runs waiting for loading"
with its count, follows the link to the Loading Terminal listing exactly those runs and opens one; the
planner at 1024×768 sees the list without scrolling and follows "Work orders to release".
Screenshots of the home pages go to tests/artifacts/."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from support import LiveApi, ok_data, prep_run, screenshot
from ui.test_execution_console import sign_in

pytestmark = pytest.mark.browser


def item(browser, role: str, key: str):
    """(count, link element) of a worklist item on the home page."""
    link = browser.find_element(By.CSS_SELECTOR, f'#worklist-{role} [data-key="{key}"] a')
    return int(link.get_attribute("data-count")), link


def test_material_follows_the_loading_worklist(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    run_no = prep_run(LiveApi(base))  # an SMT run: its slot table is not loaded yet
    sign_in(browser, base, "material")
    wait.until(EC.presence_of_element_located((By.ID, "worklist-material")))
    count, link = item(browser, "material", "loading")
    assert count >= 1
    screenshot(browser, "home-worklist-material")
    link.click()
    wait.until(EC.presence_of_element_located((By.ID, "loading-waiting")))
    runs = [a.get_attribute("data-run") for a in browser.find_elements(By.CSS_SELECTOR, "#loading-runs a[data-run]")]
    assert len(runs) == count and run_no in runs
    browser.find_element(By.CSS_SELECTOR, f'#loading-runs a[data-run="{run_no}"]').click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "run-no"), run_no))


def test_quality_and_planner_lists_at_1024(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    browser.set_window_size(1024, 768)
    sign_in(browser, base, "planner")
    wait.until(EC.presence_of_element_located((By.ID, "worklist-planner")))
    count, link = item(browser, "planner", "wo-release")
    screenshot(browser, "home-worklist-planner-1024")
    # the worklist is on screen without scrolling at 1024×768
    top = browser.execute_script("return document.getElementById('worklist-planner').getBoundingClientRect().top")
    assert top < 768
    link.click()
    wait.until(EC.presence_of_element_located((By.ID, "wo-list")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#wo-list tbody tr td:first-child a")
    assert len(rows) == count


def test_leader_follows_a_locked_slot_to_its_unlock_form(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    api = LiveApi(base)
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    for _ in range(3):  # three wrong reels: the slot locks
        api("material").post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": "1-02",
                                                             "barcode": "MAT-R10K|LOT-R-001"})
    sign_in(browser, base, "leader")
    wait.until(EC.presence_of_element_located((By.ID, "worklist-leader")))
    count, link = item(browser, "leader", "locked-slots")
    assert count >= 1
    screenshot(browser, "home-worklist-leader")
    link.click()
    wait.until(EC.presence_of_element_located((By.ID, "locked-slots")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#locked-slots tbody tr[data-slot]")
    assert len(rows) == count
    browser.find_element(By.CSS_SELECTOR, f'#locked-slots tr[data-slot="LINE-SMT-A/1-02"] a[href$="/loading/{run_no}"]').click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'form.mes-unlock[data-slot="1-02"]')))
