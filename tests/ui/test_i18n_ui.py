"""Browser (issue 17, zh-CN): the navbar's language menu switches the console to Simplified Chinese and
back; the choice survives logout and the next login on the same terminal; the scripts' messages follow
(MES.t). A screenshot of the Chinese home page goes to tests/artifacts/."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from support import DEMO_PASSWORD, screenshot

pytestmark = pytest.mark.browser


def sign_in(browser, base, username):
    browser.get(base + "/login/")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)


def html_lang(browser):
    return browser.execute_script("return document.documentElement.lang")


def navbar(browser):
    return browser.find_element(By.CSS_SELECTOR, ".navbar").text


def choose_language(browser, wait, code):
    browser.find_element(By.ID, "mes-lang-toggle").click()
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, f'a[data-mes-lang="{code}"]'))).click()


def test_language_menu_switches_to_chinese_and_is_remembered(browser, live_server):
    base, wait = live_server.url, WebDriverWait(browser, 15)
    browser.set_window_size(1366, 768)
    sign_in(browser, base, "planner")
    wait.until(lambda b: b.find_elements(By.ID, "mes-lang-toggle"))
    assert html_lang(browser) == "en" and "Production" in navbar(browser)

    choose_language(browser, wait, "zh")
    wait.until(lambda b: html_lang(b) == "zh-CN")
    assert "生产" in navbar(browser) and "Production" not in navbar(browser)
    browser.find_element(By.LINK_TEXT, "生产").click()  # the category opens its Chinese items
    wait.until(EC.visibility_of_element_located((By.PARTIAL_LINK_TEXT, "工单")))
    assert browser.execute_script("return MES.t('Are you sure?')") == "确定吗？"
    screenshot(browser, "zh_home_navbar")
    # Help in Chinese: the planner guide, at the section a screen's Help link names
    browser.get(base + "/help/planner#runs-and-run-detail")
    heading = wait.until(EC.presence_of_element_located((By.ID, "runs-and-run-detail")))
    assert heading.text == "生产批和生产批详情"
    screenshot(browser, "zh_help_planner")

    # a shared terminal: log out, the next login comes up in Chinese
    browser.get(base + "/logout/")
    sign_in(browser, base, "planner")
    wait.until(lambda b: b.find_elements(By.ID, "mes-lang-toggle"))
    assert html_lang(browser) == "zh-CN" and "生产" in navbar(browser)

    choose_language(browser, wait, "en")
    wait.until(lambda b: html_lang(b) == "en")
    assert "Production" in navbar(browser)
    assert browser.execute_script("return MES.t('Are you sure?')") == "Are you sure?"
