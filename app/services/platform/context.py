"""Per-request facts the services need without importing Flask: the request id, the client address
and (for audit hooks outside a unit of work) the acting user. The web layer sets them."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Callable, Optional

from .actor import SYSTEM, Actor

request_id_var: ContextVar[Optional[str]] = ContextVar("mes_request_id", default=None)
client_ip_var: ContextVar[Optional[str]] = ContextVar("mes_client_ip", default=None)

_actor_provider: Optional[Callable[[], Optional[Actor]]] = None


def set_actor_provider(provider: Callable[[], Optional[Actor]]) -> None:
    global _actor_provider
    _actor_provider = provider


def ambient_actor() -> Actor:
    """The actor of the current request if there is one, else SYSTEM (CLI, seed, scripts)."""
    if _actor_provider is not None:
        actor = _actor_provider()
        if actor is not None:
            return actor
    return SYSTEM
