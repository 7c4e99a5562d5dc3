"""Selenium with Debian's Chromium, headless, against the live gunicorn server. Every browser test
also checks that no page it visited broke the Content-Security-Policy (app/security_headers.py):
Chromium logs each violation to the console, which the fixture reads at the end."""
from __future__ import annotations

import shutil

import pytest


def _chromium() -> tuple[str | None, str | None]:
    return (shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver"))


@pytest.fixture
def browser(tmp_path):
    binary, driver_path = _chromium()
    if not binary or not driver_path:
        pytest.skip("chromium and chromedriver are not installed (make test installs them when run as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1366,900",
                f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    yield driver
    try:
        violations = csp_violations(driver)
    finally:
        driver.quit()
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture(scope="module")
def history_server(database, live_servers):
    """A live server on a copy of the seeded database with two days of demo history (the dashboard, the
    reports and the line boards have something to show)."""
    from support import flask_cli

    start, stop = live_servers
    url = database.copy_to("dash_history")
    played = flask_cli(url, "mes", "seed", "--demo-history", "--days", "2", "--seed", "3")
    assert played.returncode == 0, played.stdout[-2000:] + played.stderr[-2000:]
    server = start(db_url=url)
    # the history leaves the demo's paste jar thawing (as `make run` with history does); the tests that
    # build boards on it need the jar thawed: out of the refrigerator 5 hours ago
    from datetime import datetime, timedelta, timezone

    from support import LiveApi, ok_data
    ok_data(LiveApi(server.url)("material").post("/api/v1/lines/LINE-SMT-A/solder-paste/times", json={
        "lotNo": "SP-LOT-0001", "kind": "THAW_START",
        "at": (datetime.now(timezone.utc) - timedelta(hours=5)).isoformat()}))
    yield server
    stop(server)


def csp_violations(driver) -> list[str]:
    """The console messages about the Content-Security-Policy since the last call (the log is read
    once: a test that checks mid-way keeps what it read)."""
    seen = getattr(driver, "_mes_csp_seen", [])
    seen += [entry["message"] for entry in driver.get_log("browser")
             if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]]
    driver._mes_csp_seen = seen
    return list(seen)
