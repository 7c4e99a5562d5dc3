"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200): where the spec asks for a signature —
signing an FAI, an OQC decision, an MRB decision, a readiness waiver — the signer re-enters their
password, and the signature is recorded with its meaning, the signer (username and printed name), the
time and the record it signs, in the transaction of the signed change and audited with it.

    signer = signatures.verify(actor, password, action="FAI_SIGN", entity=("INSPECTION", "12"))
    with unit_of_work(...) as uow:
        ...                                            # the rules; the change
        signatures.record(uow, signer, meaning="FAI approved", entity=("INSPECTION", "12"), run=run)

`verify` runs before the unit of work: a wrong password changes nothing but the signer's failed-sign-in
count (it counts toward the login lockout, security/manager.py) and an audited SIGNATURE_FAILED event,
committed on their own; a locked account cannot sign. Only `record` writes a signature, and only with
the `Signer` that `verify` returned.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash

from ...extensions import db
from ...models import ElectronicSignature, MesUser
from .actor import Actor
from .audit import write_event
from .clock import now
from .context import request_id_var
from .errors import DomainError, StaleSecurity
from .uow import UnitOfWork, begin_write_transaction, confirm_deferred_security
from .users import locked_until, lockout_policy


@dataclass(frozen=True)
class Signer:
    """A person whose password was just verified (only `verify` makes one)."""
    user_id: int
    username: str
    full_name: str


def _locked(user: MesUser) -> bool:
    """Locked out of signing in (users.locked_until: the one lockout rule): a locked account cannot sign
    either."""
    return locked_until(user) is not None


def _refuse(actor: Actor, action: str, entity: tuple[str, str], error: DomainError, *, count_failure: bool) -> None:
    """Audit the refused signature in its own short transaction — with, for a wrong password, one more
    failed sign-in on the signer's account (a plain UPDATE, like a failed login: no security-version
    bump) — then raise `error`."""
    session = db.session
    begin_write_transaction()
    try:
        confirm_deferred_security()  # a refusal by a stale actor is redone, not recorded
    except StaleSecurity:
        session.rollback()
        raise
    table = MesUser.__table__
    if count_failure:
        session.execute(update(table).where(table.c.id == actor.user_id).values(
            fail_login_count=func.coalesce(table.c.fail_login_count, 0) + 1, last_failed_login_at=now()))
    write_event(session, actor, "SIGNATURE_FAILED", entity[0], entity[1], status="FAIL", error_code=error.code,
                payload={"action": action, "message": error.message})
    session.commit()
    raise error


def verify(actor: Actor, password: Any, *, action: str, entity: tuple[str, str]) -> Signer:
    """The signer re-enters their password (`SIGNATURE_REQUIRED` when none is given): a person's account
    (`SIGNATURE_INVALID` for the system or an unknown user), not locked (`SIGNATURE_LOCKED`), the right
    password (`SIGNATURE_INVALID`: audited, counts toward the lockout). `action` and `entity` name what
    was to be signed, for the audit of a refusal."""
    if not isinstance(password, str) or not password:
        raise DomainError("SIGNATURE_REQUIRED", "This action is an electronic signature: enter your password "
                          "to sign.", {"fields": {"password": "required"}})
    user = db.session.get(MesUser, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.is_active or actor.actor_type != "USER":  # not the system, not an API key
        error = DomainError("SIGNATURE_INVALID", "Only a person signed in with their own account can sign.")
        if user is None:
            raise error
        _refuse(actor, action, entity, error, count_failure=False)  # an API key's or inactive user's attempt
    if _locked(user):
        _refuse(actor, action, entity, DomainError(
            "SIGNATURE_LOCKED", f"Account {user.username} is locked after repeated wrong passwords: nothing was "
            f"signed. Wait {lockout_policy()[1]} minutes, or ask the line leader or an administrator to unlock it."),
            count_failure=False)
    if not user.password or not check_password_hash(user.password, password):
        _refuse(actor, action, entity, DomainError(
            "SIGNATURE_INVALID", "The password is not correct: nothing was signed. Type your own password "
            "again (repeated wrong passwords lock the account)."), count_failure=True)
    full_name = " ".join(x for x in (user.first_name, user.last_name) if x and x != "-") or user.username
    return Signer(user_id=user.id, username=user.username, full_name=full_name)


def record(uow: UnitOfWork, signer: Signer, *, meaning: str, entity: tuple[str, str], run=None,
           remark: Optional[str] = None, at: Optional[datetime] = None) -> ElectronicSignature:
    """Write the signature of `signer` with its `meaning` on the record `entity` (type, key) in the unit
    of work's transaction, and its audit event (E_SIGNATURE on the run, so the run's trail shows it)."""
    if not isinstance(signer, Signer):
        raise TypeError("a Signer from signatures.verify is needed")
    signature = ElectronicSignature(signed_at=at or now(), signer_id=signer.user_id, signer_username=signer.username,
                                    signer_name=signer.full_name, meaning=meaning, entity_type=entity[0],
                                    entity_key=str(entity[1]), run_id=run.id if run is not None else None,
                                    remark=remark or None, request_id=request_id_var.get())
    uow.session.add(signature)
    uow.session.flush()
    table = MesUser.__table__  # a good password ends the run of wrong ones, as a sign-in does (FAB)
    uow.session.execute(update(table).where(table.c.id == signer.user_id, table.c.fail_login_count > 0)
                        .values(fail_login_count=0))
    on_type, on_key = ("RUN", run.run_no) if run is not None else entity
    uow.audit("E_SIGNATURE", on_type, on_key, reason=remark or None,
              payload={"signatureId": signature.id, "meaning": meaning, "signer": signer.username,
                       "signerName": signer.full_name, "signs": f"{entity[0]} {entity[1]}"})
    return signature


def signature_to_dict(signature: ElectronicSignature) -> dict[str, Any]:
    return {"id": signature.id, "meaning": signature.meaning, "signedBy": signature.signer_username,
            "signerName": signature.signer_name, "signedAt": signature.signed_at.isoformat(),
            "entityType": signature.entity_type, "entityKey": signature.entity_key, "remark": signature.remark}


def signatures_of_run(run_id: int, entity_type: str) -> list[dict[str, Any]]:
    """The signatures on a run's records of one entity type, oldest first."""
    rows = db.session.execute(select(ElectronicSignature).where(
        ElectronicSignature.run_id == run_id, ElectronicSignature.entity_type == entity_type)
        .order_by(ElectronicSignature.id)).scalars()
    return [signature_to_dict(row) for row in rows]


def signatures_of(entity_type: str, entity_keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The signatures on these records (one entity type), oldest first, by entity key."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not entity_keys:
        return out
    rows = db.session.execute(select(ElectronicSignature).where(
        ElectronicSignature.entity_type == entity_type,
        ElectronicSignature.entity_key.in_([str(k) for k in entity_keys]))
        .order_by(ElectronicSignature.id)).scalars()
    for row in rows:
        out.setdefault(row.entity_key, []).append(signature_to_dict(row))
    return out
