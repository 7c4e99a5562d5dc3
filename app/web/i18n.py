"""The interface's languages (Flask-Babel through Flask-AppBuilder's babel manager).

Which language a request gets, first match wins:
1. `?_l_=<code>` (Flask-AppBuilder's convention for API calls);
2. the user's choice in this session (the navbar's language menu, `/lang/<code>`);
3. the same choice kept in the long-lived `mes_lang` cookie: a line-side terminal stays in its language
   across logout, login and browser restarts;
4. the browser's Accept-Language (any `zh…` tag picks Simplified Chinese);
5. English (BABEL_DEFAULT_LOCALE).

Catalogues: Flask-AppBuilder's own and ours in app/translations, under the same code ("zh": Simplified
Chinese, as FAB names it; ours is merged after FAB's, so ours wins where both translate a string). The
.mo files are compiled from the .po files by `make translations` (a step of `make run` and `make test`);
`compile_catalogues()` does the same at start-up when a .mo is missing or older than its .po (an install
or upgrade without make), and for the test suite (tests/conftest.py).

Error catalogue: the codes stay English and stable; `error_text(code)` gives an entry's message and hint
in the request's language (msgids: the English texts of app/services/platform/errors.py, added to
messages.pot by `make translations-extract`).

JavaScript: `js_catalogue()` is the dictionary of the console scripts' own messages (msgid → text in
the request's language), rendered into every page by base_layout.html and read by `MES.t(key)` in
app/static/mes/common.js.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, gettext

log = logging.getLogger(__name__)

LOCALE_COOKIE = "mes_lang"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"



def N_(text: str) -> str:
    """Marks a msgid for extraction (babel.cfg keyword) without translating it here."""
    return text


# The console scripts' own messages (msgids). A script's message is listed here; MES.t(msgid) in the
# browser shows its translation, or the msgid itself (English, or a message not listed).
JS_MESSAGES = (
    N_("Are you sure?"),
    N_("Working…"),
    N_("The server could not be reached. Check the network cable or Wi-Fi, then try again."),
    N_("Your session has expired. Sign in again."),
    N_("Request refused"),
    N_("What to do:"),
)


def languages() -> dict:
    return current_app.config["LANGUAGES"]


def default_locale() -> str:
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def match_language(header_values: list[str], available) -> str | None:
    """The best of `available` for the Accept-Language tags in order of preference: the exact tag
    (zh-CN ≙ zh_CN), else the first available language of the same primary language (zh-CN, zh-TW,
    zh-Hans-CN → zh; en-US → en)."""
    normalized = {code.lower().replace("_", "-"): code for code in available}
    for tag in header_values:
        tag = tag.strip().lower().replace("_", "-")
        if not tag or tag == "*":
            continue
        if tag in normalized:
            return normalized[tag]
        primary = tag.split("-")[0]
        for norm, code in normalized.items():
            if norm.split("-")[0] == primary:
                return code
    return None


def select_locale() -> str:
    """Flask-Babel's locale selector (replaces Flask-AppBuilder's, which never reads Accept-Language)."""
    if not has_request_context():
        return default_locale()
    available = languages()
    for candidate in (request.args.get("_l_"), session.get("locale"), request.cookies.get(LOCALE_COOKIE)):
        if candidate in available:
            return candidate
    tags = [value for value, quality in request.accept_languages if quality > 0]
    return match_language(tags, available) or default_locale()


def current_locale() -> str:
    """The request's language as configured in LANGUAGES ("en", "zh")."""
    locale = get_locale()
    if locale is None:
        return default_locale()
    for code in languages():
        if Locale.parse(code) == locale:
            return code
    return str(locale)


def html_lang() -> str:
    """The BCP 47 tag for <html lang> (LANGUAGES' "tag": zh → zh-CN)."""
    code = current_locale()
    return languages().get(code, {}).get("tag") or code.replace("_", "-")


def guides_folder() -> str | None:
    """The folder of sop/ holding the guides translated into the request's language (None: English)."""
    return languages().get(current_locale(), {}).get("guides")


def error_text(code: str, message: str | None = None) -> tuple[str, str]:
    """(message, hint) of an error code in the request's language. A service's own message (other than
    the catalogue's default) is kept as it is; the catalogue's default message and the hint are
    translated."""
    from app.services.platform.errors import CATALOGUE

    entry = CATALOGUE.get(code)
    if entry is None:
        return message or code, ""
    text = message if message and message != entry.message else gettext(entry.message)
    return text, gettext(entry.hint)


def js_catalogue() -> dict:
    """msgid → translation of the console scripts' messages, for the request's language."""
    return {text: gettext(text) for text in JS_MESSAGES}


def compile_catalogues(directory: Path = TRANSLATIONS_DIR, force: bool = False) -> list[Path]:
    """Compile every messages.po below `directory` whose .mo is missing or older; returns the written
    .mo files (what `make translations` does with pybabel)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parent.parent.name)
        partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")  # parallel test workers
        with partial.open("wb") as handle:
            write_mo(handle, catalog)
        os.replace(partial, mo_path)
        written.append(mo_path)
    return written


def install(app: Flask) -> None:
    """After AppBuilder.init_app: our locale selector, the cookie that keeps the user's choice, and the
    template globals (mes_locale, mes_html_lang, mes_js_messages)."""
    babel = app.extensions["babel"]
    babel.locale_selector = select_locale
    try:  # normally done by `make translations`; an install or upgrade that skipped it still gets them
        compile_catalogues()
    except OSError as error:
        log.warning("translations could not be compiled (%s): run `make translations` (the interface "
                    "shows English where a .mo file is missing)", error)

    @app.after_request
    def _remember_locale(response):
        # Flask-AppBuilder's /lang/<code> puts the choice in the session; keep it in a cookie as well
        if request.endpoint == "LocaleView.index" and session.get("locale") in languages():
            response.set_cookie(LOCALE_COOKIE, session["locale"], max_age=LOCALE_COOKIE_MAX_AGE,
                                httponly=True, samesite="Lax",
                                secure=bool(app.config.get("SESSION_COOKIE_SECURE")))
        return response

    @app.context_processor
    def _locale_globals():
        if not has_request_context():
            return {}
        return {"mes_locale": current_locale(), "mes_html_lang": html_lang(),
                "mes_js_messages": js_catalogue}
