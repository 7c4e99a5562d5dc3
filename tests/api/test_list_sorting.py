"""Issue 17, "Finish": the custom lists sort by a column — Work Orders, Runs, Routings, the disposition
queue, Integration Messages. `sort` names a column of the list's whitelist (services), `order` is asc or
desc; the API refuses another with VALIDATION_ERROR, the console shows its default order instead. The
column headers (the queue: its sort buttons) link to the sort and keep the filters; paging and the
exports keep the sort."""
import csv
import io
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

from support import SMT_LINE, authorized_run, build_unit, console_login, new_work_order, ok_data


def error_of(response):
    body = response.get_json()
    return response.status_code, body["error"]["code"], body["error"]["details"]


def refused_sort(api, path, user):
    sep = "&" if "?" in path else "?"
    status, code, details = error_of(api(user).get(f"{path}{sep}sort=bogus"))
    assert (status, code) == (422, "VALIDATION_ERROR") and "bogus" not in details["fields"]["sort"]
    status, code, details = error_of(api(user).get(f"{path}{sep}order=sideways"))
    assert (status, code, details["fields"]["order"]) == (422, "VALIDATION_ERROR", ["asc", "desc"])
    return details


def console(app, user):
    client = app.test_client()
    console_login(client, user)
    return client


def header_link(page, key):
    """The query of the column header (or sort button) that sorts by `key`."""
    href = re.search(rf'href="\?([^"]*)" data-sort="{key}"', page).group(1).replace("&amp;", "&")
    return {k: v[0] for k, v in parse_qs(href).items()}


# -- work orders -------------------------------------------------------------------------------------

def test_work_orders_sort_by_a_column_both_ways_keep_filters_paging_and_export(api, app):
    tag = f"WO-SRT{uuid.uuid4().hex[:4].upper()}"
    for suffix, qty, product in (("A", 3, "P-1001"), ("B", 1, "P-2001"), ("C", 2, "P-1001")):
        new_work_order(api, wo_no=f"{tag}-{suffix}", qty=qty, product=product)
    base = f"/api/v1/work-orders?q={tag}"
    assert [w["woNo"][-1] for w in ok_data(api("planner").get(base))] == ["C", "B", "A"]  # newest first
    asc = ok_data(api("planner").get(f"{base}&sort=plannedQty&order=asc"))
    assert [w["plannedQty"] for w in asc] == [1, 2, 3]
    assert [w["plannedQty"] for w in ok_data(api("planner").get(f"{base}&sort=plannedQty&order=desc"))] == [3, 2, 1]
    by_product = ok_data(api("planner").get(f"{base}&sort=productCode&order=desc"))
    assert [w["product"]["code"] for w in by_product] == ["P-2001", "P-1001", "P-1001"]
    assert [w["woNo"][-1] for w in by_product][1:] == ["C", "A"]  # ties: the newer first, like the direction
    page2 = api("planner").get(f"{base}&sort=plannedQty&order=asc&page=2&pageSize=2").get_json()
    assert [w["plannedQty"] for w in page2["data"]] == [3] and page2["meta"]["total"] == 3
    refused_sort(api, base, "planner")
    assert "plannedQty" in error_of(api("planner").get(f"{base}&sort=bogus"))[2]["fields"]["sort"]

    client = console(app, "planner")
    page = client.get(f"/work-orders/?q={tag}&sort=plannedQty&order=desc").get_data(as_text=True)
    assert re.findall(rf">({tag}-\w)</a>", page) == [f"{tag}-A", f"{tag}-C", f"{tag}-B"]
    assert header_link(page, "plannedQty") == {"q": tag, "sort": "plannedQty", "order": "asc"}  # toggles
    assert header_link(page, "woNo") == {"q": tag, "sort": "woNo", "order": "asc"}  # the filter stays
    assert 'aria-sort="descending"' in page and '<input type="hidden" name="sort" value="plannedQty">' in page
    page = client.get(f"/work-orders/?q={tag}&sort=plannedQty&order=asc&pageSize=2&page=1").get_data(as_text=True)
    assert re.findall(rf">({tag}-\w)</a>", page) == [f"{tag}-B", f"{tag}-C"]
    nxt = re.search(r'href="\?([^"]*)">Next</a>', page).group(1).replace("&amp;", "&")
    assert {k: v[0] for k, v in parse_qs(nxt).items()} == {"q": tag, "sort": "plannedQty", "order": "asc",
                                                           "pageSize": "2", "page": "2"}
    export = client.get(f"/work-orders/csv?q={tag}&sort=plannedQty&order=desc")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["planned qty"] for r in rows] == ["3", "2", "1"]
    # a bad sort on the screen: the default order, no error
    bad = client.get(f"/work-orders/?q={tag}&sort=bogus&order=sideways")
    assert bad.status_code == 200
    assert re.findall(rf">({tag}-\w)</a>", bad.get_data(as_text=True)) == [f"{tag}-C", f"{tag}-B", f"{tag}-A"]


