"""Helpers and constants shared by the tests (import them with `from support import …`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_PASSWORD = "Demo-Pass-2026"
ADMIN_PASSWORD = "Admin-Pass-2026"
INTEGRATION_KEY = "sst_test_integration_key_0123456789abcdef"
SECRET_KEY = "test-secret-key-not-for-production"


def app_overrides(url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET_KEY,
        "TESTING": True,
        "MES_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MES_INTEGRATION_API_KEY": INTEGRATION_KEY,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashing for tests only
        "FAB_API_KEY_HASH_METHOD": "pbkdf2:sha256:1000",
    }


_token_cache: dict[tuple[str, str], str] = {}


def password_for(username: str) -> str:
    return ADMIN_PASSWORD if username == "admin" else DEMO_PASSWORD


def jwt_token(client, username: str, backend: str = "") -> str:
    """A JWT for a seeded user (cached: tokens depend only on the user id and the secret, and every
    test restores the same seeded database)."""
    key = (backend, username)
    if key not in _token_cache:
        response = client.post("/api/v1/security/login", json={
            "username": username, "password": password_for(username), "provider": "db", "refresh": True})
        assert response.status_code == 200, response.get_data(as_text=True)
        _token_cache[key] = response.get_json()["access_token"]
    return _token_cache[key]


@dataclass
class ApiAs:
    client: Any
    headers: dict[str, str]

    def _call(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, **kw):
        return self._call("POST", path, **kw)

    def put(self, path, **kw):
        return self._call("PUT", path, **kw)

    def patch(self, path, **kw):
        return self._call("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)


def console_login(client, username: str, password: str | None = None):
    """Sign in through the console's login form (session cookie), CSRF token included."""
    page = client.get("/login/")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login/", data={"username": username, "password": password or password_for(username),
                                        "csrf_token": token}, follow_redirects=False)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def count(model, *where) -> int:
    """Rows of a model matching the conditions (inside an app context)."""
    from sqlalchemy import func, select

    from app.extensions import db
    stmt = select(func.count()).select_from(model)
    for clause in where:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).scalar_one()


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored; screenshots for reviewers


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
