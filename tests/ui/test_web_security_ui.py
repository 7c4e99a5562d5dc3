"""Browser: a feeder-slot code carrying markup is shown as text on the Loading Terminal (stored XSS,
issue 15), and the Content-Security-Policy of the pages is really enforced and checked: the browser
fixture fails a test whose pages broke it (tests/ui/conftest.py)."""
import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, text

from support import LiveApi, fresh_consumable_statuses, password_for, prep_run, screenshot
from ui.conftest import csp_violations
from ui.test_execution_console import sign_in, type_keys

pytestmark = pytest.mark.browser

PAYLOAD = '"onmouseover=alert(3) x="'
TAG_PAYLOAD = "<img src=x onerror=alert(4)>"


def _no_alert(browser) -> bool:
    try:
        alert = browser.switch_to.alert
    except NoAlertPresentException:
        return True
    alert.dismiss()
    return False


def _handlers_in_dom(browser) -> int:
    return browser.execute_script(
        "var n = 0; document.querySelectorAll('*').forEach(function (e) {"
        "  for (var i = 0; i < e.attributes.length; i++) { if (/^on/i.test(e.attributes[i].name)) { n++; } }"
        "}); return n;")


def test_a_slot_code_with_markup_is_shown_as_text_on_the_loading_terminal(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    # Stored straight in the database, as old or imported data could be: the terminal must be safe
    # whatever the input rules of the day let through.
    engine = create_engine(live_server.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE feeder_slot SET slot_code = :code WHERE slot_code = '1-01'"), {"code": PAYLOAD})
        conn.execute(text("UPDATE feeder_slot SET slot_code = :code WHERE slot_code = '1-02'"), {"code": TAG_PAYLOAD})
    engine.dispose()
    api = LiveApi(base)
    fresh_consumable_statuses(api)
    run_no = prep_run(api)

    sign_in(browser, base, "material")
    browser.get(base + "/loading/")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, f'[data-run="{run_no}"]'))).click()
    wait.until(EC.element_to_be_clickable((By.ID, "load-table"))).click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "feedback"), "Slot table loaded"))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#slot-grid tbody tr[data-slot]")))

    rows = browser.find_elements(By.CSS_SELECTOR, "#slot-grid tbody tr")
    codes = [row.find_element(By.TAG_NAME, "strong").text for row in rows]
    assert PAYLOAD in codes and TAG_PAYLOAD in codes  # the literal codes, as text
    assert browser.find_elements(By.CSS_SELECTOR, "#slot-grid img") == []
    row = rows[codes.index(PAYLOAD)]
    assert row.get_attribute("data-slot") == PAYLOAD and row.get_attribute("id") == "slot-" + PAYLOAD
    assert row.get_attribute("onmouseover") is None
    assert _handlers_in_dom(browser) == 0
    ActionChains(browser).move_to_element(row.find_element(By.TAG_NAME, "strong")).perform()
    ActionChains(browser).move_to_element(row).perform()
    assert _no_alert(browser)

    # the scanned code goes into the feedback line as text too
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "scan")
    type_keys(browser, PAYLOAD + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "scan-label"), "Scan the reel for slot " + PAYLOAD))
    feedback = browser.find_element(By.ID, "feedback")
    assert PAYLOAD in feedback.text
    assert feedback.find_element(By.TAG_NAME, "strong").text == PAYLOAD
    ActionChains(browser).move_to_element(feedback).perform()
    assert _handlers_in_dom(browser) == 0 and browser.find_elements(By.CSS_SELECTOR, "#feedback img") == []
    assert _no_alert(browser)
    screenshot(browser, "loading-xss-payload-as-text")


def test_the_policy_blocks_injected_inline_script_and_the_check_sees_it(browser, live_server):
    """The check in the browser fixture can fail: a script element injected into a console page is
    refused by the policy, the refusal is in the browser's log, and it is still found after the next
    page load."""
    base, wait = live_server.url, WebDriverWait(browser, 15)
    sign_in(browser, base, "planner")
    browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.mesInjected = 1;';"
        "document.body.appendChild(s);")
    assert browser.execute_script("return window.mesInjected === undefined;")
    browser.get(base + "/users/userinfo/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".panel, .well, table")))
    found = csp_violations(browser)
    assert len(found) == 1 and "script-src" in found[0], found
    browser._mes_csp_seen = []  # seen, expected: not a failure of this test


def test_console_pages_load_their_scripts_under_the_policy(browser, live_server):
    """Pages with FAB's own scripts (lists, forms with select2 and the datepicker, Swagger UI), our
    terminals, charts and the error page: they work, and the browser fixture finds no violation."""
    base, wait = live_server.url, WebDriverWait(browser, 15)
    sign_in(browser, base, "engineer")
    for path in ("/products/list/", "/products/add", "/routings/", "/users/userinfo/", "/resetmypassword/form",
                 "/reports/production", "/dashboard/", "/no-such-page"):
        browser.get(base + path)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        # FAB's jQuery and our common.js ran: no script was refused
        assert browser.execute_script("return typeof window.jQuery") == "function", path
    browser.get(base + "/swagger/v1")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info")))
    # the error page's Back link works without an inline handler
    browser.get(base + "/products/list/")
    browser.get(base + "/no-such-page")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "a[data-back]"))).click()
    wait.until(lambda d: d.current_url.endswith("/products/list/"))


def test_user_statistics_draws_its_chart_offline_under_the_policy(browser, live_server):
    """Security → User's Statistics: FAB's chart drawn by the vendored Chart.js (it was Google Charts,
    fetched from the internet: blank offline and refused by the policy)."""
    base, wait = live_server.url, WebDriverWait(browser, 15)
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys(password_for("admin") + Keys.ENTER)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-home h1")))
    browser.get(base + "/userstatschartview/chart/")
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    drawn = browser.execute_script(
        "var c = window.Chart && Chart.getChart(document.querySelector('canvas'));"
        "return c ? [c.data.labels.length, c.data.datasets[0].data.length] : null")
    assert drawn is not None and drawn[0] > 0 and drawn[0] == drawn[1], drawn
    screenshot(browser, "user-statistics-chart")
