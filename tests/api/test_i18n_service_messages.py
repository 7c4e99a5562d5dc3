"""Issue 17 (zh-CN): the services' own sentences — a refusal's message, Run Detail's next action and
phases, a readiness item's reason — come in Chinese to a client that asks for it (Accept-Language, the
`mes_lang` cookie), and exactly as before in English to every other client (app/services/platform/messages.py,
app/web/i18n.py `localize`). Real app and HTTP through the test client, both databases."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Product
from support import SMT_STATIONS, console_login, ok_data, prep_run, ready_run

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def track_in(api, run_no: str, sn: str, **kwargs):
    return api("operator").post(f"/api/v1/stations/{SMT_STATIONS[10]}/track-in", json={"sn": sn, "runNo": run_no},
                                **kwargs)


def test_a_refusal_answers_in_chinese_and_stays_english_otherwise(app, fresh_db, api, client):
    run_no = prep_run(api, qty=1)
    english = track_in(api, run_no, f"{run_no}-0001").get_json()["error"]
    assert english["code"] == "RUN_NOT_AUTHORIZED"
    assert english["message"] == f"Run {run_no} is PREP: authorize the run, or start an FAI for a trial."
    chinese = track_in(api, run_no, f"{run_no}-0001", headers=ZH).get_json()["error"]
    assert chinese["code"] == "RUN_NOT_AUTHORIZED"  # the code never changes
    assert chinese["message"] == f"生产批 {run_no} 处于“准备中”状态：请授权该生产批，或开始首件检验(FAI)进行试产。"
    assert CJK.search(chinese["hint"])
    # the terminal's long-lived language cookie does the same
    client.set_cookie("mes_lang", "zh")
    try:
        by_cookie = track_in(api, run_no, f"{run_no}-0001").get_json()["error"]
    finally:
        client.delete_cookie("mes_lang")
    assert by_cookie["message"] == chinese["message"]
    # a nested sentence: the unknown station's label scanned as a board
    label = track_in(api, run_no, SMT_STATIONS[20], headers=ZH).get_json()["error"]
    assert label["code"] in ("SCAN_NOT_A_BOARD", "RUN_NOT_AUTHORIZED"), label
    assert CJK.search(label["message"]), label


def test_run_next_action_and_readiness_reasons_follow_the_language(app, fresh_db, api):
    run_no = prep_run(api, qty=1)
    english = ok_data(api("planner").get(f"/api/v1/runs/{run_no}"))["nextAction"]
    chinese = ok_data(api("planner").get(f"/api/v1/runs/{run_no}", headers=ZH))["nextAction"]
    assert english["action"] == chinese["action"]  # codes stay codes
    assert english["text"].startswith(("Readiness: ", "Loading: ", "FAI: "))
    assert chinese["text"].startswith(("生产就绪：", "上料：", "首件")) and not re.search(r"\b(the|run|check)\b", chinese["text"])
    check_en = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness"))  # the PRECHECK at creation
    check_zh = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness", headers=ZH))
    failed_en = [i for i in check_en["items"] if i["status"] == "FAILED"]
    failed_zh = [i for i in check_zh["items"] if i["status"] == "FAILED"]
    assert failed_en and len(failed_en) == len(failed_zh)
    loading_en = next(i for i in failed_en if i["itemType"] == "LOADING")
    loading_zh = next(i for i in failed_zh if i["itemType"] == "LOADING")
    assert loading_en["failReason"] == "The run's slot table is not loaded yet."
    assert loading_zh["failReason"] == "生产批的料站表尚未加载。"
    assert "_reason" not in loading_en["evidence"]  # the stored template is no evidence of its own


def test_run_detail_console_page_in_chinese(app, fresh_db, api, client):
    run_no = prep_run(api, qty=1)
    assert console_login(client, "planner").status_code == 302  # the api's own client: one request context at a time
    html = client.get(f"/runs/{run_no}", headers=ZH).get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "授权该生产批投产。" in html  # the Authorize phase of a PREP run
    assert "已生成 0 块电路板。" in html  # the Execution phase
    next_action = re.search(r'id="next-action">(.*?)</div>', html, re.S).group(1)
    assert CJK.search(re.sub(r"<strong>.*?</strong>", "", next_action)), next_action
    html = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert "Authorize the run for production." in html and "0 unit(s) generated." in html


def test_a_solder_paste_refusal_answers_in_chinese(app, fresh_db, api):
    """The paste timers' refusal (services/preparation/paste.py), its time left a Message of its own."""
    thaw = api("material").post("/api/v1/lines/LINE-SMT-A/solder-paste/times", json={
        "lotNo": "SP-LOT-0001", "kind": "THAW_START"})  # now: 4 h of thaw to go
    assert thaw.status_code == 201, thaw.get_json()
    opened = {"lotNo": "SP-LOT-0001", "kind": "OPENED"}
    english = api("material").post("/api/v1/lines/LINE-SMT-A/solder-paste/times", json=opened).get_json()["error"]
    chinese = api("material").post("/api/v1/lines/LINE-SMT-A/solder-paste/times", json=opened,
                                   headers=ZH).get_json()["error"]
    assert english["code"] == chinese["code"] == "PASTE_THAW_INCOMPLETE"
    assert re.fullmatch(r"Solder paste SP-LOT-0001 is still thawing: 3 h 5\d min left before the jar may be opened\.",
                        english["message"]), english
    assert re.fullmatch(r"锡膏 SP-LOT-0001 仍在回温：还需 3 小时 5\d 分钟 才可开封。", chinese["message"]), chinese


