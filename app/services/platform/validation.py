"""Input rules every context shares: a reason where one is required, and the one shape of a
record refused field by field."""
from __future__ import annotations

from typing import Optional

from .errors import DomainError
from .messages import M, join_messages
from .inputs import field_details


def required_reason(reason: Optional[str], action: str) -> str:
    """The reason, stripped; REASON_REQUIRED when there is none (`action`: "revoking the authorization")."""
    text = (reason or "").strip()
    if not text:
        raise DomainError("REASON_REQUIRED", M("Give the reason for {action}.", action=action),
                          {"fields": {"reason": "required"}})
    return text


def fields_error(errors: dict[str, str]) -> DomainError:
    """VALIDATION_ERROR listing the fields: the one shape of a refused record (forms show each
    message on its field; a field that broke the input discipline also has its code in `codes`)."""
    problems = join_messages(M("{field}: {problem}", field=k, problem=v) for k, v in errors.items())
    return DomainError("VALIDATION_ERROR", M("Some fields are not valid: {fields}", fields=problems),
                       field_details(errors))
