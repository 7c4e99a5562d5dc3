"""Browser: the engineer binds the seeded but unbound conveyor_speed_m_min spec to the REFLOW step
with the data-spec picker, compiles, and finds a new READY version whose snapshot holds it next to
peak_temp_c."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from support import DEMO_PASSWORD, screenshot

pytestmark = pytest.mark.browser
PICKER = "#data_specs + .select2 .select2-selection--multiple"


def test_engineer_binds_a_spec_with_the_picker_and_compiles(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 10)
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys("engineer")
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-home h1")))

    browser.find_element(By.PARTIAL_LINK_TEXT, "Engineering").click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Routings"))).click()
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "RT-P1001-SMT"))).click()
    assert "v1 READY" in browser.find_element(By.ID, "latest-status").text
    browser.find_element(By.ID, "configure-step-40").click()

    # the picker: search field of the select2 multi-select, type, Enter
    picker = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, PICKER)))
    assert "peak_temp_c" in picker.text
    picker.click()
    search = browser.switch_to.active_element
    search.send_keys("conveyor")
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".select2-results__option--highlighted")))
    search.send_keys(Keys.ENTER)
    assert "conveyor_speed_m_min" in browser.find_element(By.CSS_SELECTOR, PICKER).text
    screenshot(browser, "routing-editor-picker")
    browser.find_element(By.ID, "save-config").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "Execution config saved"))
    step40 = browser.find_element(By.ID, "step-40").text
    assert "peak_temp_c" in step40 and "conveyor_speed_m_min" in step40

    browser.find_element(By.ID, "compile-button").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "version 2 is READY"))
    assert "v2 READY" in browser.find_element(By.ID, "latest-status").text
    browser.find_element(By.CSS_SELECTOR, "#version-2 a").click()
    row = wait.until(EC.presence_of_element_located((By.XPATH, "//table[@id='snapshot-steps']//tr[td[1][starts-with(normalize-space(.), '40')]]")))
    specs = row.find_element(By.CSS_SELECTOR, ".snapshot-specs").text
    assert "peak_temp_c" in specs and "conveyor_speed_m_min" in specs
    screenshot(browser, "routing-version-2-snapshot")