def test_a_quality_refusal_answers_in_chinese(app, fresh_db, api):
    """The quality context's refusals (services/quality: FAI, OQC, MRB, defects, SPC) are Messages too."""
    run_no = ready_run(api, qty=1)
    fai = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}))
    again = {"sampleQty": 1}
    english = api("quality").post(f"/api/v1/runs/{run_no}/fai", json=again).get_json()["error"]
    assert (english["code"], english["message"]) == (
        "FAI_ALREADY_EXISTS", f"Run {run_no} already has an open FAI: continue it.")
    chinese = api("quality").post(f"/api/v1/runs/{run_no}/fai", json=again, headers=ZH).get_json()["error"]
    assert (chinese["code"], chinese["message"]) == (
        "FAI_ALREADY_EXISTS", f"生产批 {run_no} 已有一个未完成的首件检验：请继续该检验。")
    item = {"unitSn": f"{run_no}-0001", "itemName": "first article", "result": "PASS"}
    english = api("quality").post(f"/api/v1/inspections/{fai['id']}/items", json=item).get_json()["error"]
    assert english["message"] == f"{fai['number']} is PENDING: start it first."
    chinese = api("quality").post(f"/api/v1/inspections/{fai['id']}/items", json=item,
                                  headers=ZH).get_json()["error"]
    assert english["code"] == chinese["code"] == "FAI_NOT_INSPECTING"
    assert chinese["message"] == f"{fai['number']} 处于“待处理”状态：请先开始检验。"
    english = api("quality").post("/api/v1/defects/99999/release", json={"reason": "ok"}).get_json()["error"]
    chinese = api("quality").post("/api/v1/defects/99999/release", json={"reason": "ok"}, headers=ZH).get_json()["error"]
    assert (english["message"], chinese["message"]) == ("No defect 99999.", "没有不良 99999。")


def test_a_master_data_refusal_answers_in_chinese(app, fresh_db, api):
    """services/engineering/master_data.py: a refused record's field messages and an in-use refusal."""
    body = {"code": "P-4", "name": "x", "process_type": "XYZ"}
    english = api("engineer").post("/api/v1/products/", json=body).get_json()["error"]
    chinese = api("engineer").post("/api/v1/products/", json=body, headers=ZH).get_json()["error"]
    assert english["code"] == chinese["code"] == "VALIDATION_ERROR"
    assert english["message"] == "Some fields are not valid: process_type: Must be one of SMT, DIP."
    assert english["details"]["fields"] == {"process_type": "Must be one of SMT, DIP."}
    assert chinese["message"] == "部分字段无效：process_type：必须是以下之一：SMT, DIP。"
    assert chinese["details"]["fields"] == {"process_type": "必须是以下之一：SMT, DIP。"}
    with app.app_context():
        pk = db.session.execute(select(Product.id).where(Product.code == "P-1001")).scalar_one()
    english = api("engineer").delete(f"/api/v1/products/{pk}").get_json()["error"]
    chinese = api("engineer").delete(f"/api/v1/products/{pk}", headers=ZH).get_json()["error"]
    assert english["code"] == chinese["code"] == "PRODUCT_IN_USE"
    assert re.fullmatch(r"Product P-1001 is used by [a-z ]+ records\. Deactivate it instead\.", english["message"])
    assert re.fullmatch(r"Product P-1001 正被 [a-z ]+ 记录使用。请改为停用。", chinese["message"]), chinese
