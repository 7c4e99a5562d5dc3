"""The acceptance runner's HTTP client: the REST API of a running LineMES over real HTTP, as the demo
users (JWT from `POST /api/v1/security/login`) and the integration account (its API key).

Standard library only (urllib): the runner must work against a staging install from any machine that
has the code, and needs nothing from `tests/`. The answer objects offer what the scenarios read —
`status_code` and `get_json()` — the same as the Flask test client's, so the pytest scenarios can run
the very same scenario definitions on the test client (tests/api/test_acceptance_scenarios.py)."""
from __future__ import annotations

import json as jsonlib
import time
import urllib.error
import urllib.request
from typing import Any

DEMO_PASSWORD = "Demo-Pass-2026"  # 04_acceptance §1; `--password` / MES_DEMO_PASSWORD override it
INTEGRATION_USER = "integration"


class Answer:
    """An HTTP answer: status code, headers and (JSON) body."""

    def __init__(self, status: int, body: bytes, headers: Any = None) -> None:
        self.status_code = status
        self.body = body
        self.headers = headers or {}

    def get_json(self) -> Any:
        try:
            return jsonlib.loads(self.body) if self.body else None
        except ValueError:
            return None


class LoginFailed(Exception):
    """A demo user could not sign in (wrong password, locked, not seeded)."""


class HttpApi:
    """`api(user).post(path, json=…)` over HTTP. Tokens are fetched once per user (again after a 401:
    an access token that expired during a long run)."""

    def __init__(self, base_url: str, *, password: str = DEMO_PASSWORD, integration_key: str | None = None,
                 timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.password = password
        self.integration_key = integration_key
        self.timeout = timeout
        self.tokens: dict[str, str] = {}

    def request(self, method: str, path: str, *, json: Any = None, data: str | bytes | None = None,
                content_type: str | None = None, token: str | None = None) -> Answer:
        headers = {"Accept": "application/json"}
        body: bytes | None = None
        if json is not None:
            body, headers["Content-Type"] = jsonlib.dumps(json).encode(), "application/json"
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
            headers["Content-Type"] = content_type or "application/octet-stream"
        elif method in ("POST", "PUT", "PATCH"):
            body, headers["Content-Type"] = b"{}", "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                return Answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read(), error.headers)

    def login(self, username: str) -> str:
        if username == INTEGRATION_USER:
            if not self.integration_key:
                raise LoginFailed("no API key for the integration account: give --integration-key or set "
                                  "MES_INTEGRATION_API_KEY (flask mes create-api-key integration makes one)")
            return self.integration_key
        credentials = {"username": username, "password": self.password, "provider": "db"}
        answer = self.request("POST", "/api/v1/security/login", json=credentials)
        if answer.status_code == 429:  # the sign-in rate limit (20 a minute per address): wait once, retry
            time.sleep(min(float(answer.headers.get("Retry-After") or 61), 61))  # the window is a minute
            answer = self.request("POST", "/api/v1/security/login", json=credentials)
        body = answer.get_json() or {}
        if answer.status_code != 200 or "access_token" not in body:
            error = (body.get("error") or {}) if isinstance(body, dict) else {}
            raise LoginFailed(f"{username} could not sign in: HTTP {answer.status_code} "
                              f"{error.get('code', '')} {error.get('message', body.get('message', ''))}".rstrip())
        self.tokens[username] = body["access_token"]
        return self.tokens[username]

    def __call__(self, username: str) -> "HttpApi.As":
        return HttpApi.As(self, username)

    class As:
        def __init__(self, api: "HttpApi", username: str) -> None:
            self.api, self.username = api, username

        def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
            token = self.api.tokens.get(self.username) or self.api.login(self.username)
            answer = self.api.request(method, path, token=token, **kwargs)
            if answer.status_code == 401 and self.username != INTEGRATION_USER:
                answer = self.api.request(method, path, token=self.api.login(self.username), **kwargs)
            return answer

        def get(self, path: str, **kwargs: Any) -> Answer:
            return self._call("GET", path, **kwargs)

        def post(self, path: str, **kwargs: Any) -> Answer:
            return self._call("POST", path, **kwargs)

        def put(self, path: str, **kwargs: Any) -> Answer:
            return self._call("PUT", path, **kwargs)

        def patch(self, path: str, **kwargs: Any) -> Answer:
            return self._call("PATCH", path, **kwargs)
