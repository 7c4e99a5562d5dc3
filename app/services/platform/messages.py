"""The services' sentences for people, translatable without the services knowing the web or a request.

A service writes a sentence shown to users as `M("Unit {sn} is on hold: hand it to quality.", sn=sn)`:

- the result, a `Message`, IS the English sentence (a `str`: "Unit SN-1 is on hold: hand it to quality."),
  so logs, the audit trail, an API client that asks for no language and every test comparing the text
  see English exactly as before;
- it also keeps its template (the msgid) and its parameters, so the web layer can render it in the
  request's language: `app.web.i18n.localize()` translates the template with gettext and fills in the
  parameters (which may be Messages themselves: "at {step}" with step = M("step {no} ({op})", ...)).
  The web layer does it at three places only: the error envelope, flash and error page
  (`error_text`, from DomainError.message), every JSON body of the API (`api.base.ok`) and every
  `{{ … }}` of a console template (Jinja's finalize hook).

Templates use `{name}` placeholders (str.format) and must be literal strings, so that
`make translations-extract` finds them (pybabel keyword `M`, babel.cfg/Makefile); a translation keeps
every placeholder of its msgid (tests/unit/test_i18n_messages.py). Parameters are values (SNs, codes,
numbers) or Messages, never already-joined English phrases that would need a translation.

Sentences stored in the database (a readiness item's fail reason) keep their English text in their
column and the template + parameters beside it (`as_json` / `from_json`), so a screen can still show
them in the reader's language.

Plain strings stay valid everywhere a Message is: whatever is not marked is shown as it is (English).
What is not marked yet is listed in app/translations/README.md ("Still plain English").
"""
from __future__ import annotations

from typing import Any, Optional


class Message(str):
    """An English sentence (the str value) that carries its msgid `template` and its `params`."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: Optional[dict[str, Any]] = None) -> "Message":
        params = dict(params or {})
        message = super().__new__(cls, template.format(**params))
        message.template, message.params = template, params
        return message

    def __reduce__(self):  # copy/pickle keep the template (str's own reduction would drop it)
        return (Message, (self.template, self.params))

    def as_json(self) -> dict[str, Any]:
        """The template and its parameters as JSON (nested Messages too), to store beside the English."""
        return {"msgid": self.template,
                "params": {k: v.as_json() if isinstance(v, Message) else v for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Any, english: Optional[str] = None) -> Optional[str]:
        """The Message stored by `as_json`; `english` (the stored text) when there is none or it does not
        render (a template changed since)."""
        if not isinstance(data, dict) or not isinstance(data.get("msgid"), str):
            return english
        params = {k: cls.from_json(v, None) if isinstance(v, dict) else v
                  for k, v in (data.get("params") or {}).items()}
        try:
            message = cls(data["msgid"], params)
        except (KeyError, IndexError, ValueError):
            return english
        return message


def M(template: str, **params: Any) -> Message:
    """Marks a sentence for translation (pybabel keyword `M`) and fills in its parameters: the English
    Message. Literal braces are written `{{` `}}` as in str.format."""
    return Message(template, params)


def join(items, separator: str = ", ") -> str:
    """A list inside a sentence ("1-01, 1-02"): codes joined, the same in every language."""
    return separator.join(str(item) for item in items)


def term(code: Optional[str]) -> Optional[str]:
    """A status or kind code inside a sentence ("Run {run} is {status}"): English shows the code itself; a
    language whose catalogue translates the code (statuses are msgids of the screens, `_(run.status)`)
    shows its word."""
    return Message(code.replace("{", "{{").replace("}", "}}")) if code else code


def join_messages(parts, separator: str = "; ") -> Message:
    """Sentences (Messages or plain text) joined into one Message, each part rendered in the reader's
    language: "LOADING: material loads …; STENCIL: the line leader binds …"."""
    parts = list(parts)
    template = separator.replace("{", "{{").replace("}", "}}").join(f"{{p{n}}}" for n in range(len(parts)))
    return Message(template, {f"p{n}": part for n, part in enumerate(parts)})
