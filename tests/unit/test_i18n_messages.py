"""Issue 17 (zh-CN): the services' sentences (app/services/platform/messages.py `M(...)`) are English for
logs, audit and API clients, and the web layer renders them in the reader's language (app/web/i18n.py
`localize`); every marked template is found by the extraction and translated, keeping its placeholders."""
from __future__ import annotations

import ast
import copy
import pickle
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.services.platform.errors import DomainError
from app.services.platform.messages import M, Message, join_messages, term
from app.web.i18n import error_text, localize, localized

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


def marked_templates() -> set[str]:
    """What `make translations-extract` finds with the keyword M (babel.cfg, Makefile)."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "app"), method_map=[("**.py", "python")], keywords={"M": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def zh_catalogue() -> dict[str, str]:
    with PO.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle, locale="zh") if m.id and m.string and not m.fuzzy}


def test_a_message_is_its_english_sentence_and_keeps_its_template():
    step = M("step {no} ({operation})", no=50, operation="AOI")
    message = M("Unit {sn} is at {step}, which is done at {where}, not at {station}: take it there.",
                sn="SN-1", step=step, where=M("station {station}", station="ST-AOI-01"), station="ST-X")
    assert message == "Unit SN-1 is at step 50 (AOI), which is done at station ST-AOI-01, not at ST-X: take it there."
    assert isinstance(message, str) and type(str(message)) is str
    assert message.template.startswith("Unit {sn} is at {step}") and message.params["step"] is step
    for copied in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert copied == message and copied.template == message.template
    stored = Message.from_json(message.as_json(), "fallback")
    assert stored == message and stored.params["step"].template == "step {no} ({operation})"
    assert Message.from_json(None, "the stored English") == "the stored English"
    assert Message.from_json({"msgid": "gone {x}", "params": {}}, "the stored English") == "the stored English"
    error = DomainError("UNIT_ON_HOLD", M("Unit {sn} is on hold: hand it to quality.", sn="SN-1"))
    assert error.message == str(error) == error.to_dict()["message"] == "Unit SN-1 is on hold: hand it to quality."


def test_localize_renders_the_template_in_the_request_language(app):
    message = M("Unit {sn} is at {step}, which is done at {where}, not at {station}: take it there.",
                sn="SN-1", step=M("step {no} ({operation})", no=50, operation="AOI"),
                where=M("a station of group {group}", group="SMT-A-AOI"), station="ST-X")
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        text = localize(message)
        assert text == "电路板 SN-1 处于工步 50（AOI），该工步在工位组 SMT-A-AOI 的工位完成，而不是在 ST-X：请把它送到那里。"
        assert localize("plain text stays") == "plain text stays" and localize(None) is None
        assert localize(M("Run {status}.", status=term("COMPLETED"))) == "生产批已完工。"
        assert localize(join_messages([M("Cancelled."), "as is"])) == "已取消。; as is"
        data = localized({"nextAction": {"action": "CLOSE", "text": M("Every unit is finished: close the run.")},
                          "items": [M("Scan an SN."), 3, None]})
        assert data == {"nextAction": {"action": "CLOSE", "text": "所有电路板均已完成：请关闭生产批。"},
                        "items": ["请扫描 SN。", 3, None]}
        text, hint = error_text("UNIT_ON_HOLD", M("Unit {sn} is on hold: hand it to quality.", sn="SN-1"))
        assert text == "电路板 SN-1 已被扣留：请交给品质。" and re.search(r"[\u4e00-\u9fff]", hint)
        # a plain (unmarked) service message stays as it is; the catalogue's default is translated
        assert error_text("UNIT_ON_HOLD", "Something in English.")[0] == "Something in English."
    with app.test_request_context("/", headers={"Accept-Language": "en-US"}):
        assert localize(message) == str(message)
        assert localize(M("Run {status}.", status=term("COMPLETED"))) == "Run COMPLETED."
        payload = {"text": message}
        assert localized(payload) is payload  # English: nothing is walked, nothing changes


def test_a_translation_that_breaks_its_placeholders_falls_back_to_english(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert localize(Message("No such template {x} in the catalogue.", {"x": 1})) == \
            "No such template 1 in the catalogue."


def test_every_marked_template_is_a_literal():
    """M's first argument must be a literal string (no f-string, no variable): pybabel extracts only those."""
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "M":
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_every_marked_template_is_extracted_and_translated_with_its_placeholders():
    templates = marked_templates()
    assert "Unit {sn} is on hold: hand it to quality." in templates
    assert "{done} of {planned} planned unit(s) finished: operators build the other {missing} (track in at the " \
           "first step). Close the run only to end it short." in templates
    zh = zh_catalogue()
    missing = sorted(t for t in templates if not zh.get(t))
    assert not missing, f"untranslated (make translations-extract, then translate): {missing}"
    broken = [t for t in templates if sorted(PLACEHOLDER.findall(t)) != sorted(PLACEHOLDER.findall(zh[t]))]
    assert not broken, broken


def test_numbers_follow_the_locale_and_times_keep_one_format(app):
    from datetime import datetime, timezone

    from app.web.i18n import format_number, format_ratio
    from app.web.times import format_datetime

    moment = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    for header in ("zh-CN", "en-US"):
        with app.test_request_context("/", headers={"Accept-Language": header}):
            assert format_number(12345) == "12,345" and format_number(1234.56, 1) == "1,234.6"
            assert format_number(None) == "" and format_number("n/a") == "n/a" and format_number(True) is True
            assert format_ratio(0.953) == "95.3%" and format_ratio(1, 0) == "100%" and format_ratio(None) == "—"
            # GB/T 7408 (ISO 8601) notation in both languages: the decision in app/web/times.py
            assert format_datetime(moment).startswith("2026-07-01 ") and "UTC" in format_datetime(moment)
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        rendered = app.jinja_env.from_string("{{ n|mes_number }} {{ r|mes_percent }} {{ m }}").render(
            n=1500, r=0.5, m=M("Scan an SN."))
        assert rendered == "1,500 50.0% 请扫描 SN。"
