"""Browser: the engineer creates a product with a BOM line through the console and finds it in the
list; the operator does not see the Engineering menu and cannot reach the screen."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, text

from support import DEMO_PASSWORD, screenshot

pytestmark = pytest.mark.browser


def wait(driver, seconds=10):
    return WebDriverWait(driver, seconds)


def sign_in(driver, base, username):
    driver.get(base + "/login/")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mes-home h1")))


def sign_out(driver, base):
    driver.get(base + "/logout/")


def pick_select2(driver, field_id, text_to_type):
    """Choose an option of a select2 field the way a user does: open it, type, Enter."""
    container = driver.find_element(By.CSS_SELECTOR, f"#s2id_{field_id}, #{field_id} + .select2-container")
    container.click()
    search = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".select2-search__field")))
    search.send_keys(text_to_type)
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".select2-results__option--highlighted")))
    search.send_keys(Keys.ENTER)


def test_engineer_creates_product_with_bom_line_and_operator_cannot(browser, live_server):
    base = live_server.url
    sign_in(browser, base, "engineer")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Engineering").click()
    wait(browser).until(EC.element_to_be_clickable((By.LINK_TEXT, "Products"))).click()
    wait(browser).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "a[href='/products/add']"))).click()
    browser.find_element(By.ID, "code").send_keys("P-8001")
    browser.find_element(By.ID, "name").send_keys("Gateway board")
    pick_select2(browser, "process_type", "SMT")
    browser.find_element(By.ID, "description").send_keys("created by the browser test")
    browser.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "Product P-8001 saved."))

    row = wait(browser).until(EC.presence_of_element_located((By.XPATH, "//tr[td[contains(., 'P-8001')]]")))
    row.find_element(By.CSS_SELECTOR, "a[href*='/products/show/']").click()
    wait(browser).until(EC.element_to_be_clickable((By.LINK_TEXT, "BOM lines"))).click()
    wait(browser).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "a[href*='/bom/add?_flt_0_product=']"))).click()
    pick_select2(browser, "material", "MAT-MCU")
    qty = browser.find_element(By.ID, "qty_per")
    qty.clear()
    qty.send_keys("2")
    browser.find_element(By.ID, "ref_designators").send_keys("U1, U2")
    screenshot(browser, "master-data-bom-line-form")
    browser.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "BOM item saved."))

    browser.get(base + "/products/list/")
    assert "P-8001" in browser.find_element(By.TAG_NAME, "body").text
    browser.find_element(By.XPATH, "//tr[td[contains(., 'P-8001')]]//a[contains(@href, '/products/show/')]").click()
    wait(browser).until(EC.element_to_be_clickable((By.LINK_TEXT, "BOM lines"))).click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".tab-content"), "MAT-MCU"))
    screenshot(browser, "master-data-product-with-bom")

    engine = create_engine(live_server.db_url)
    with engine.connect() as conn:
        bom = conn.execute(text(
            "SELECT m.code, b.qty_per FROM bom_item b JOIN product p ON p.id = b.product_id "
            "JOIN material m ON m.id = b.material_id WHERE p.code = 'P-8001'")).all()
        actions = conn.execute(text(
            "SELECT action FROM audit_event WHERE actor_username = 'engineer' ORDER BY id")).scalars().all()
    engine.dispose()
    assert [(code, qty) for code, qty in bom] == [("MAT-MCU", 2.0)]
    assert actions[-2:] == ["PRODUCT_CREATE", "BOM_ITEM_CREATE"]

    sign_out(browser, base)
    sign_in(browser, base, "operator")
    navbar = browser.find_element(By.CSS_SELECTOR, ".navbar").text
    assert "Engineering" not in navbar
    browser.get(base + "/products/add")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Not allowed" in body and "Code" not in browser.find_element(By.CSS_SELECTOR, ".container").text.split("Not allowed")[0]
    screenshot(browser, "master-data-operator-refused")
