"""Every Help link of every console screen, for every demo role (issue 17): signed in to the console as
the role, crawl the screens of its menu (and the detail screens they lead to: a work order, a run, a
unit's trace), take each screen's Help link, open it and find the anchor in the rendered guide.
Every screen of the menu has a Help link (admin screens included); Run Detail opens the viewer's own guide."""
from __future__ import annotations

import re
from html import unescape

import pytest

from support import BACKEND, INTEGRATION_KEY, ApiAs, console_login, jwt_token, ok_data, ready_run

ROLES = ("admin", "planner", "engineer", "quality", "leader", "material", "operator", "manager", "board")
NO_HELP = ("/swagger/", "/help/")  # the API reference (FAB's Swagger page) and the SOP library itself

HELP_LINK = re.compile(r'<div class="mes-help-link">\s*<a href="([^"]+)"')


def menu_links(page: str) -> list[str]:
    """The links of the navbar's dropdown menus (the role's menu)."""
    nav = page[page.index('<div class="navbar'):page.index("</nav>") if "</nav>" in page else None]
    menus = re.findall(r'<ul class="dropdown-menu">(.*?)</ul>', nav, re.S)
    links = []
    for menu in menus:
        for href in re.findall(r'href="(/[^"]*)"', menu):
            href = unescape(href)
            if href.startswith(("/logout", "/lang/", "/users/userinfo", "/resetmypassword")) or href in links:
                continue
            links.append(href)
    return links


@pytest.fixture(scope="module")
def screens(app, restorer):
    """A work order with a ready SMT run and one generated board, for the detail screens (made once)."""
    restorer()
    api_client = app.test_client()

    def api(user: str) -> ApiAs:
        token = INTEGRATION_KEY if user == "integration" else jwt_token(api_client, user, BACKEND)
        return ApiAs(api_client, {"Authorization": f"Bearer {token}"})

    run_no = ready_run(api, qty=2)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 1}))
    yield {"wo": run_no.rsplit("-R", 1)[0], "run": run_no, "sn": f"{run_no}-0001"}
    restorer()


def anchor_ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


@pytest.mark.parametrize("role", ROLES)
def test_every_help_link_of_every_screen_finds_its_anchor(app, screens, role):
    with app.test_client() as client:
        assert console_login(client, role).status_code in (302, 303)
        home = client.get("/", follow_redirects=True).get_data(as_text=True)  # the manager: the Dashboard
        links = menu_links(home)
        assert links, f"{role} has no menu"
        extra = [f"/work-orders/{screens['wo']}", f"/runs/{screens['run']}", f"/trace/units/{screens['sn']}"]
        reads_help = client.get("/help/").status_code == 200  # a board device account does not
        checked, missing, broken, shown_anyway = [], [], [], []
        guides: dict[str, set[str]] = {}
        for url in links + extra:
            if url.startswith(NO_HELP):
                continue
            answer = client.get(url, follow_redirects=True)
            if answer.status_code == 403 or (url in extra and answer.status_code != 200):
                continue  # a detail screen the role may not open
            assert answer.status_code == 200, (role, url, answer.status_code)
            page = answer.get_data(as_text=True)
            found = HELP_LINK.search(page)
            if not reads_help:  # no Help link that would answer 403
                if found:
                    shown_anyway.append(url)
                continue
            if not found:
                missing.append(url)
                continue
            target = unescape(found.group(1))
            path, _, anchor = target.partition("#")
            assert path.startswith("/help/"), (role, url, target)
            if path not in guides:
                guide = client.get(path)
                assert guide.status_code == 200, (role, url, target, guide.status_code)
                guides[path] = anchor_ids(guide.get_data(as_text=True))
            if anchor and anchor not in guides[path]:
                broken.append(f"{url} → {target}")
            checked.append((url, target))
        assert not shown_anyway, f"{role} cannot open the SOP library, yet these screens link to it: {shown_anyway}"
        if not reads_help:
            return
        assert not missing, f"{role}: screens without Help: {missing}"
        assert not broken, f"{role}: Help links to anchors that do not exist: {broken}"
        assert len(checked) >= 3, checked


RUN_DETAIL_GUIDE = {"planner": "/help/planner#", "quality": "/help/quality#", "leader": "/help/leader#",
                    "material": "/help/material#", "operator": "/help/operator#", "manager": "/help/manager#",
                    "engineer": "/help/engineer#"}


@pytest.mark.parametrize("role", sorted(RUN_DETAIL_GUIDE))
def test_run_detail_help_opens_the_viewers_guide(app, screens, role):
    with app.test_client() as client:
        console_login(client, role)
        page = client.get(f"/runs/{screens['run']}").get_data(as_text=True)
        target = unescape(HELP_LINK.search(page).group(1))
        assert target.startswith(RUN_DETAIL_GUIDE[role]), target
        path, _, anchor = target.partition("#")
        assert f'id="{anchor}"' in client.get(path).get_data(as_text=True)


def test_no_guide_promises_sections_for_later(app, screens):
    with app.test_client() as client:
        console_login(client, "admin")
        for slug in ("engineer", "quality", "planner", "leader", "material", "operator", "manager", "admin",
                     "degraded-mode"):
            text = client.get(f"/help/{slug}").get_data(as_text=True)
            assert "when those screens ship" not in text and "are added to this guide" not in text, slug
