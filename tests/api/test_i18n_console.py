"""Issue 17 (zh-CN, first slice): the language follows the user's choice, else the browser's
Accept-Language, else English; the navbar (ours and Flask-AppBuilder's strings), the error catalogue's
hints (API and console), the scripts' message catalogue and the Help guides come in Simplified Chinese.
Real app, real HTTP through the test client, the demo users and the compiled catalogues."""
from __future__ import annotations

import json
import re

from support import console_login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


def js_messages(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="mes-i18n"[^>]*>(.*?)</script>', html, re.S)
    assert match, "no message catalogue for the scripts on the page"
    return json.loads(match.group(1))


def signed_in(app, username: str, headers: dict | None = None):
    client = app.test_client()
    if headers:
        client.environ_base.update({"HTTP_ACCEPT_LANGUAGE": headers["Accept-Language"]})
    response = console_login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def test_default_is_english(app, fresh_db):
    client = signed_in(app, "admin")
    html = client.get("/").get_data(as_text=True)
    assert html_lang(html) == "en"
    assert "Work Orders" in html and "List Users" in html  # ours and Flask-AppBuilder's menu entries
    assert "工单" not in html and "用户列表" not in html
    assert js_messages(html)["Are you sure?"] == "Are you sure?"
    # the language menu offers the other language by its own name
    assert "简体中文" in html and 'href="/lang/zh"' in html


def test_browser_language_zh_cn_gives_chinese_console(app, fresh_db):
    client = signed_in(app, "admin", ZH)
    html = client.get("/").get_data(as_text=True)
    assert html_lang(html) == "zh-CN"
    assert "工单" in html and "工位终端" in html and "生产" in html  # our menu labels and category
    assert "用户列表" in html  # Flask-AppBuilder's own catalogue ("List Users")
    assert ">Work Orders<" not in html and "List Users" not in html
    assert js_messages(html)["Are you sure?"] == "确定吗？"
    assert 'href="/lang/en"' in html  # English stays one click away


def test_other_chinese_tags_and_unknown_languages(app, fresh_db):
    for header, expected in (("zh", "zh-CN"), ("zh-TW,zh;q=0.8", "zh-CN"), ("de-DE,de;q=0.9", "en"),
                             ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("fr, zh-CN;q=0.5", "zh-CN")):
        client = app.test_client()
        html = client.get("/login/", headers={"Accept-Language": header}).get_data(as_text=True)
        assert html_lang(html) == expected, header


def test_users_choice_overrides_browser_and_is_remembered(app, fresh_db):
    client = signed_in(app, "planner", ZH)
    assert html_lang(client.get("/").get_data(as_text=True)) == "zh-CN"

    chosen = client.get("/lang/en")
    assert chosen.status_code == 302
    cookie = client.get_cookie("mes_lang")
    assert cookie is not None and cookie.value == "en" and cookie.http_only
    html = client.get("/", headers=ZH).get_data(as_text=True)
    assert html_lang(html) == "en" and "Work Orders" in html

    # a shared terminal: logged out, the next user (same browser, Chinese OS) keeps the terminal's choice
    client.get("/logout/")
    client.get("/lang/zh")
    assert client.get_cookie("mes_lang").value == "zh"
    fresh = app.test_client()  # new browser session, only the long-lived cookie left
    fresh.set_cookie("mes_lang", "zh")
    assert html_lang(fresh.get("/login/", headers={"Accept-Language": "en"}).get_data(as_text=True)) == "zh-CN"
    # an unknown language in the cookie or the menu changes nothing
    fresh.set_cookie("mes_lang", "xx")
    assert html_lang(fresh.get("/login/").get_data(as_text=True)) == "en"
    assert fresh.get("/lang/xx").status_code == 404


def test_api_error_hint_follows_accept_language(app, fresh_db):
    client = app.test_client()
    english = client.get("/api/v1/runs/R-NOPE").get_json()["error"]
    assert english["code"] == "UNAUTHORIZED"
    assert english["hint"].startswith("Sign in again")
    chinese = client.get("/api/v1/runs/R-NOPE", headers=ZH).get_json()["error"]
    assert chinese["code"] == "UNAUTHORIZED"  # the code never changes
    assert chinese["message"] == "未登录，或凭据无效或已过期。"
    assert chinese["hint"].startswith("请重新登录")


def test_api_translates_a_services_own_message_and_the_hint(app, fresh_db, api):
    response = api("planner").get("/api/v1/runs/R-NOPE-17", headers=ZH)
    body = response.get_json()["error"]
    assert response.status_code == 404 and body["code"] == "RUN_NOT_FOUND"
    assert body["message"] == "没有生产批 R-NOPE-17。"  # the service's own sentence (services/platform/messages.py)
    assert body["hint"] == "请检查生产批号。"
    english = api("planner").get("/api/v1/runs/R-NOPE-17").get_json()["error"]
    assert english["message"] == "No run R-NOPE-17." and english["hint"] == "Check the run number."


def test_console_refusal_and_error_page_in_chinese(app, fresh_db):
    client = signed_in(app, "planner", ZH)
    # a refused request: the flash message in Chinese, the code as it is
    html = client.get("/runs/R-DOES-NOT-EXIST", follow_redirects=True).get_data(as_text=True)
    assert "没有生产批 R-DOES-NOT-EXIST。 [RUN_NOT_FOUND] 请检查生产批号。" in html
    # the error page
    response = client.get("/no-such-screen")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "未找到" in html and "处理方法：" in html and "请通过菜单找到所需页面。" in html
    english = signed_in(app, "planner")
    assert "[RUN_NOT_FOUND] Check the run number." in english.get(
        "/runs/R-DOES-NOT-EXIST", follow_redirects=True).get_data(as_text=True)
    assert "What to do:" in english.get("/no-such-screen").get_data(as_text=True)


def test_help_serves_the_chinese_guide_when_there_is_one(app, fresh_db):
    client = signed_in(app, "operator", ZH)
    html = client.get("/help/operator").get_data(as_text=True)
    assert 'id="station-terminal"' in html and "工位终端" in html
    english = signed_in(app, "operator").get("/help/operator").get_data(as_text=True)
    assert 'id="station-terminal"' in english and "工位终端" not in english
    # the library lists each guide once (the translations are not guides of their own)
    index = client.get("/help/").get_data(as_text=True)
    assert "zh_CN/" not in index and "作业员指南" in index and "错误代码目录" in index
    # the error catalogue, generated in Chinese from the code and the translations
    catalogue = client.get("/help/error-catalogue").get_data(as_text=True)
    assert "<code>RUN_NOT_FOUND</code>" in catalogue and "请检查生产批号。" in catalogue and "处理方法" in catalogue
    assert "Check the run number." in signed_in(app, "operator").get("/help/error-catalogue").get_data(as_text=True)
