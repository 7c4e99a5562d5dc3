"""Browser: quality runs an FAI in the console (create, start, the trial progress while the operator
builds the trial board, an item, PASS, sign) and the planner authorizes; later quality fails the OQC
the closeout created and takes an MRB REWORK decision; the rework run appears on Run Detail."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import DEMO_PASSWORD, LiveApi, build_unit, ok_data, pass_step, ready_run, screenshot
from ui.test_execution_console import sign_in

pytestmark = pytest.mark.browser


def text_of(browser, element_id):
    return browser.find_element(By.ID, element_id).text


def confirm(browser, *words):
    """Accept the confirmation the console asks before a consequential action, after checking it names
    the consequence."""
    alert = WebDriverWait(browser, 5).until(EC.alert_is_present())
    assert all(w in alert.text for w in words), alert.text
    alert.accept()


def test_fai_then_oqc_fail_and_mrb_rework(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    api = LiveApi(base)
    ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": "P-1001", "samplingType": "FIXED", "sampleValue": 1}))
    run_no = ready_run(api, qty=2)  # the FAI trial board and one more
    trial, board = f"{run_no}-FAI1", f"{run_no}-0001"

    # --- quality: create and start the FAI ----------------------------------------------------
    sign_in(browser, base, "quality")
    browser.get(f"{base}/runs/{run_no}")
    assert "Run the FORMAL check" in text_of(browser, "next-action")  # the line was made ready since
    browser.find_element(By.ID, "formal-check-button").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "readiness-status"), "PASSED"))
    assert "FAI: Quality creates the FAI" in text_of(browser, "next-action")
    sample = browser.find_element(By.ID, "fai-sample")
    sample.clear()
    sample.send_keys("1")
    browser.find_element(By.ID, "fai-create").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "fai-status"), "INSPECTING"))
    assert "0 of 1" in text_of(browser, "fai-trial")

    # --- the operator builds the trial board (Station Terminal API); quality sees the progress -------
    build_unit(api, run_no, trial, until=30)
    browser.refresh()
    wait.until(EC.text_to_be_present_in_element((By.ID, "fai-trial"), trial))
    assert "0 of 1" in text_of(browser, "fai-trial")
    for step in (40, 50):
        pass_step(api, run_no, trial, step)
    browser.refresh()
    wait.until(EC.text_to_be_present_in_element((By.ID, "fai-trial"), "1 of 1"))
    screenshot(browser, "fai-trial-done")

    # --- item, PASS, sign -----------------------------------------------------------------------
    Select(browser.find_element(By.ID, "fai-item-sn")).select_by_visible_text(trial)
    browser.find_element(By.ID, "fai-item-name").send_keys("visual, polarity")
    browser.find_element(By.ID, "fai-item-actual").send_keys("OK")
    browser.find_element(By.ID, "fai-item-add").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "fai-items"), "visual, polarity"))
    Select(browser.find_element(By.ID, "fai-decision")).select_by_visible_text("PASS")
    browser.find_element(By.ID, "fai-complete").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "fai-status"), "PASS"))
    browser.find_element(By.ID, "fai-sign-password").send_keys(DEMO_PASSWORD)  # the electronic signature
    browser.find_element(By.ID, "fai-sign").click()
    confirm(browser, "APPROVED", "final")
    wait.until(EC.text_to_be_present_in_element((By.ID, "fai-signed"), "signed by quality"))
    assert "FAI approved" in text_of(browser, "fai-signatures")
    screenshot(browser, "fai-signed")
    browser.get(base + "/logout/")

    # --- planner authorizes ------------------------------------------------------------------
    sign_in(browser, base, "planner")
    browser.get(f"{base}/runs/{run_no}")
    assert "authorize the run" in text_of(browser, "next-action")
    browser.find_element(By.ID, "authorize-button").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "run-status"), "AUTHORIZED"))
    browser.get(base + "/logout/")

    # --- the last board finishes: the closeout creates the OQC; quality fails it ------------------
    done = build_unit(api, run_no, board)
    assert done["runCloseout"]["code"] == "OQC_REQUIRED"
    sampled = done["runCloseout"]["sampledSns"][0]
    sign_in(browser, base, "quality")
    browser.get(f"{base}/runs/{run_no}")
    assert "OQC" in text_of(browser, "next-action")
    browser.find_element(By.ID, "oqc-start").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "oqc-status"), "INSPECTING"))
    form = browser.find_element(By.ID, "oqc-item-form")
    Select(form.find_element(By.ID, "oqc-item-sn")).select_by_visible_text(sampled)
    form.find_element(By.NAME, "item_name").send_keys("final visual")
    Select(form.find_element(By.ID, "oqc-item-result")).select_by_visible_text("FAIL")
    Select(form.find_element(By.NAME, "defect_code")).select_by_value("SOLDER_BRIDGE")
    form.find_element(By.ID, "oqc-item-add").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "oqc-items"), "SOLDER_BRIDGE"))
    Select(browser.find_element(By.ID, "oqc-decision")).select_by_value("FAIL")
    browser.find_element(By.ID, "oqc-password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.ID, "oqc-complete").click()
    confirm(browser, "ON HOLD")
    wait.until(EC.text_to_be_present_in_element((By.ID, "run-status"), "ON_HOLD"))
    screenshot(browser, "oqc-failed-mrb")

    # --- MRB: REWORK, reuse the preparation, re-enter at AOI ----------------------------------------
    Select(browser.find_element(By.ID, "mrb-decision")).select_by_visible_text("REWORK")
    browser.find_element(By.ID, "mrb-reason").send_keys("solder bridges on U3: rework and re-inspect at AOI")
    Select(browser.find_element(By.ID, "mrb-type")).select_by_visible_text("REUSE_PREP")
    assert Select(browser.find_element(By.ID, "mrb-step")).first_selected_option.text == "50"
    browser.find_element(By.ID, "mrb-password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.ID, "mrb-submit").click()
    confirm(browser, "cannot be undone")
    wait.until(EC.text_to_be_present_in_element((By.ID, "run-status"), "CLOSED_REWORK"))
    assert "MRB: rework" in text_of(browser, "mrb-card") and "OQC rejected" in text_of(browser, "oqc-signatures")
    links = text_of(browser, "rework-links")
    assert f"{run_no}-RW1" in links
    screenshot(browser, "mrb-rework-run")
    browser.find_element(By.LINK_TEXT, f"{run_no}-RW1").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "run-status"), "AUTHORIZED"))
    assert f"Rework run of {run_no}" in text_of(browser, "rework-links")


def test_operator_enters_an_aoi_result_by_hand_and_the_trackout_is_forced(browser, live_server):
    from selenium.webdriver.common.keys import Keys

    from support import authorized_run
    from ui.test_execution_console import type_keys
    base, wait = live_server.url, WebDriverWait(browser, 15)
    api = LiveApi(base)
    run_no = authorized_run(api, qty=1, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)  # waits for AOI
    sign_in(browser, base, "operator")
    browser.get(base + "/terminal/ST-AOI-01")
    wait.until(EC.element_to_be_clickable((By.ID, "manual-toggle")))
    type_keys(browser, Keys.F4)
    wait.until(EC.visibility_of_element_located((By.ID, "manual-sn"))).send_keys(sn)
    Select(browser.find_element(By.ID, "manual-verdict")).select_by_visible_text("FAIL")
    Select(browser.find_element(By.ID, "manual-defect")).select_by_value("SOLDER_BRIDGE")
    browser.find_element(By.ID, "manual-location").send_keys("U3")
    browser.find_element(By.ID, "manual-submit").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "AOI FAIL (MANUAL)"))
    screenshot(browser, "terminal-manual-aoi")
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))
    assert [(r["type"], r["result"], r["source"], r["operator"]) for r in trace["inspectionResults"]] == [
        ("AOI", "FAIL", "MANUAL", "operator")]
    # the board at AOI: its PASS is forced to FAIL with the AOI's defect
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "scan")
    type_keys(browser, sn + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "IN"))
    type_keys(browser, sn + Keys.ENTER)  # a step without data: the same SN again = PASS
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "forced by AOI"))
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))
    assert trace["tracks"][-1]["result"] == "FAIL" and trace["unit"]["status"] == "OUT_FAILED"
    assert [d["code"] for d in trace["defects"]] == ["SOLDER_BRIDGE"]