# -- runs ---------------------------------------------------------------------------------------------

def test_runs_sort_by_a_column_both_ways(api, app):
    wo_no = new_work_order(api, qty=9)
    for qty in (2, 3, 1):
        ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/runs", json={"lineCode": SMT_LINE, "planQty": qty}))
    base = f"/api/v1/runs?woNo={wo_no}"
    assert [r["planQty"] for r in ok_data(api("planner").get(base))] == [1, 3, 2]  # newest first
    assert [r["planQty"] for r in ok_data(api("planner").get(f"{base}&sort=planQty&order=asc"))] == [1, 2, 3]
    assert [r["planQty"] for r in ok_data(api("planner").get(f"{base}&sort=planQty&order=desc"))] == [3, 2, 1]
    by_no = [r["runNo"] for r in ok_data(api("planner").get(f"{base}&sort=runNo&order=desc"))]
    assert by_no == sorted(by_no, reverse=True)
    refused_sort(api, base, "planner")
    assert error_of(api("planner").get(f"{base}&sort=bogus&format=csv"))[1] == "VALIDATION_ERROR"
    plan_of = {r["runNo"]: r["planQty"] for r in ok_data(api("planner").get(base))}

    client = console(app, "planner")
    page = client.get(f"/runs/?woNo={wo_no}&sort=planQty&order=asc").get_data(as_text=True)
    runs = re.findall(r'<td><a href="/runs/([^"]+)">', page)
    assert [plan_of[r] for r in runs] == [1, 2, 3]
    assert header_link(page, "planQty") == {"woNo": wo_no, "sort": "planQty", "order": "desc"}
    export = client.get(f"/runs/csv?woNo={wo_no}&sort=planQty&order=desc")
    assert [r["plan qty"] for r in csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff")))] == \
        ["3", "2", "1"]
    bad = client.get(f"/runs/?woNo={wo_no}&sort=planQty&order=upwards")
    assert bad.status_code == 200 and 'aria-sort' not in bad.get_data(as_text=True)


# -- routings -----------------------------------------------------------------------------------------

def test_routings_sort_by_a_column_both_ways(api, app):
    default = [r["code"] for r in ok_data(api("engineer").get("/api/v1/routings"))]
    assert len(default) >= 2
    asc = [r["code"] for r in ok_data(api("engineer").get("/api/v1/routings?sort=code&order=asc"))]
    desc = [r["code"] for r in ok_data(api("engineer").get("/api/v1/routings?sort=code&order=desc"))]
    assert asc == default and desc == list(reversed(asc))
    types = [r["processType"] for r in ok_data(api("engineer").get("/api/v1/routings?sort=processType&order=desc"))]
    assert types == sorted(types, reverse=True) and len(set(types)) == 2
    refused_sort(api, "/api/v1/routings", "engineer")

    client = console(app, "engineer")
    page = client.get("/routings/?sort=code&order=desc").get_data(as_text=True)
    shown = re.findall(r'<td><a href="/routings/([^"/]+)">', page)
    assert shown == desc
    assert header_link(page, "code") == {"sort": "code", "order": "asc"}
    export = client.get("/routings/csv?sort=code&order=desc")
    routings = list(dict.fromkeys(r["routing"] for r in csv.DictReader(
        io.StringIO(export.get_data(as_text=True).lstrip("\ufeff")))))
    assert routings == desc
    bad = client.get("/routings/?sort=steps")
    assert bad.status_code == 200 and re.findall(r'<td><a href="/routings/([^"/]+)">', bad.get_data(as_text=True)) == asc


# -- disposition queue -----------------------------------------------------------------------------------

@pytest.fixture
def queue_run(api):
    """Three boards of one run waiting for a decision (defects found by hand, in SN order 2, 3, 1)."""
    run_no = authorized_run(api, qty=3, units=3)
    sns = [f"{run_no}-000{i}" for i in (1, 2, 3)]
    for sn in sns:
        build_unit(api, run_no, sn, until=10)
    for sn in (sns[1], sns[2], sns[0]):
        ok_data(api("quality").post("/api/v1/defects", json={"sn": sn, "code": "TOMBSTONE"}))
    return run_no, sns


def test_the_disposition_queue_sorts_by_a_column_both_ways(api, app, queue_run):
    run_no, sns = queue_run
    base = f"/api/v1/defects/queue?runNo={run_no}"
    assert [e["sn"] for e in ok_data(api("quality").get(base))] == [sns[1], sns[2], sns[0]]  # oldest first
    assert [e["sn"] for e in ok_data(api("quality").get(f"{base}&sort=sn&order=asc"))] == sns
    assert [e["sn"] for e in ok_data(api("quality").get(f"{base}&sort=sn&order=desc"))] == sns[::-1]
    assert [e["sn"] for e in ok_data(api("quality").get(f"{base}&sort=since&order=desc"))] == [sns[0], sns[2], sns[1]]
    refused_sort(api, base, "quality")

    client = console(app, "quality")
    page = client.get(f"/disposition/?run={run_no}&sort=sn&order=desc").get_data(as_text=True)
    assert re.findall(r'id="queue-([^"]+)" data-sn', page) == sns[::-1]
    assert header_link(page, "sn") == {"run": run_no, "sort": "sn", "order": "asc"}
    export = client.get(f"/disposition/csv?run={run_no}&sort=sn&order=asc")
    assert [r["sn"] for r in csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff")))] == sns
    # a decision keeps the sort of the queue it was made from
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    defect = re.search(rf'/disposition/defects/(\d+)/decide[^"]*" id="decide-{sns[2]}"', page).group(1)
    answer = client.post(f"/disposition/defects/{defect}/decide?run={run_no}&sort=sn&order=desc", data={
        "csrf_token": token, "sn": sns[2], "type": "SCRAP", "reason": "beyond repair"})
    assert answer.status_code == 302
    assert parse_qs(urlparse(answer.headers["Location"]).query) == {"run": [run_no], "sort": ["sn"], "order": ["desc"]}
    bad = client.get(f"/disposition/?run={run_no}&sort=bogus").get_data(as_text=True)
    assert re.findall(r'id="queue-([^"]+)" data-sn', bad) == [sns[1], sns[0]]  # oldest first (the third scrapped)


# -- integration messages ---------------------------------------------------------------------------------

def test_integration_messages_sort_by_a_column_both_ways(api, app):
    tag = f"WO-MSG{uuid.uuid4().hex[:4].upper()}"
    for suffix in ("B", "C", "A"):
        new_work_order(api, wo_no=f"{tag}-{suffix}")
    base = "/api/v1/integration/messages?pageSize=500"

    def mine(query):
        return [m["businessKey"][-1] for m in ok_data(api("engineer").get(base + query))
                if (m["businessKey"] or "").startswith(tag)]
    assert mine("") == ["A", "C", "B"]  # newest first
    assert mine("&sort=businessKey&order=asc") == ["A", "B", "C"]
    assert mine("&sort=businessKey&order=desc") == ["C", "B", "A"]
    ids = [m["id"] for m in ok_data(api("engineer").get(base + "&sort=id&order=asc"))]
    assert ids == sorted(ids)
    refused_sort(api, base, "engineer")

    client = console(app, "engineer")
    page = client.get("/integration/messages?sort=businessKey&order=desc&pageSize=500").get_data(as_text=True)
    assert [k[-1] for k in re.findall(rf"<td>({tag}-\w)</td>", page)] == ["C", "B", "A"]
    assert header_link(page, "businessKey") == {"sort": "businessKey", "order": "asc", "pageSize": "500"}
    export = client.get("/integration/messages/csv?sort=businessKey&order=asc")
    keys = [r["business key"][-1] for r in csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff")))
            if r["business key"].startswith(tag)]
    assert keys == ["A", "B", "C"]
    bad = client.get("/integration/messages?sort=payload&pageSize=500")
    assert bad.status_code == 200
    assert [k[-1] for k in re.findall(rf"<td>({tag}-\w)</td>", bad.get_data(as_text=True))] == ["A", "C", "B"]
