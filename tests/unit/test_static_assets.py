"""Factory networks are often offline: every script, stylesheet and font comes from the app itself,
also on Flask-AppBuilder's own screens. The vendored chart library is the pinned release it says it
is, with its licence. The console has a favicon of its own."""
import hashlib
import re
from pathlib import Path

import pytest

from support import console_login

ROOT = Path(__file__).resolve().parents[2] / "app"
CHARTJS = ROOT / "static" / "vendor" / "chartjs"
CHARTJS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"  # chart.js 4.6.1


def test_chartjs_is_the_pinned_release_with_its_licence():
    script = (CHARTJS / "chart.umd.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == CHARTJS_SHA256
    assert script.startswith(b"/*!\n * Chart.js v4.6.1")
    assert "MIT License" in (CHARTJS / "LICENSE.md").read_text()
    assert CHARTJS_SHA256 in (CHARTJS / "README.md").read_text()


def test_no_template_or_script_of_ours_loads_anything_from_the_internet():
    external = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
    fetched = re.compile(r"""(?:fetch|import|url)\(\s*["'](?:https?:)?//""", re.I)
    offenders = []
    for path in list((ROOT / "templates").rglob("*.html")) + list((ROOT / "static" / "mes").rglob("*.*")):
        text = path.read_text(errors="replace")
        if external.search(text) or fetched.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
# a script that loads further scripts from another host (Google Charts' loader did: "https://…/x.js")
REMOTE_SCRIPT = re.compile(r"""["'](?:https?:)?//[^"'\s]+\.js["'?]""", re.I)


def test_no_screen_of_the_admin_menu_loads_anything_from_the_internet(client):
    """Every page the admin's menu links to (ours and FAB's, e.g. Security → User's Statistics):
    no asset from another host, and no script of the page fetches one."""
    console_login(client, "admin")
    home = client.get("/").get_data(as_text=True)
    pages = sorted({href for href in re.findall(r'href="(/[^"#?]*)', home)
                    if "logout" not in href and not href.startswith(("/static/", "/lang/"))})
    assert "/userstatschartview/chart/" in pages and "/users/list/" in pages and len(pages) > 30
    scripts, offenders = set(), []
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        if EXTERNAL.search(html):
            offenders.append(url)
        scripts |= set(re.findall(r'<script[^>]*\ssrc="(/[^"?]+)', html))
    for script in sorted(scripts):
        body = client.get(script).get_data(as_text=True)
        if REMOTE_SCRIPT.search(body):
            offenders.append(script)
    assert offenders == []


def test_user_statistics_draws_its_chart_with_the_vendored_library(client):
    console_login(client, "admin")
    page = client.get("/userstatschartview/chart/").get_data(as_text=True)
    assert "/static/vendor/chartjs/chart.umd.min.js" in page and "new Chart(" in page
    assert "google" not in page.lower()
    assert '"admin"' in page  # the users' login counts are in the chart's data


@pytest.mark.parametrize("page", ["/login/", "/"])
def test_the_console_links_a_favicon_and_serves_favicon_ico(client, page):
    if page != "/login/":
        console_login(client, "operator")
    html = client.get(page).get_data(as_text=True)
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert icons, page
    for href in icons + ["/favicon.ico"]:
        answer = client.get(href)
        assert answer.status_code == 200, href
        assert answer.mimetype.startswith("image/"), (href, answer.mimetype)
        assert len(answer.data) > 100, href
