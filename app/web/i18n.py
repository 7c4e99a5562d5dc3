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

Exports: `export_locale()` says in which language a CSV/XLSX file's headers are written (the console's
files in the user's language, the API's in English unless `lang` is asked); `in_export_language(text)`
translates one header.

Error catalogue: the codes stay English and stable; `error_text(code)` gives an entry's message and hint
in the request's language (msgids: the English texts of app/services/platform/errors.py, added to
messages.pot by `make translations-extract`).

The services' own sentences (refusals, Run Detail's next action and phases, readiness reasons, the
terminals' answers) are `Message`s (app/services/platform/messages.py: English str + template + params,
marked with `M(...)`). `localize(value)` renders one in the request's language; it is applied at the
web layer's three exits: `error_text` (API error envelope, flash, error page), `localized(data)` (every
API JSON body, api/base.py `ok`) and Jinja's finalize (every `{{ … }}` of a console template). A value
that is not a Message is returned as it is.

Numbers: the Jinja filters `mes_number` (counts, quantities: Babel's format_decimal, digit grouping of
the request's locale: 12,345 / 12,345.6) and `mes_percent` (a ratio 0.953 → "95.3%": format_percent) on
the console screens; the charts (Chart.js) take the page's <html lang> as their locale. Dates and times:
app/web/times.py (one ISO-like format in every language, the decision is written there).

JavaScript: `js_catalogue()` is the dictionary of the console scripts' own messages (msgid → text in
the request's language), rendered into every page by base_layout.html and read by `MES.t(key)` in
app/static/mes/common.js.
"""
from __future__ import annotations

import logging
import os
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal, format_percent
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import force_locale, get_locale, gettext

from app.services.platform.text import N_  # marks a msgid without translating it here (re-exported)

from app.services.platform.messages import Message

log = logging.getLogger(__name__)

LOCALE_COOKIE = "mes_lang"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"



# The console scripts' own messages (msgids). A script's message is listed here; MES.t(msgid) in the
# browser shows its translation, or the msgid itself (English, or a message not listed).
JS_MESSAGES = (
    N_("Are you sure?"),
    N_("Working…"),
    N_("The server could not be reached. Check the network cable or Wi-Fi, then try again."),
    N_("Your session has expired. Sign in again."),
    N_("Request refused"),
    # the SPC chart (spc.js) and the Station Terminal's SPC alarms (terminal.js)
    N_("Dispersion"),
    N_("%(spec)s, rule %(rule)s"),
    N_("ON HOLD"),
    N_("SPC alarm: %(alarms)s."),
    N_("Put the board aside for quality: it stays on hold until quality releases it. Tell your line leader: the process may be drifting."),
    N_("SPC alarm: %(alarms)s. Tell your line leader or quality: the process may be drifting."),
    N_("What to do:"),
    # the Station Terminal's and the Loading Terminal's (terminal.js, loading.js; tests/unit/test_i18n_terminal_js.py
    # checks every message they pass to MES.t is here), and the statuses and results they show (MES.t(status))
    N_(" — forced by %(cause)s"),
    N_("%(count)s sampled board(s)"),
    N_("%(material)s lot %(lot)s is wrong for slot %(slot)s (expected %(expected)s)."),
    N_("%(material)s lot %(lot)s has spent its floor life (moisture-sensitive): take it off the line to be baked."),
    N_("Floor life left: %(hours)s h — plan this reel's replacement."),
    # the Loading Terminal's floor-life panel (loading.js "Moisture-sensitive reels", issue 18)
    N_("sealed (dry pack)"),
    N_("open on the floor"),
    N_("in dry storage"),
    N_("spent"),
    N_("floor life spent"),
    N_("%(hours)s h left"),
    N_("MSL %(level)s"),
    N_("no MSL"),
    N_("No floor-life clock (MSL 1 or none): nothing to record for this reel."),
    N_("Floor life spent: bake the reel before it is used."),
    N_("%(hours)s h of floor life left"),
    N_("State: %(state)s · exposed %(exposure)s h of %(life)s h"),
    N_("Close to the end of its floor life: use it up, or put it into dry storage."),
    N_("Reel %(reel)s: its floor life is below. F8 records an event."),
    N_("%(material)s lot %(lot)s on slot %(slot)s has spent its floor life on the line: replace the reel (Replace mode) and have it baked."),
    N_("%(reel)s recorded as opened: its floor-life clock runs."),
    N_("%(reel)s recorded into dry storage: its clock is paused."),
    N_("%(reel)s recorded out of dry storage: its clock runs again."),
    N_("%(reel)s recorded as baked: its floor life starts again from zero."),
    N_("Record that %(reel)s was baked (J-STD-033)? Its exposure goes back to zero: only after a real bake."),
    N_("Opened"),
    N_("Into dry storage"),
    N_("Out of dry storage"),
    N_("Baked"),
    N_("%(scan)s is not a slot of this run's table: scan the slot label first."),
    N_("%(scan)s was not taken: finish %(sn)s first (PASS = scan it again, FAIL, or Esc to leave it tracked in here), then scan %(scan)s again."),
    N_("%(scan)s was not taken: finish %(sn)s first (PASS, FAIL, or Esc to leave it tracked in here), then scan %(scan)s again."),
    N_("%(slot)s unlocked: %(reason)s"),
    N_("%(sn)s is this board's SN."),
    N_("(MANUAL)"),
    N_("(choose the run for new boards…)"),
    N_("(limits %(lsl)s–%(usl)s)"),
    N_("(no active run)"),
    N_(". Enter the values, then PASS or FAIL."),
    N_(". No data: scan it again (or Enter) = PASS, F9 = FAIL."),
    N_("Checking %(sn)s…"),
    N_("DONE — the board has finished its route"),
    N_("ERROR"),
    N_("FAI trial"),
    N_("FAIL"),
    N_("FINISH FIRST"),
    N_("Failed scans in a row: %(count)s of 3."),
    N_("IN"),
    N_("It was scanned into the %(field)s field, which is cleared."),
    N_("It was scanned into the %(field)s field, which keeps what was typed before it (%(typed)s)."),
    N_("Its TrackOut at this step will be FAIL with this defect."),
    N_("NETWORK"),
    N_("NO RUN"),
    N_("NOT A SLOT"),
    N_("New board %(sn)s: choose the run for new boards at the top, then scan again."),
    N_("No defect code matches “%(term)s”."),
    N_("No slot table yet: press “Load slot table”."),
    N_("Nothing was recorded for this scan: scan the board again after signing in."),
    N_("PASS"),
    N_("Pick a defect code first: type part of its code or name, then ↓/↑."),
    N_("Put the board aside for quality (disposition)."),
    N_("REASON"),
    N_("Ready."),
    N_("Recorded for %(sn)s."),
    N_("Recording %(result)s for %(sn)s…"),
    N_("Recording the %(type)s result…"),
    N_("Replace mode: type the reason, then scan the slot and the new reel."),
    N_("Run %(run)s is COMPLETED: all its boards are finished."),
    N_("Run %(run)s is finished and waits for OQC: quality inspects %(boards)s. Keep the boards of this run together."),
    N_("Run %(run)s is not completed yet (%(code)s)"),
    N_("SCAN, NOT A VALUE"),
    N_("SERVER ERROR"),
    N_("SIGNED OUT"),
    N_("Scan ignored: wait for the answer, then scan again."),
    N_("Scan the reel for slot %(slot)s"),
    N_("Scan the slot"),
    N_("Sign in"),
    N_("Slot %(slot)s expects %(material)s (or %(alternates)s): scan the reel."),
    N_("Slot %(slot)s expects %(material)s: scan the reel."),
    N_("Slot %(slot)s is now LOCKED: call the line leader."),
    N_("Slot %(slot)s loaded with %(material)s lot %(lot)s (already loaded: nothing changed)."),
    N_("Slot %(slot)s loaded with %(material)s lot %(lot)s."),
    N_("Slot %(slot)s loaded with the approved alternate %(material)s lot %(lot)s."),
    N_("Slot %(slot)s unlocked: scan the slot and the right reel."),
    N_("Slot table loaded: scan the first slot."),
    N_("Something went wrong on this screen. Press F5 and scan again."),
    N_("Step %(no)s"),
    N_("Still working on the last scan — scan again in a moment."),
    N_("The answer from the server was cut off. Scan the board again."),
    N_("The server (or a proxy in between) answered with an error%(http)s instead of a result. Scan the board again: the terminal then shows whether it was recorded. If it repeats, call IT."),
    N_("The server cannot be reached. Check the network cable or Wi-Fi, then scan again."),
    N_("The server cannot be reached: check the network, then scan again."),
    N_("Type the %(field)s value, then Enter."),
    N_("Type why slot %(slot)s may be unlocked."),
    N_("Type why the reel is replaced first."),
    N_("Unexpected answer from the server."),
    N_("Unit %(sn)s is already tracked in at %(station)s (step %(step)s): track it out there first."),
    N_("Unlock"),
    N_("Unlock reason for slot %(slot)s"),
    N_("WARNING"),
    N_("Warning recorded: %(values)s"),
    N_("Your session has expired — sign in again."),
    N_("Your session has expired: sign in again."),
    N_("closeout pending"),
    N_("is tracked in here —"),
    N_("next: %(step)s"),
    N_("next: %(step)s (after the FAI)"),
    N_("no"),
    N_("not a number"),
    N_("or %(codes)s"),
    N_("out of limit: recorded as a warning"),
    N_("out of limit: the board will FAIL"),
    N_("refused"),
    N_("run %(run)s"),
    N_("step %(no)s"),
    N_("the sampled boards"),
    N_("why unlock?"),
    N_("yes"),
    N_("none"),
    N_("WARN"),
    N_("PREP"), N_("AUTHORIZED"), N_("IN_PROGRESS"), N_("ON_HOLD"), N_("COMPLETED"), N_("PENDING"), N_("LOADED"), N_("MISMATCH"), N_("LOCKED"),
    # the Dashboard's charts and the line board (dashboard.js, board.js: titles, axes, legends, notes)
    N_("Output"), N_("Scrapped"), N_("Plan"), N_("boards"), N_("Queued"), N_("In station"), N_("Failed, waiting"),
    N_("On hold"), N_("No board in work now."), N_("RTY %"), N_("No board was tracked out in this period."),
    N_("Defects"), N_("Cumulative %"), N_("defects"), N_("No defect recorded in this period."),
    N_("%(count)s / h"), N_("no target"), N_("OQC failed"), N_("%(hours)s h"), N_("the board could not be read"),
    N_("This board needs the API key of a Board account: open %(address)s#key=… (ask the administrator)."),
    N_("The server does not answer: retrying every %(seconds)s s."),
    # Loading Terminal, solder-paste panel (static/mes/paste.js)
    N_("%(h)s h %(m)s min"), N_("%(m)s min"),
    N_("No paste windows for this lot (its material sets none)."),
    N_("No thaw start recorded: record when the jar left the refrigerator."),
    N_("Thawing: %(time)s left before the jar may be opened."),
    N_("Open time over: take the paste off the line."),
    N_("Stencil time over: remove the paste and apply fresh paste."),
    N_("Thawed: usable."),
    N_("Usable: %(time)s of open time left."), N_("Usable: %(time)s of stencil time left."),
    N_("No paste is bound to this line."),
    N_("thaw ≥ %(h)s h"), N_("open ≤ %(h)s h"), N_("stencil ≤ %(h)s h"),
    N_("PASTE"), N_("Scan the paste jar's lot first."), N_("Paste %(lot)s may be used."),
    N_("paste %(lot)s refused"), N_("paste %(lot)s checked"), N_("paste %(lot)s: %(what)s %(time)s"),
    N_("Thaw started"), N_("Opened"), N_("On stencil"),
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


def localize(value):
    """A service's Message in the request's language: its template through gettext, then its parameters
    (Messages among them localized too). Anything else is returned unchanged. A translation that lost
    or misspelt a placeholder falls back to the English sentence (never an error page)."""
    if not isinstance(value, Message):
        return value
    params = {name: localize(param) for name, param in value.params.items()}
    try:
        return gettext(value.template).format(**params)
    except (KeyError, IndexError, ValueError):
        log.warning("translation of %r does not fit its parameters: shown in English", value.template)
        return value.template.format(**params)


def localized(data):
    """`data` (dicts, lists, tuples, strings…) with every Message in it localized; in the default
    language (English) `data` itself, untouched."""
    if current_locale() == default_locale():
        return data
    return _localized(data)


def _localized(data):
    if isinstance(data, Message):
        return localize(data)
    if isinstance(data, dict):
        return {key: _localized(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_localized(value) for value in data]
    return data


def error_text(code: str, message: str | None = None) -> tuple[str, str]:
    """(message, hint) of an error code in the request's language. The catalogue's default message, the
    hint and a service's own Message (services/platform/messages.py) are translated; a service's plain
    string is kept as it is (English)."""
    from app.services.platform.errors import CATALOGUE

    entry = CATALOGUE.get(code)
    if entry is None:
        return localize(message) or code, ""
    if isinstance(message, Message):
        text = localize(message)
    else:
        text = message if message and message != entry.message else gettext(entry.message)
    return text, gettext(entry.hint)


def export_locale() -> str:
    """The language of an export's column headers and sheet titles (app/web/export.py): a file downloaded
    from a console screen follows the user's language (a plant's Excel users read their own words); the
    API's files keep stable English headers, which integrations and scripts parse, unless the call asks for
    a language with `?lang=<code>` (e.g. `lang=zh`). The cells keep their codes and numbers either way."""
    if not has_request_context():
        return default_locale()
    if request.path.startswith("/api/"):
        asked = request.args.get("lang")
        return asked if asked in languages() else default_locale()
    return current_locale()


def in_export_language(text: str) -> str:
    """A column header or sheet title (an N_-marked msgid) in the export's language (export_locale)."""
    locale = export_locale()
    if locale == default_locale():
        return text
    with force_locale(locale):
        return gettext(text)


