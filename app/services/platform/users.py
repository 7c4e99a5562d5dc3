"""User and API-key use cases for the CLI and the seed (the console uses FAB's user screen, audited
by the session hook), the login lockout and its unlock, and the stored form of "no e-mail".
Password complexity is checked here: FAB's add_user() does not."""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional, Sequence

from flask import current_app
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.models import ApiKey, Role
from flask_appbuilder.validators import default_password_complexity
from sqlalchemy import func, or_, select
from werkzeug.security import generate_password_hash

from ...extensions import db
from ...models import Line, MesUser, Station
from . import inputs
from .actor import Actor
from .clock import now
from .errors import DomainError
from .messages import M, join
from .scope import require_permission
from .uow import unit_of_work
from .validation import fields_error


def check_password(password: str) -> None:
    """The password policy (FAB_PASSWORD_COMPLEXITY_VALIDATOR if configured, else FAB's default:
    2 capitals, 3 lower-case, 2 digits, a special character, length ≥ 10)."""
    validator = current_app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR") or default_password_complexity
    try:
        validator(password or "")
    except PasswordComplexityValidationError as exc:
        raise DomainError("PASSWORD_TOO_WEAK", str(exc)) from None


def generate_password() -> str:
    """A random password that satisfies the default policy."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(12))
    return ("".join(secrets.choice(string.ascii_uppercase) for _ in range(2)) + core
            + "".join(secrets.choice(string.digits) for _ in range(2)) + "-"
            + "".join(secrets.choice(string.ascii_lowercase) for _ in range(3)))


def _hash(password: str) -> str:
    return generate_password_hash(
        password, method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def find_user(username: str) -> Optional[MesUser]:
    return db.session.execute(
        select(MesUser).where(func.lower(MesUser.username) == username.lower())
    ).scalar_one_or_none()


@dataclass
class UserSpec:
    username: str
    password: str
    roles: Sequence[str]
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    lines: Sequence[str] = ()
    stations: Sequence[str] = ()


def create_user(*, actor: Actor, spec: UserSpec) -> MesUser:
    """Create a user with roles and line/station bindings (`flask mes create-user`, seed)."""
    check_password(spec.password)
    email = stored_email(spec.username, spec.email)
    with unit_of_work(actor, "USER_CREATE", "USER", spec.username) as uow:
        session = uow.session
        clash = session.execute(select(MesUser.id).where(or_(
            func.lower(MesUser.username) == spec.username.lower(),
            func.lower(MesUser.email) == email.lower()))).first()
        if clash is not None:
            raise DomainError("USERNAME_DUPLICATE", details={"username": spec.username, "email": email})
        roles = session.execute(select(Role).where(Role.name.in_(list(spec.roles)))).scalars().all()
        missing = sorted(set(spec.roles) - {r.name for r in roles})
        if missing or not roles:
            raise DomainError("ROLE_NOT_FOUND", (M("Unknown role(s): {roles}.", roles=join(missing)) if missing
                                                else M("Unknown role(s): (none given).")),
                              {"roles": missing})
        lines = session.execute(select(Line).where(Line.code.in_(list(spec.lines)))).scalars().all()
        stations = session.execute(select(Station).where(Station.code.in_(list(spec.stations)))).scalars().all()
        unknown = sorted((set(spec.lines) - {x.code for x in lines}) | (set(spec.stations) - {x.code for x in stations}))
        if unknown:
            raise DomainError("VALIDATION_ERROR", M("Unknown line/station code(s): {codes}.", codes=join(unknown)),
                              {"fields": {"bindings": unknown}})
        user = MesUser(username=spec.username, first_name=spec.first_name or spec.username.capitalize(),
                       last_name=spec.last_name or "-", email=email, active=True,
                       password=_hash(spec.password))
        user.roles = list(roles)
        user.lines = list(lines)
        user.stations = list(stations)
        session.add(user)
        uow.diff = {"after": {"roles": sorted(spec.roles), "lines": sorted(spec.lines),
                              "stations": sorted(spec.stations), "email": email}}
    return user


def create_api_key(*, actor: Actor, username: str, name: str = "default",
                   raw_key: str | None = None) -> dict:
    """Create an API key for a user and return it once (`flask mes create-api-key USER`). With
    `raw_key` (MES_INTEGRATION_API_KEY) that exact key is stored, hashed; an existing identical key
    is reused (idempotent seed)."""
    sm = current_app.appbuilder.sm
    prefixes = current_app.config.get("FAB_API_KEY_PREFIXES", ["sst_"])
    if raw_key is not None and not any(raw_key.startswith(p) for p in prefixes):
        raise DomainError("VALIDATION_ERROR", M("API keys must start with {prefixes}.", prefixes=join(prefixes, " or ")))
    raw_key = raw_key or prefixes[0] + secrets.token_urlsafe(32)
    lookup = sm._compute_lookup_hash(raw_key)
    user = find_user(username)
    if user is None:
        raise DomainError("USER_NOT_FOUND", M("No user {user}.", user=username))
    existing = db.session.execute(select(ApiKey).where(ApiKey.lookup_hash == lookup)).scalar_one_or_none()
    if existing is not None:
        if existing.user_id != user.id:
            raise DomainError("VALIDATION_ERROR", M("This key already belongs to another user."))
        return {"key": raw_key, "uuid": existing.uuid, "name": existing.name, "created": False}
    user_id = user.id
    with unit_of_work(actor, "API_KEY_CREATE", "API_KEY", f"{username}:{name}") as uow:
        key = ApiKey(name=name, key_hash=generate_password_hash(
            raw_key, method=current_app.config.get("FAB_API_KEY_HASH_METHOD",
                                                   current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"))),
            lookup_hash=lookup, key_prefix=next(p for p in prefixes if raw_key.startswith(p)),
            user_id=user_id, active=True)
        uow.session.add(key)
        uow.session.flush()
        uow.diff = {"after": {"user": username, "name": name, "uuid": key.uuid}}
        result = {"key": raw_key, "uuid": key.uuid, "name": name, "created": True}
    return result


# ---------------------------------------------------------------------------------------------
# E-mail: optional for LineMES, but Flask-AppBuilder's ab_user.email is NOT NULL and UNIQUE.
# ---------------------------------------------------------------------------------------------

NO_EMAIL_DOMAIN = "users.invalid"  # RFC 2606: `.invalid` never resolves, so nothing is ever sent there


def stored_email(username: str, email: str | None) -> str:
    """The value stored for a user's e-mail: the address given, or — for a user without one — the
    placeholder `<username>@users.invalid`. An empty string would collide between two users without
    e-mail (the column is unique); the placeholder is unique because the username is, and names an
    address that cannot exist. The screens show it as blank (`shown_email`)."""
    email = (email or "").strip()
    if email and not is_placeholder_email(email):
        return email
    return f"{username}@{NO_EMAIL_DOMAIN}"


def is_placeholder_email(email: str | None) -> bool:
    return bool(email) and email.lower().endswith("@" + NO_EMAIL_DOMAIN)


def shown_email(email: str | None) -> str:
    """A stored e-mail as people read it: blank for the no-e-mail placeholder."""
    return "" if not email or is_placeholder_email(email) else email


def email_taken(email: str | None, *, user_id: int | None = None) -> bool:
    """Does another user have this e-mail (case-insensitively)? Blank is never taken (the placeholder)."""
    email = (email or "").strip()
    if not email or is_placeholder_email(email):
        return False
    stmt = select(MesUser.id).where(func.lower(MesUser.email) == email.lower())
    if user_id is not None:
        stmt = stmt.where(MesUser.id != user_id)
    return db.session.execute(stmt).first() is not None


# ---------------------------------------------------------------------------------------------
# Login lockout (MES_LOGIN_LOCKOUT_FAILURES failed sign-ins in a row lock the account for
# MES_LOGIN_LOCKOUT_MINUTES after the last one). FAB counts the failures in ab_user.fail_login_count
# (reset by a successful sign-in); we store the time of the last one in ab_user.last_failed_login_at.
# ---------------------------------------------------------------------------------------------

def lockout_policy() -> tuple[int, int]:
    """(failed sign-ins that lock, minutes the lock lasts after the last one)."""
    return (int(current_app.config.get("MES_LOGIN_LOCKOUT_FAILURES", 5)),
            int(current_app.config.get("MES_LOGIN_LOCKOUT_MINUTES", 5)))


def locked_until(user: MesUser, at: datetime | None = None) -> datetime | None:
    """When the user's login lock ends, or None when the user is not locked (now, or at `at`)."""
    limit, minutes = lockout_policy()
    last = user.last_failed_login_at
    if (user.fail_login_count or 0) < limit or last is None:
        return None
    until = last + timedelta(minutes=minutes)
    return until if until > (at or now()) else None


