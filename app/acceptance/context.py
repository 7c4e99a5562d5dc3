"""What a scenario runs in: the API as the roles, named steps with their timing and outcome, checks
that report what was expected and what came, and the check that a refused call changed nothing.

A step is one thing a role does (sign in, receive a work order, scan a reel, TrackIn + TrackOut, …)
with the checks of its answer. The first failing check fails its step and ends the scenario
(`ScenarioStopped`): later steps would only fail for the same reason."""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Optional
from urllib.parse import urlencode

from .client import DEMO_PASSWORD


class CheckFailed(Exception):
    """A check of a step failed: `code` is the error code involved (the one the server answered, or the
    one expected), `message` what differed."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code = message, code


class ScenarioStopped(Exception):
    """A step failed: the scenario stops there (its result says which step and why)."""


@dataclass
class StepResult:
    scenario: str
    name: str
    actor: str
    ok: bool
    ms: float
    code: str | None = None
    message: str | None = None

    def line(self) -> str:
        status = "OK  " if self.ok else "FAIL"
        text = f"{status} {self.scenario:<4} {self.name}  [{self.actor}]  {self.ms:.0f} ms"
        if not self.ok:
            text += f"  {self.code or '-'}: {self.message}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScenarioResult:
    name: str
    title: str
    track: str
    steps: list[StepResult] = field(default_factory=list)
    ms: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed_step(self) -> Optional[StepResult]:
        return next((s for s in self.steps if not s.ok), None)


def error_of(answer: Any) -> tuple[str | None, str | None]:
    """The error envelope's (code, message) of an answer, (None, None) when it has none."""
    body = answer.get_json() if answer is not None else None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("code"), error.get("message")
    return None, None


