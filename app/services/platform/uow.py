"""Unit of work: one transaction per use case, with its audit event(s) in the same transaction.

    with unit_of_work(actor, "RUN_AUTHORIZE", "RUN", run_no) as uow:
        ...                      # read, check rules (raise DomainError), change rows
        uow.diff = {...}         # optional: before/after of the changed fields

On success the audit event is written and everything commits together. On a DomainError everything
rolls back and the refused attempt is audited in its own short transaction (services/platform/audit.py).

On SQLite the transaction starts with BEGIN IMMEDIATE (the write lock is taken up front; concurrent
writers queue on the busy timeout). On PostgreSQL services lock the rows they change
(`SELECT … FOR UPDATE`, see `lock()`). A state-changing request opens its write transaction already
when it authenticates (`begin_write_transaction`, security/auth.py): its permission check reads the
security version in the very transaction the unit of work then joins, instead of a read transaction of
its own that has to be rolled back first.

A unit of work started inside another joins it: it records its own audit event but the outermost one
owns the transaction.

Deferred security check (the hot path, issue 16): a state-changing request whose actor comes from the
process cache may leave the reads that validate it — the security version, and for a console session the
user's session version — to its unit of work (`defer_security_check`). The unit of work confirms them in
its own transaction before anything commits: TrackIn/TrackOut read them as columns of their first query
(`confirm_security`), any other use case reads them just before it commits or answers a refusal. A
difference raises StaleSecurity (nothing changed): the API authenticates again, the full way, and redoes
the request. The check is as strong as reading them first; it only saves those statements on the hot
path.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from sqlalchemy.engine import Connection, Result
from sqlalchemy.orm import Session

from ...database import IMMEDIATE
from ...extensions import db
from .actor import Actor
from .audit import INSERT_EVENT, SECURITY_CHECK, event_values, record_failure
from .errors import DomainError, StaleSecurity

PENDING_SECURITY = "mes_security_pending"  # session.info: the PendingCheck of the request's cached actor


@dataclass(frozen=True)
class PendingCheck:
    """What a request's cached actor stands on: the security version it was built at, and for a console
    session the user's session version the session started with (None for a bearer token)."""
    version: int
    user_id: int
    session_version: Optional[int] = None

    def confirm(self, version: Any, session_version: Any) -> None:
        if int(version or 0) != self.version or (
                self.session_version is not None and session_version != self.session_version):
            raise StaleSecurity()


class UnitOfWork:
    def __init__(self, session: Session, actor: Actor, action: str, entity_type: str | None,
                 entity_key: str | None, reason: str | None, payload: dict | None) -> None:
        self.session = session
        self.actor = actor
        self.action = action
        self.entity_type = entity_type
        self.entity_key = entity_key
        self.reason = reason
        self.payload = payload
        self.diff: Optional[dict] = None
        self.refusal_code: Optional[str] = None
        self._extra: list[dict[str, Any]] = []
        self._silent = False
        self._raise_after_commit: Optional[DomainError] = None
        self._connection: Connection | None = None

    def confirm_security(self, version: Any, session_version: Any) -> None:
        """The security version and the actor's session version read in this transaction (columns of
        the hot path's first query, audit.SECURITY_VERSION_COLUMN and SESSION_VERSION_COLUMN) must be
        the ones the request's cached actor stands on (StaleSecurity otherwise)."""
        pending: PendingCheck | None = self.session.info.pop(PENDING_SECURITY, None)
        if pending is not None:
            pending.confirm(version, session_version)

    def raise_after_commit(self, error: DomainError) -> None:
        """Commit what was done, then answer with `error` (e.g. a closeout that created the OQC
        inspection and must tell the caller OQC_REQUIRED)."""
        self._raise_after_commit = error

    def nothing_changed(self) -> None:
        """The use case turned out to be a no-op (e.g. an idempotent repeat): write no event."""
        self._silent = True

    def refused(self, code: str) -> None:
        """The use case recorded a refusal and commits it (e.g. a wrong reel scanned: the scan is kept,
        the slot counts it): its event is audited FAIL with the refusal's code, not SUCCESS."""
        self.refusal_code = code

    def audit(self, action: str, entity_type: str | None, entity_key: str | None, **kwargs: Any) -> None:
        """An additional audit event in this transaction (e.g. a unit moved by a run decision)."""
        self._extra.append({"action": action, "entity_type": entity_type, "entity_key": entity_key,
                            **kwargs})

    @property
    def connection(self) -> Connection:
        """The connection of this unit of work's transaction."""
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection

    def execute(self, statement, params: dict | list[dict] | None = None) -> Result:
        """Run a Core statement on the transaction's connection, past the ORM session's machinery: the
        hot path's statements are built once with bind parameters (services/production/execution.py)."""
        return self.connection.execute(statement, params)

    def lock(self, stmt):
        """Add FOR UPDATE on PostgreSQL (SQLite already holds the database write lock)."""
        if self.connection.dialect.name == "postgresql":
            return stmt.with_for_update()
        return stmt

    def _write_audit(self) -> None:
        if self._silent:
            return
        refused = {"status": "FAIL", "error_code": self.refusal_code} if self.refusal_code else {}
        events = [event_values(self.actor, self.action, self.entity_type, self.entity_key,
                               diff=self.diff, reason=self.reason, payload=self.payload, **refused)]
        for extra in self._extra:
            events.append(event_values(self.actor, extra.pop("action"), extra.pop("entity_type"),
                                       extra.pop("entity_key"), **extra))
        self.connection.execute(INSERT_EVENT, events)  # one statement, however many events


