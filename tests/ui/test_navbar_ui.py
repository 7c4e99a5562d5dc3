"""Browser: at 1024×768 (a line-side PC) the admin's navbar — every menu of the console — is one row,
not three (and at 1280, 1366 and 1600 px too); every menu stays reachable. Screenshots
tests/artifacts/navbar-<user>-<width>.png."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from support import password_for, screenshot

pytestmark = pytest.mark.browser


def sign_in(browser, base, username):
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password_for(username) + Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda b: "/login" not in b.current_url)


def viewport(browser, width, height):
    """Size the window so that the page itself (the viewport) is width × height."""
    browser.set_window_size(width, height)
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    browser.set_window_size(2 * width - inner[0], 2 * height - inner[1])


@pytest.mark.parametrize("username,width", [("admin", 1024), ("planner", 1024), ("admin", 1280), ("admin", 1366), ("admin", 1600)])
def test_the_navbar_is_one_row(browser, live_server, username, width):
    base, wait = live_server.url, WebDriverWait(browser, 20)
    sign_in(browser, base, username)
    viewport(browser, width, 768)
    browser.refresh()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".navbar .navbar-nav")))
    assert browser.execute_script("return window.innerWidth") == width  # the viewport, not the window
    navbar = browser.find_element(By.CSS_SELECTOR, "nav.navbar, .navbar")
    height = navbar.size["height"]
    menus = browser.find_elements(By.CSS_SELECTOR, ".navbar-collapse .navbar-nav > li")
    visible = [m for m in menus if m.is_displayed()]
    screenshot(browser, f"navbar-{username}-{width}")
    assert height <= 60, f"the navbar is {height} px high (wraps)"
    # every top-level menu is shown (not collapsed behind a toggle) and sits in the one row
    assert len(visible) == len(menus) and len(menus) >= (9 if username == "admin" else 3)
    tops = {m.location["y"] for m in visible}
    assert max(tops) - min(tops) <= 5, tops
    assert all(m.location["x"] + m.size["width"] <= width for m in visible)
    # a menu still opens: Help → SOP Library
    help_menu = next(m for m in visible if "Help" in m.text)
    help_menu.find_element(By.CSS_SELECTOR, "a.dropdown-toggle").click()
    wait.until(lambda b: help_menu.find_element(By.PARTIAL_LINK_TEXT, "SOP Library").is_displayed())
