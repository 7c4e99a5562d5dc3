"""Issue 17 (zh-CN): what the quality screens answer after a form — the flash messages of the disposition
queue, the OQC card, the MRB card and the trace search — is Chinese for a Chinese user, with the codes
(SN, run number, decision codes in the forms) unchanged; English stays the default (test_quality_console.py)."""
import re

from test_quality_console import held_run

from support import DEMO_PASSWORD, authorized_run, build_unit, console_login, csrf_from, ok_data


def chinese_console(client, username):
    client.set_cookie("mes_lang", "zh")
    console_login(client, username)
    return client


def flashes(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|&times;|\s+", " ", text).strip()
            for text in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)]


def test_disposition_and_trace_answers_in_chinese(client, api):
    run_no = authorized_run(api, qty=1, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=10)
    chinese_console(client, "quality")
    page = client.get("/disposition/").get_data(as_text=True)
    token = csrf_from(page)
    page = client.post("/disposition/record", data={"csrf_token": token, "sn": sn, "code": "TOMBSTONE"},
                       follow_redirects=True).get_data(as_text=True)
    assert any(f"已在 {sn} 上记录不良" in text for text in flashes(page)), flashes(page)
    assert f'id="decide-{sn}"' in page and "<h1>不良与处置</h1>" in page  # its decision form, in Chinese
    assert '<option value="SCRAP">报废</option>' in page

    page = client.get("/trace/?q=NO-SUCH-THING", follow_redirects=True).get_data(as_text=True)
    assert any("没有板、生产批或批次 NO-SUCH-THING" in text for text in flashes(page)), flashes(page)


def test_oqc_and_mrb_answers_in_chinese(client, api):
    run_no, sampled = held_run(api)
    chinese_console(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    token = csrf_from(page)
    oqc = int(re.search(r"/oqc/(\d+)/start", page).group(1))
    page = client.post(f"/oqc/{oqc}/start", data={"csrf_token": token, "run_no": run_no},
                       follow_redirects=True).get_data(as_text=True)
    assert any(text.endswith("OQC 已开始。") for text in flashes(page)), flashes(page)
    page = client.post(f"/oqc/{oqc}/items", data={"csrf_token": token, "run_no": run_no, "unit_sn": sampled,
                                                 "item_name": "外观", "result": "FAIL", "defect_code": "SOLDER_BRIDGE"},
                       follow_redirects=True).get_data(as_text=True)
    assert any(f"已为 {sampled} 记录检验项目。" in text for text in flashes(page)), flashes(page)
    page = client.post(f"/oqc/{oqc}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "FAIL",
                                                  "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert any(f"生产批 {run_no} 现为 已暂停" in text for text in flashes(page)), flashes(page)
    page = client.post(f"/mrb/runs/{run_no}", data={"csrf_token": token, "decision": "RELEASE",
                                                   "reason": "评审后放行", "password": DEMO_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert any(f"MRB 放行：生产批 {run_no} 现为 已完工。" in text for text in flashes(page)), flashes(page)
    assert ok_data(api("quality").get(f"/api/v1/runs/{run_no}"))["status"] == "COMPLETED"
