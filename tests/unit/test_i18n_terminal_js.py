"""Issue 17 (zh-CN): every message the Station Terminal, Loading Terminal, Dashboard and line board scripts
pass to MES.t is listed in JS_MESSAGES (app/web/i18n.py), so it reaches the page's catalogue and has a
Chinese translation; a message missing from the list would show in English on a Chinese screen."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.web.i18n import JS_MESSAGES

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [ROOT / "app" / "static" / "mes" / name
           for name in ("terminal.js", "loading.js", "paste.js", "dashboard.js", "board.js")]
PO = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def first_argument(source: str, start: int) -> str:
    """The text of the first argument of the call whose "(" is at `start`."""
    depth, i, quote = 0, start, None
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return source[start + 1:i]
        elif ch == "," and depth == 1:
            return source[start + 1:i]
        i += 1
    raise AssertionError("unbalanced call")


def messages_of(source: str) -> set[str]:
    """The literal messages passed to t(…): "a" + "b" joined; both branches of a ?: taken."""
    found = set()
    for match in re.finditer(r"\bt\(", source):
        argument = first_argument(source, match.end() - 1)
        for branch in re.split(r"[?:](?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", argument):
            parts = STRING.findall(branch)
            if parts and re.fullmatch(r'\s*"(?:[^"\\]|\\.)*"(?:\s*\+\s*"(?:[^"\\]|\\.)*")*\s*', branch):
                found.add("".join(parts).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_message_is_listed_and_translated(script):
    messages = messages_of(script.read_text(encoding="utf-8"))
    assert len(messages) > 5, messages  # the parser found the script's messages
    missing = sorted(messages - set(JS_MESSAGES))
    assert not missing, f"add to JS_MESSAGES (app/web/i18n.py), then make translations-extract: {missing}"
    with PO.open("rb") as handle:
        zh = {m.id: m.string for m in read_po(handle, locale="zh") if m.id and m.string and not m.fuzzy}
    assert not [m for m in messages if not zh.get(m)]


def test_the_parser_reads_joined_and_conditional_messages():
    source = 'x(t("A " + "b."), t(c ? "Yes %(x)s" : "No", {x: 1}), t(status), t("Step %(no)s", {no: 1}))'
    assert messages_of(source) == {"A b.", "Yes %(x)s", "No", "Step %(no)s"}
