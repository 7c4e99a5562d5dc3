"""The "no untranslated English" check of the Chinese interface (issue 17), shared by the browser tests
(tests/ui/test_zh_terminals_ui.py: the page's innerText) and the console tests
(tests/api/test_zh_console.py: the rendered HTML's text, placeholders and titles).

What may stay Latin on a Chinese screen: codes and identifiers (SNs, station and run codes, defect and
material codes, units, keys), abbreviations used as such on a Chinese shop floor (ALLOWED), and the plant's
own master data (codes, names and descriptions of stations, operations, specs, defects, materials in
seed/demo.yaml, and the users' full names), which is data, not interface text."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import yaml

SEED = Path(__file__).resolve().parents[1] / "seed" / "demo.yaml"

# Latin words that may stay on a Chinese screen: abbreviations used as such on a Chinese shop floor,
# key names, units, the product's name, the language menu's own entry for English and the SYSTEM actor (who
# bound what, when the seed or an integration did).
ALLOWED = {"SN", "Enter", "Esc", "Tab", "Home", "End", "UTC", "IT", "API", "Wi-Fi", "FAI", "OQC", "SMT", "DIP",
           "SPI", "AOI", "SPC", "LineMES", "English", "SYSTEM", "kg", "µm", "°C", "m/min", "V", "PCS", "mm", "s",
           # the console's: systems and file formats by their names, the standards and sigils a plant uses
           # as they are
           "ERP", "MES", "TPM", "WMS", "MRB", "IQC", "BOM", "MSL", "LSL", "USL", "CSV", "XLSX", "JSON", "SOP",
           "SHA-256", "MiB", "UUID", "J-STD-033", "N/cm²", "N", "cm²", "m", "min", "csv", "xlsx",
           "PRODUCT"}  # the audit filter's example of an entity type, a code typed as it is
ALLOWED |= {"Alt+P", "Alt+T", "Alt+O", "Alt+S"}  # keyboard shortcuts (the Loading Terminal's paste panel)
# FORMAL, the readiness check's kind as Run Detail's button names it ("执行正式（FORMAL）检查") and its next
# action quotes it
ALLOWED.add("FORMAL")
# a code or identifier: has a digit, an underscore, a dash or a bar (ST-DIP-TEST-01, RUN-…-0001,
# FCT_FAIL, MAT-C100N|LOT-C-001, F9, 1-01)
CODE = re.compile(r"^[A-Za-z0-9µ°/+.:|]*[0-9_|-][A-Za-z0-9µ°/+.:|_-]*$")


def master_data_phrases() -> list[str]:
    """Codes, names and descriptions of the demo plant's master data, and its users' full names (longest
    first)."""
    phrases = set()

    def walk(node):
        if isinstance(node, dict):
            if "username" in node:  # a user: the navbar shows the full name
                phrases.add(f"{node.get('first_name', '')} {node.get('last_name', '')}".strip())
                return
            for key, value in node.items():
                if key in ("code", "name", "description", "category", "supplier", "uom") and isinstance(value, str):
                    phrases.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(yaml.safe_load(SEED.read_text(encoding="utf-8")))
    phrases.add("Admin LineMES")  # the administrator the seed creates (seed/loader.py)
    return sorted(phrases, key=len, reverse=True)


PHRASES = master_data_phrases()


def english_words(text: str, username: str = "", data: tuple[str, ...] = (), allowed=()) -> list[str]:
    """The Latin words of `text` that are neither codes nor allowed (ALLOWED and the screen's own
    `allowed`), master data (the signed-in user's name and the test's own `data`: names it typed)
    removed first."""
    for phrase in sorted(PHRASES + [p for p in (username, *data) if p], key=len, reverse=True):
        text = re.sub(r"(?<![A-Za-z0-9_-])" + re.escape(phrase) + r"(?![A-Za-z0-9_-])", " ", text)
    left = []
    # a Chinese character ends a word too: 添加BOM is 添加 and BOM
    for token in re.split(r"[\s,;；·…—–()（）\[\]“”\"'：:。，、？！*=/<>\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", text):
        token = token.strip(".")
        if not re.search(r"[A-Za-z]", token) or token in ALLOWED or token in allowed or CODE.match(token):
            continue
        left.append(token)
    return left


class _Visible(HTMLParser):
    """The text a person reads on a page: the text of <body> outside scripts, styles, <pre> and <code>
    blocks (payloads, snapshots, error codes) and elements marked `translate="no"` (HTML's own mark for
    identifiers that stay as they are: usernames, audit actions, the import files' column names), plus
    the placeholders, titles, option-group labels and confirmation questions of its elements (what the
    browser shows on hover, in an empty field or in a dialog)."""

    SKIP = {"script", "style", "pre", "code", "template", "noscript"}
    ATTRS = ("placeholder", "title", "label", "data-confirm", "aria-label")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.skipped: list[str] = []  # the open skipped elements (their tags), innermost last
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if tag in self.SKIP or ("translate", "no") in attrs:
            self.skipping += 1
            self.skipped.append(tag)
        if self.in_body and not self.skipping:
            self.parts.extend(value for name, value in attrs if name in self.ATTRS and value)

    def handle_endtag(self, tag):
        if self.skipped and self.skipped[-1] == tag:
            self.skipped.pop()
            self.skipping -= 1

    def handle_data(self, data):
        if self.in_body and not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)
