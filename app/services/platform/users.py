"""User and API-key use cases for the CLI and the seed (the console uses FAB's user screen, audited
by the session hook). Password complexity is checked here: FAB's add_user() does not."""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Optional, Sequence

from flask import current_app
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.models import ApiKey, Role
from flask_appbuilder.validators import default_password_complexity
from sqlalchemy import func, or_, select
from werkzeug.security import generate_password_hash

from ...extensions import db
from ...models import Line, MesUser, Station
from .actor import Actor
from .errors import DomainError
from .uow import unit_of_work


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
    email = spec.email or f"{spec.username}@linemes.local"
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
            raise DomainError("ROLE_NOT_FOUND", f"Unknown role(s): {', '.join(missing) or '(none given)'}.",
                              {"roles": missing})
        lines = session.execute(select(Line).where(Line.code.in_(list(spec.lines)))).scalars().all()
        stations = session.execute(select(Station).where(Station.code.in_(list(spec.stations)))).scalars().all()
        unknown = sorted((set(spec.lines) - {x.code for x in lines}) | (set(spec.stations) - {x.code for x in stations}))
        if unknown:
            raise DomainError("VALIDATION_ERROR", f"Unknown line/station code(s): {', '.join(unknown)}.",
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
        raise DomainError("VALIDATION_ERROR", f"API keys must start with {' or '.join(prefixes)}.")
    raw_key = raw_key or prefixes[0] + secrets.token_urlsafe(32)
    lookup = sm._compute_lookup_hash(raw_key)
    user = find_user(username)
    if user is None:
        raise DomainError("USER_NOT_FOUND", f"No user {username}.")
    existing = db.session.execute(select(ApiKey).where(ApiKey.lookup_hash == lookup)).scalar_one_or_none()
    if existing is not None:
        if existing.user_id != user.id:
            raise DomainError("VALIDATION_ERROR", "This key already belongs to another user.")
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


def unlock_users(*, actor: Actor, usernames: Sequence[str]) -> int:
    """Clear the login lockout of users (Security → List Users → "Unlock login")."""
    with unit_of_work(actor, "USER_UNLOCK", "USER", ",".join(usernames)) as uow:
        unlocked = []
        for username in usernames:
            user = find_user(username)
            if user is None:
                raise DomainError("USER_NOT_FOUND", f"No user {username}.")
            if user.fail_login_count or user.last_failed_login_at:
                unlocked.append({"username": username, "failedCount": user.fail_login_count})
                user.fail_login_count = 0
                user.last_failed_login_at = None
        if not unlocked:
            uow.nothing_changed()
        uow.payload = {"unlocked": unlocked}
    return len(unlocked)