def _is_admin_account(user: MesUser) -> bool:
    admin = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    return any(role.name == admin for role in user.roles)


def _in_unlock_scope(actor: Actor, user: MesUser) -> bool:
    """May the actor unlock this user's account? An administrator: anyone. Anyone else with
    `user:unlock` (the line leader): no administrator account, and — for a scope of LINES or STATIONS
    — only a user bound to one of the actor's lines or stations (an operator at a station of the
    leader's line, a material handler of the leader's line)."""
    if actor.is_admin or actor.actor_type == "SYSTEM":
        return True
    if _is_admin_account(user):
        return False
    if actor.scope.is_all:
        return True
    return any(actor.scope.allows_line(line.id) for line in user.lines) or \
        any(actor.scope.allows_station(station.id, station.line_id) for station in user.stations)


def user_to_dict(user: MesUser, at: datetime | None = None) -> dict:
    until = locked_until(user, at)
    return {"username": user.username, "name": f"{user.first_name} {user.last_name}".strip(),
            "active": bool(user.active), "roles": sorted(r.name for r in user.roles),
            "lines": [x.code for x in user.lines], "stations": [x.code for x in user.stations],
            "failedLogins": user.fail_login_count or 0, "lastFailedLoginAt": _iso(user.last_failed_login_at),
            "locked": until is not None, "lockedUntil": _iso(until)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def locked_users(*, actor: Actor) -> list[dict]:
    """The accounts locked now that the actor may unlock (Security → Locked Accounts,
    `GET /api/v1/users/locked`), the latest lock first."""
    require_permission(actor, "user:unlock")
    limit, _ = lockout_policy()
    at = now()
    candidates = db.session.execute(
        select(MesUser).where(MesUser.fail_login_count >= limit, MesUser.last_failed_login_at.is_not(None))
        .order_by(MesUser.last_failed_login_at.desc(), MesUser.username)).scalars().all()
    return [user_to_dict(u, at) for u in candidates if locked_until(u, at) and _in_unlock_scope(actor, u)]


def unlock_user(*, actor: Actor, username: str, reason: str | None = None) -> dict:
    """Unlock one account (`user:unlock`; the line leader's "Unlock" on Security → Locked Accounts,
    `POST /api/v1/users/{username}/unlock`). Returns the user with `unlocked` (False: nothing to clear)."""
    unlocked = unlock_users(actor=actor, usernames=[username], reason=reason)
    user = find_user(username)
    return {**user_to_dict(user), "unlocked": bool(unlocked)}


def unlock_users(*, actor: Actor, usernames: Sequence[str], reason: str | None = None) -> int:
    """Clear the login lockout (the failed-login counter and time) of users: `user:unlock`, within the
    actor's unlock scope (no administrator account unless the actor is one; a line leader: users of
    their own lines or stations). All or none; one audit event USER_UNLOCK naming the users cleared.
    Returns how many had failed sign-ins to clear."""
    require_permission(actor, "user:unlock")
    reason = (reason or "").strip()
    problem = inputs.text_problem(reason)
    if problem:
        raise fields_error({"reason": inputs.message(problem)})
    with unit_of_work(actor, "USER_UNLOCK", "USER", ",".join(usernames), reason=reason or None) as uow:
        unlocked = []
        for username in usernames:
            user = find_user(username)
            if user is None:
                raise DomainError("USER_NOT_FOUND", M("No user {user}.", user=username), {"username": username})
            if not _in_unlock_scope(actor, user):
                if _is_admin_account(user):
                    raise DomainError("FORBIDDEN", M("{user} is an administrator account: only an administrator can "
                                                     "unlock it.", user=user.username), {"username": user.username})
                raise DomainError("FORBIDDEN", M("{user} works on none of your lines or stations: ask an administrator "
                                                 "to unlock the account.", user=user.username),
                                  {"username": user.username})
            if user.fail_login_count or user.last_failed_login_at:
                unlocked.append({"username": user.username, "failedCount": user.fail_login_count,
                                 "wasLocked": locked_until(user) is not None})
                user.fail_login_count = 0
                user.last_failed_login_at = None
        if not unlocked:
            uow.nothing_changed()
        uow.payload = {"unlocked": unlocked}
    return len(unlocked)