def fetch_one(stmt, missing: DomainError, *, uow: UnitOfWork | None = None):
    """The one entity `stmt` selects — locked for the unit of work `uow` when given (FOR UPDATE on
    PostgreSQL) — or `missing` raised (e.g. RUN_NOT_FOUND)."""
    row = db.session.execute(uow.lock(stmt) if uow is not None else stmt).scalar_one_or_none()
    if row is None:
        raise missing
    return row


def defer_security_check(check: PendingCheck) -> None:
    """The request's actor comes from the process cache and is not checked yet: its unit of work
    confirms it in its own transaction (see the module docstring)."""
    db.session.info[PENDING_SECURITY] = check


def confirm_deferred_security() -> None:
    """Read the versions now if a deferred check is still pending (StaleSecurity when one changed):
    before a unit of work commits, and before a refusal is answered."""
    session = db.session
    pending: PendingCheck | None = session.info.pop(PENDING_SECURITY, None)
    if pending is not None:
        pending.confirm(*session.connection().execute(SECURITY_CHECK, {"actor_id": pending.user_id}).one())


def forget_deferred_security() -> None:
    db.session.info.pop(PENDING_SECURITY, None)


def begin_write_transaction() -> None:
    """Make the session's transaction a write transaction (SQLite: BEGIN IMMEDIATE), unless it is one
    already (begun by `authenticate` for a state-changing request)."""
    session = db.session()  # the scoped session's current Session
    if session.in_transaction() and session.connection().get_execution_options().get(IMMEDIATE):
        return
    # End whatever read transaction the request had open: on SQLite in WAL mode a read transaction
    # cannot be upgraded to a writer once another writer has committed.
    session.rollback()
    session.connection(execution_options={IMMEDIATE: True})


@contextmanager
def unit_of_work(actor: Actor, action: str, entity_type: str | None = None,
                 entity_key: str | None = None, *, reason: str | None = None,
                 payload: dict | None = None) -> Iterator[UnitOfWork]:
    session = db.session
    outer: UnitOfWork | None = session.info.get("uow")
    uow = UnitOfWork(session, actor, action, entity_type, entity_key, reason, payload)
    if outer is not None:
        yield uow
        uow._write_audit()
        return
    begin_write_transaction()
    session.info["uow"] = uow
    session.info["uow_actor"] = actor
    try:
        yield uow
        confirm_deferred_security()
        session.flush()
        uow._write_audit()
        session.commit()
        if uow._raise_after_commit is not None:
            raise uow._raise_after_commit
    except DomainError as error:
        if error is uow._raise_after_commit:
            raise
        session.info.pop("uow", None)
        session.info.pop("uow_actor", None)
        try:
            confirm_deferred_security()  # a refusal by a stale actor is redone, not recorded
        except StaleSecurity:
            session.rollback()
            raise
        session.rollback()
        record_failure(actor, action, entity_type, uow.entity_key or entity_key, error,
                       payload=payload)
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop("uow", None)
        session.info.pop("uow_actor", None)
