"""Issue 17 (zh-CN): the translation catalogue is complete where it must be and the compiled .mo matches
the .po (`make translations` builds it; the suite's conftest compiles it too); every section id of an
English guide exists in its Chinese translation, so the Help links (guide#anchor) work in both."""
from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.services.platform.errors import CATALOGUE
from app.web.i18n import JS_MESSAGES, compile_catalogues, match_language

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
SOP = ROOT / "sop"


def catalogue():
    with PO.open("rb") as handle:
        return read_po(handle, locale="zh")


def translated(entries) -> dict:
    return {m.id: m.string for m in entries if m.id and m.string and not m.fuzzy}


def test_every_error_code_has_a_chinese_message_and_hint():
    zh = translated(catalogue())
    missing = [f"{code} {kind}" for code, entry in sorted(CATALOGUE.items())
               for kind, text in (("message", entry.message), ("hint", entry.hint))
               if text and not zh.get(text)]
    assert not missing, f"untranslated (make translations-extract, then translate): {missing}"


def test_menu_labels_and_script_messages_are_translated(app):
    zh = translated(catalogue())
    labels = set()
    for item in app.appbuilder.menu.get_list():
        labels.add(str(item.label))
        labels.update(str(child.label) for child in item.childs or [] if child.name != "-")
    import flask_appbuilder
    with (Path(flask_appbuilder.__file__).parent / "translations" / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        fab = translated(read_po(handle))
    assert "Work Orders" in labels and "Production" in labels and "List Users" in labels
    assert not [label for label in labels if not zh.get(label) and not fab.get(label)]
    assert not [text for text in JS_MESSAGES if not zh.get(text)]


def test_no_entry_of_the_catalogue_is_left_untranslated():
    """`make translations-extract` adds the new msgids empty: translate them before committing."""
    untranslated = [m.id for m in catalogue() if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, untranslated


def test_placeholders_survive_translation():
    for message in catalogue():
        if message.id and message.string:
            assert re.findall(r"%\(\w+\)s", message.id) == re.findall(r"%\(\w+\)s", message.string), message.id


def test_compiled_catalogue_matches_the_po(tmp_path):
    compile_catalogues()
    with (PO.with_suffix(".mo")).open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    assert compiled == translated(catalogue())


def test_accept_language_matching():
    available = ["en", "zh"]
    assert match_language(["zh-CN"], available) == "zh"
    assert match_language(["zh-Hans-CN"], available) == "zh"
    assert match_language(["ZH_tw"], available) == "zh"
    assert match_language(["en-US"], ["en", "zh_CN"]) == "en" and match_language(["zh-cn"], ["en", "zh_CN"]) == "zh_CN"
    assert match_language(["de", "en-GB"], available) == "en"
    assert match_language(["de", "*"], available) is None


GUIDES = sorted(path.stem for path in (SOP / "zh_CN").glob("*.md"))


def section_ids(path: Path) -> set[str]:
    html = markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables", "attr_list", "toc"])
    return set(re.findall(r'<h[1-6][^>]* id="([^"]+)"', html))


def test_the_eight_role_guides_are_translated():
    assert {"operator", "material", "leader", "planner", "quality", "engineer", "manager", "admin"} <= set(GUIDES)


@pytest.mark.parametrize("guide", GUIDES)
def test_every_section_id_of_the_english_guide_exists_in_the_translation(guide):
    english, chinese = section_ids(SOP / f"{guide}.md"), section_ids(SOP / "zh_CN" / f"{guide}.md")
    assert english, guide
    assert not sorted(english - chinese), f"sop/zh_CN/{guide}.md lacks these section ids"
    # the translation's images and links point where the English guide's do
    english_refs = set(re.findall(r"\]\(([^)#][^)]*)\)", (SOP / f"{guide}.md").read_text(encoding="utf-8")))
    chinese_refs = set(re.findall(r"\]\(([^)#][^)]*)\)", (SOP / "zh_CN" / f"{guide}.md").read_text(encoding="utf-8")))
    assert english_refs <= chinese_refs, sorted(english_refs - chinese_refs)
