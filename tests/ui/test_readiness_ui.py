"""Browser: the material handler loads the slot table on the Loading Terminal, scans a wrong reel
(FAIL with the reason) and then the right ones (every slot LOADED); the line leader enters a stencil
status MAINTENANCE by hand (TPM offline); quality runs the FORMAL check in Run Detail, sees STENCIL
failed with MANUAL evidence by the leader, waives it with a reason, and the check turns PASSED."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import DEMO_PASSWORD, SMT_REELS, LiveApi, fresh_consumable_statuses, prep_run, screenshot
from ui.test_execution_console import sign_in, type_keys

pytestmark = pytest.mark.browser


def sign_out(browser, base):
    browser.get(base + "/logout/")


def scan(browser, text):
    type_keys(browser, text + Keys.ENTER)


def test_loading_manual_stencil_status_and_waiver(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    api = LiveApi(base)
    fresh_consumable_statuses(api)
    run_no = prep_run(api)

    # --- material: slot table, a wrong reel, then the right ones ---------------------------------
    sign_in(browser, base, "material")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Production").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Loading Terminal"))).click()
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, f'[data-run="{run_no}"]'))).click()
    wait.until(EC.element_to_be_clickable((By.ID, "load-table"))).click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "Slot table loaded"))
    wait.until(EC.presence_of_element_located((By.ID, "slot-1-01")))
    assert [r.find_element(By.CLASS_NAME, "slot-status").text
            for r in browser.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr")] == ["PENDING"] * 3

    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "scan")
    scan(browser, "1-01")
    wait.until(EC.text_to_be_present_in_element((By.ID, "scan-label"), "Scan the reel for slot 1-01"))
    scan(browser, SMT_REELS["1-02"])  # the capacitor reel on the resistor slot
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "FAIL"))
    feedback = browser.find_element(By.ID, "feedback").text
    assert "MATERIAL_MISMATCH" in feedback and "expected MAT-R10K" in feedback and "1 of 3" in feedback
    screenshot(browser, "loading-1-wrong-reel")

    for slot, reel in SMT_REELS.items():
        scan(browser, slot)
        wait.until(EC.text_to_be_present_in_element((By.ID, "scan-label"), f"slot {slot}"))
        scan(browser, reel)
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, f"#slot-{slot} .slot-status"), "LOADED"))
    statuses = [r.find_element(By.CLASS_NAME, "slot-status").text
                for r in browser.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr")]
    assert statuses == ["LOADED"] * 3
    screenshot(browser, "loading-2-all-loaded")
    sign_out(browser, base)

    # --- leader: TPM is offline, the stencil goes to maintenance --------------------------------
    sign_in(browser, base, "leader")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Integration").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Manual Entry"))).click()
    stencil = wait.until(EC.element_to_be_clickable((By.ID, "stencil_id")))
    stencil.send_keys("STN-1001-A")
    Select(browser.find_element(By.ID, "stencil_status")).select_by_visible_text("MAINTENANCE")
    browser.find_element(By.ID, "submit-stencil").click()
    last = wait.until(EC.presence_of_element_located((By.ID, "manual-last"))).text
    assert "STN-1001-A" in last and "MAINTENANCE" in last and "as MANUAL by leader" in last
    screenshot(browser, "integration-manual-entry")
    browser.get(base + "/integration/")
    tpm = browser.find_element(By.CSS_SELECTOR, '#integration-status tr[data-system="TPM"]').text
    assert "DEGRADED" in tpm
    sign_out(browser, base)

    # --- quality: the FORMAL check fails on the stencil, with MANUAL evidence; waive it ---------
    sign_in(browser, base, "quality")
    browser.get(f"{base}/runs/{run_no}")
    wait.until(EC.element_to_be_clickable((By.ID, "formal-check-button"))).click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "readiness-status"), "FAILED"))
    row = browser.find_element(By.CSS_SELECTOR, '#readiness-items tr[data-item="STENCIL"]')
    assert "FAILED" in row.text and "MANUAL" in row.text and "by leader" in row.text
    for other in ("ROUTE", "EQUIPMENT", "MATERIAL", "SOLDER_PASTE", "LOADING"):
        assert "PASSED" in browser.find_element(By.CSS_SELECTOR, f'#readiness-items tr[data-item="{other}"]').text
    screenshot(browser, "run-detail-stencil-failed")
    reason = browser.find_element(By.ID, "waive-reason-STENCIL")
    reason.send_keys("Stencil inspected at the line by quality; TPM offline, maintenance entry is stale")
    # the waiver is an electronic signature: quality's password, then Enter and the confirmation
    browser.find_element(By.ID, "waive-password-STENCIL").send_keys(DEMO_PASSWORD + Keys.ENTER)
    alert = WebDriverWait(browser, 5).until(EC.alert_is_present())
    assert "Waive STENCIL" in alert.text and "final" in alert.text
    alert.accept()
    wait.until(EC.text_to_be_present_in_element((By.ID, "readiness-status"), "PASSED"))
    row = browser.find_element(By.CSS_SELECTOR, '#readiness-items tr[data-item="STENCIL"]')
    assert "WAIVED" in row.text and "Waived by quality" in row.text and "Stencil inspected" in row.text
    assert "MANUAL" in row.text and "Waiver of STENCIL" in row.text and "e-signature" in row.text
    screenshot(browser, "run-detail-stencil-waived")