class Context:
    """One scenario's run: `api(user)` calls, `step(name, actor)` blocks, checks.

    `probe` (optional) takes a snapshot of what a refused call must leave as it was; the runner's is
    read through the API (the run, its units, the audit trail), the pytest scenarios add the whole
    database's."""

    def __init__(self, api: Callable[[str], Any], result: ScenarioResult, *,
                 probe: Optional[Callable[[], Any]] = None, echo: Optional[Callable[[StepResult], None]] = None,
                 audit_reader: str = "manager") -> None:
        self._api = api
        self.result = result
        self.probe = probe
        self.echo = echo
        self.audit_reader = audit_reader
        self.last: Any = None  # the last answer of the current step
        self._in_step = False

    # -- calls --------------------------------------------------------------------------------------

    def api(self, user: str) -> "_Recorder":
        return _Recorder(self, self._api(user))

    @property
    def password(self) -> str:
        """The demo users' password (the HTTP client's `--password`): signatures re-enter it."""
        return getattr(self._api, "password", None) or DEMO_PASSWORD

    # -- steps --------------------------------------------------------------------------------------

    @contextmanager
    def step(self, name: str, actor: str) -> Iterator[None]:
        if self._in_step:  # a helper's step inside a step: part of the outer one
            yield
            return
        self._in_step, self.last = True, None
        started = time.perf_counter()
        try:
            yield
        except CheckFailed as failure:
            self._record(name, actor, started, ok=False, code=failure.code, message=failure.message)
            raise ScenarioStopped(name) from failure
        except ScenarioStopped:
            raise
        except Exception as exc:  # an answer that is not what a step can read (e.g. not JSON)
            code, _ = error_of(self.last)
            self._record(name, actor, started, ok=False, code=code,
                         message=f"{exc.__class__.__name__}: {exc}")
            raise ScenarioStopped(name) from exc
        finally:
            self._in_step = False
        self._record(name, actor, started, ok=True)

    def _record(self, name: str, actor: str, started: float, *, ok: bool, code: str | None = None,
                message: str | None = None) -> None:
        step = StepResult(self.result.name, name, actor, ok, (time.perf_counter() - started) * 1000, code, message)
        self.result.steps.append(step)
        if self.echo:
            self.echo(step)

    # -- checks -------------------------------------------------------------------------------------

    def data(self, answer: Any, *, status: tuple[int, ...] = (200, 201)) -> Any:
        """The `data` of a successful answer; a failed check with the server's code otherwise."""
        if answer.status_code not in status:
            code, message = error_of(answer)
            raise CheckFailed(f"HTTP {answer.status_code}: {message or answer.get_json()}", code)
        body = answer.get_json()
        if not isinstance(body, dict) or "data" not in body:
            raise CheckFailed(f"HTTP {answer.status_code} without a data envelope: {body!r}"[:500])
        return body["data"]

    def eq(self, actual: Any, expected: Any, what: str = "") -> None:
        if actual != expected:
            raise CheckFailed(f"{what + ': ' if what else ''}expected {expected!r}, got {actual!r}"[:2000],
                              error_of(self.last)[0])

    def ok(self, condition: Any, message: str) -> None:
        if not condition:
            raise CheckFailed(message[:2000], error_of(self.last)[0])

    def error(self, answer: Any, status: int, code: str) -> dict[str, Any]:
        """The answer is the refusal `status`/`code`; returns the error envelope."""
        got_code, message = error_of(answer)
        if answer.status_code != status or got_code != code:
            raise CheckFailed(f"expected HTTP {status} {code}, got HTTP {answer.status_code} "
                              f"{got_code or ''} {message or ''}".rstrip(), code)
        return answer.get_json()["error"]

    def refused(self, call: Callable[[], Any], status: int, code: str, *, actor: str,
                run_no: str | None = None, fail_audited: bool | None = None) -> dict[str, Any]:
        """Make the call, expect the refusal, and check that it changed nothing: the run and its units
        (when `run_no` is given), the audit trail's SUCCESS events, and — for a business refusal — one
        more FAIL event of the caller (401/403/422 rejections are logged, not audited: 02_rules §12)."""
        if fail_audited is None:
            fail_audited = status not in (401, 403, 422)
        before = self._observe(actor, run_no)
        error = self.error(call(), status, code)
        after = self._observe(actor, run_no)
        self.eq(after["successEvents"], before["successEvents"], f"audit SUCCESS events after the refused {code}")
        self.eq(after["run"], before["run"], f"the run after the refused {code}")
        self.eq(after["probe"], before["probe"], f"the database after the refused {code}")
        self.eq(after["failEvents"] - before["failEvents"], 1 if fail_audited else 0,
                f"FAIL audit events of {actor} for the refused {code}")
        return error

    def _observe(self, actor: str, run_no: str | None) -> dict[str, Any]:
        reader = self._api(self.audit_reader)

        def total(**query: str) -> int:
            answer = reader.get(f"/api/v1/audit-events?{urlencode({'pageSize': 1, **query})}")
            self.data(answer)
            return answer.get_json()["meta"]["total"]

        run = None
        if run_no:
            answer = reader.get(f"/api/v1/runs/{run_no}")
            run = (answer.status_code, self.data(answer) if answer.status_code == 200 else None,
                   self.data(reader.get(f"/api/v1/runs/{run_no}/units")) if answer.status_code == 200 else None)
        # sign-ins are audited too (a token expired and renewed mid-run): they are not business changes
        successes = total(status="SUCCESS") - total(status="SUCCESS", action="LOGIN")
        return {"successEvents": successes, "failEvents": total(status="FAIL", actor=actor),
                "run": run, "probe": self.probe() if self.probe else None}

    # -- numbers ------------------------------------------------------------------------------------

    @staticmethod
    def unique(prefix: str) -> str:
        """A business number of its own per run (the runner is re-runnable on one server)."""
        return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


class _Recorder:
    """The role's API, remembering the last answer for the step's report."""

    def __init__(self, context: Context, api: Any) -> None:
        self.context, self.inner = context, api

    def _wrap(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = getattr(self.inner, method)(path, **kwargs)
        self.context.last = answer
        return answer

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._wrap("get", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._wrap("post", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self._wrap("put", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._wrap("patch", path, **kwargs)