def _babel_locale() -> Locale:
    return get_locale() or Locale.parse(default_locale())


def _pattern(digits: int | None, suffix: str = "") -> str | None:
    if digits is None:
        return None
    return ("#,##0." + "0" * digits if digits > 0 else "#,##0") + suffix


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def format_number(value, digits: int | None = None) -> str:
    """A count or quantity in the request's locale (`mes_number`): 12,345; `digits` fixes the decimals
    (12,345.6 with 1). None is blank; anything that is not a number is shown as it is."""
    if value is None:
        return ""
    if not _is_number(value):
        return value
    return format_decimal(value, format=_pattern(digits), locale=_babel_locale())


def format_ratio(value, digits: int = 1) -> str:
    """A ratio as a percentage in the request's locale (`mes_percent`): 0.953 → "95.3%"; None → "—"."""
    if value is None:
        return "—"
    if not _is_number(value):
        return value
    return format_percent(value, format=_pattern(digits, "%"), locale=_babel_locale())


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

    # every {{ … }} of a console template shows a service's Message in the reader's language
    app.jinja_env.finalize = localize
    app.jinja_env.filters["mes_number"] = format_number
    app.jinja_env.filters["mes_percent"] = format_ratio

    @app.context_processor
    def _locale_globals():
        if not has_request_context():
            return {}
        return {"mes_locale": current_locale(), "mes_html_lang": html_lang(),
                "mes_js_messages": js_catalogue}
