"""Interface words the services name (worklist titles, labels, hints): marked for the translation
catalogue with `N_` (a babel.cfg keyword) and kept English here; the console shows them in the request's
language (`_(text)` in the templates, app/web/i18n.py). Services never translate: they do not know the
request."""
from __future__ import annotations


def N_(text: str) -> str:
    """Marks a msgid for extraction without translating it."""
    return text
