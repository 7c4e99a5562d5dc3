"""The console in Simplified Chinese (issue 17): every screen of planning, engineering, master data,
audit, integration and accounts, rendered for the role that works on it with the `mes_lang` cookie set
to zh, shows no untranslated English — the same word check as the terminals' browser test
(tests/zh_words.py): only codes and identifiers, abbreviations a Chinese plant uses as they are, and the
plant's own master data may stay Latin. Real app, real HTTP through the test client, the demo users and
plant, the compiled catalogues; a work order and a run are created first so the lists have rows."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Equipment, FeederSlot, MesUser, StationGroup
from support import BACKEND, ApiAs, console_login, csrf_from, jwt_token, prep_run
from zh_words import english_words, visible_text


def chinese_client(app, username: str):
    client = app.test_client()
    client.set_cookie("mes_lang", "zh")
    response = console_login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def assert_chinese(client, url: str, username: str, data: tuple[str, ...] = ()) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html, url
    text = visible_text(html)
    assert re.search(r"[\u4e00-\u9fff]", text), f"{url}: no Chinese at all"
    left = english_words(text, username, data)
    assert not left, f"{url} as {username}: untranslated English {sorted(set(left))}\n---\n{' '.join(text.split())}"
    return html


@pytest.fixture
def planned(app, fresh_db):
    """A work order with a run in preparation (the lists and the detail have rows), made through the API
    by a client whose request context is closed afterwards (the `api` fixture's stays open, and the
    console clients of the test would share its `g`, the signed-in actor included)."""
    with app.test_client() as api_client:
        def api(username):
            return ApiAs(api_client, {"Authorization": f"Bearer {jwt_token(api_client, username, BACKEND)}"})
        run_no = prep_run(api, qty=2, wo_no="WO-ZH-0001")
    return {"wo": "WO-ZH-0001", "run": run_no}


HOME_ROLES = ("planner", "leader", "quality", "material", "engineer", "admin")


@pytest.mark.parametrize("username", HOME_ROLES)
def test_home_page_and_worklists_in_chinese(app, planned, username):
    client = chinese_client(app, username)
    html = assert_chinese(client, "/", username)
    assert "欢迎" in html


def test_work_orders_and_runs_in_chinese(app, planned):
    client = chinese_client(app, "planner")
    html = assert_chinese(client, "/work-orders/", "planner")
    assert "新建工单" in html and 'value="RELEASED"' in html  # a status is filtered by its code
    assert_chinese(client, "/work-orders/?status=RELEASED&sort=woNo&order=desc", "planner")
    assert_chinese(client, f"/work-orders/{planned['wo']}", "planner")
    assert_chinese(client, "/runs/", "planner")
    assert_chinese(client, "/runs/?worklist=prepare", "planner")
    # a new work order: the flash, then its page with the release form (the lines by process)
    token = csrf_from(html)
    html = client.post("/work-orders/new", data={"csrf_token": token, "wo_no": "WO-ZH-0002", "product_code": "P-1001",
                                                 "planned_qty": "3"}, follow_redirects=True).get_data(as_text=True)
    assert "工单 WO-ZH-0002 已接收" in html and 'id="release-form"' in html
    assert_chinese(client, "/work-orders/WO-ZH-0002", "planner")
    # released: the create-run form
    html = client.post("/work-orders/WO-ZH-0002/release", data={"csrf_token": token, "line_code": "LINE-SMT-A"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已下达到 LINE-SMT-A" in html and 'id="create-run-form"' in html
    assert_chinese(client, "/work-orders/WO-ZH-0002", "planner")


def test_routings_in_chinese(app, planned):
    client = chinese_client(app, "engineer")
    assert_chinese(client, "/routings/", "engineer")
    html = client.get("/routings/").get_data(as_text=True)
    code = re.search(r'/routings/([A-Z0-9-]+)"', html).group(1)
    html = assert_chinese(client, f"/routings/{code}", "engineer")
    assert_chinese(client, f"/routings/{code}?configure=route", "engineer")
    step = re.search(r'id="step-(\d+)"', html).group(1)
    assert_chinese(client, f"/routings/{code}?configure=step:{step}", "engineer")
    assert_chinese(client, f"/routings/{code}/versions/1", "engineer")
    # compiling twice: a second version (nothing changed: no new one) and the comparison of the two
    token = csrf_from(html)
    page = client.post(f"/routings/{code}/compile", data={"csrf_token": token}, follow_redirects=True)
    text = visible_text(page.get_data(as_text=True))
    assert "自版本" in text or "已编译" in text, " ".join(text.split())[-2500:]
    assert_chinese(client, f"/routings/{code}/diff?a=1&b=1", "engineer")


MASTER_DATA = ("/products", "/bom", "/materials", "/material-lots", "/lines", "/station-groups", "/stations",
               "/equipment", "/operations", "/data-specs", "/feeder-slots", "/slot-table")


@pytest.mark.parametrize("base", MASTER_DATA)
def test_master_data_in_chinese(app, planned, base):
    """Each master-data screen of the Engineering menu: the list, the add form, a record's page and its
    edit form."""
    with app.app_context():  # names the seed makes up ("SMT-A-PRINT station group", "AOI 1 equipment"…): data
        data = tuple(name for model in (StationGroup, Equipment, FeederSlot)
                     for name in db.session.execute(select(model.name)).scalars() if name)
    client = chinese_client(app, "engineer")
    html = assert_chinese(client, f"{base}/list/", "engineer", data)
    assert_chinese(client, f"{base}/add", "engineer", data)
    pk = re.search(rf'href="{base}/show/(\d+)"', html)
    if pk:
        assert_chinese(client, f"{base}/show/{pk.group(1)}", "engineer", data)
        assert_chinese(client, f"{base}/edit/{pk.group(1)}", "engineer", data)


def test_master_data_save_and_import_in_chinese(app, fresh_db):
    client = chinese_client(app, "engineer")
    page = client.get("/products/add").get_data(as_text=True)
    html = client.post("/products/add", data={"csrf_token": csrf_from(page), "code": "P-ZH-1", "name": "Board ZH",
                                              "process_type": "SMT", "is_active": "y"},
                       follow_redirects=True).get_data(as_text=True)
    assert "产品 P-ZH-1 已保存。" in html
    assert_chinese(client, "/master-import/", "engineer")
    # a refused import row: the counts, the row and its code
    page = client.get("/master-import/").get_data(as_text=True)
    csv = "Code,Name,Process,Description,Active\nP-ZH-2,Board ZH 2,XYZ,,yes\n"
    html = client.post("/master-import/", data={"csrf_token": csrf_from(page), "action": "check",
                                                "file": (io.BytesIO(csv.encode()), "products.csv")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "1 行被拒绝" in html, visible_text(html)[-1500:]


def test_audit_accounts_and_help_in_chinese(app, planned):
    admin = chinese_client(app, "admin")
    assert_chinese(admin, "/audit/", "admin")
    assert_chinese(admin, "/help/", "admin")
    users = admin.get("/users/list/").get_data(as_text=True)  # the users' names are data; their roles are words
    assert "计划员" in users and "线长" in users


def test_locked_accounts_in_chinese(app, fresh_db):
    with app.app_context():  # a locked operator of the leader's line
        user = db.session.execute(select(MesUser).filter_by(username="operator2")).scalar_one()
        user.fail_login_count, user.last_failed_login_at = 5, datetime.now(timezone.utc)
        db.session.commit()
    leader = chinese_client(app, "leader")
    html = assert_chinese(leader, "/locked-accounts/", "leader", data=("operator2", "Omar Operator", "Olga Operator"))
    assert "operator2" in html and "操作员" in html
    assert_chinese(leader, "/audit/", "leader")


def test_integration_screens_in_chinese(app, fresh_db):
    with app.app_context():  # the equipment's names are the plant's data (the seed names them after the stations)
        equipment = tuple(db.session.execute(select(Equipment.name)).scalars())
    leader = chinese_client(app, "leader")
    assert_chinese(leader, "/integration/", "leader")
    page = assert_chinese(leader, "/integration/manual", "leader", data=equipment)
    # a manual entry: the page says what was recorded, the message list and the message show it
    form = {"csrf_token": csrf_from(page), "event_id": re.search(r'name="event_id" value="([^"]+)"', page).group(1),
            "stencil_id": "STN-1001-A", "status": "MAINTENANCE", "note": "TPM 离线"}
    html = leader.post("/integration/manual/stencil", data=form, follow_redirects=True).get_data(as_text=True)
    assert "已记录 STN-1001-A" in html and "手工" in html
    assert_chinese(leader, "/integration/manual", "leader", data=equipment)
    assert_chinese(leader, "/integration/", "leader")
    messages = assert_chinese(leader, "/integration/messages", "leader")
    message_id = re.search(r'/integration/messages/(\d+)"', messages).group(1)
    assert_chinese(leader, f"/integration/messages/{message_id}", "leader")


def test_login_page_in_chinese(app, fresh_db):
    client = app.test_client()
    client.set_cookie("mes_lang", "zh")
    html = client.get("/login/").get_data(as_text=True)
    text = visible_text(html)
    assert "用户名" in text and "密码" in text
    assert not english_words(text), english_words(text)
    # a wrong password: said in Chinese
    html = client.post("/login/", data={"csrf_token": csrf_from(html), "username": "planner", "password": "wrong"},
                       follow_redirects=True).get_data(as_text=True)
    assert "用户名或密码错误，请重试。" in html


def test_security_screens_of_ours_in_chinese(app, fresh_db):
    admin = chinese_client(app, "admin")
    for url in ("/rolescopes/list/", "/apikeys/list/"):  # (the add form lists the roles by their names)
        assert_chinese(admin, url, "admin", data=("Integration Account", "integration"))
    # a bad audit filter: the code, and what to do in Chinese (the filter's own sentence is the service's)
    html = admin.get("/audit/?from=not-a-date").get_data(as_text=True)
    assert re.search(r"\[VALIDATION_ERROR\] [^A-Za-z<]*[\u4e00-\u9fff]", html), html


def test_the_visible_text_skips_identifiers_and_keeps_attributes():
    html = ('<html><head><title>x</title></head><body><p>工单 <span translate="no">PRODUCT_CREATE by admin</span>'
            '<input placeholder="WO number"><a title="Sort">排序</a></p><pre>{"raw": true}</pre>'
            '<script>var English = 1;</script></body></html>')
    text = visible_text(html)
    assert "工单" in text and "WO number" in text and "Sort" in text
    assert "admin" not in text and "raw" not in text and "English" not in text
    assert english_words(text) == ["WO", "number", "Sort"]
    assert english_words("添加BOM行 · 导出 CSV") == []


def test_a_chinese_page_leaves_no_chinese_behind_for_the_next_english_user(app, fresh_db):
    """A code shown as a word in a template (`{{ 'AUTO'|mes_code }}`) is translated at each request, not
    once when the first request compiles the template."""
    zh = chinese_client(app, "leader")
    assert ">自动</span>" in zh.get("/integration/").get_data(as_text=True)
    en = app.test_client()
    console_login(en, "leader")
    html = en.get("/integration/").get_data(as_text=True)
    assert ">AUTO</span>" in html and "自动" not in html
