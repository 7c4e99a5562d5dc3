"""Codes the console shows as words in the request's language (`_(code)` in a template, `code_label` in
Python): roles, statuses, sources, types. The code itself stays what is stored, filtered on, exported
and sent over the API; only its label on a screen is translated. Marked here with `N_` so that
`make translations-extract` puts them in the catalogue (a code not listed shows as it is).

Run statuses and Run Detail's phase names are marked in app/views/production.py (RUN_DETAIL_WORDS),
the terminals' statuses in app/web/i18n.py (JS_MESSAGES). The same words name a status inside a service's
sentence (services/platform/messages.py `term`)."""
from __future__ import annotations

from flask_babel import gettext, pgettext

from app.services.platform.text import N_

DATA_SCOPES = (N_("ALL"), N_("LINES"), N_("STATIONS"))  # a role's data scope (Security → Role Scopes)
SCOPE_MODES = (N_("lines"), N_("stations"))  # the home page's "data scope: lines"
WORK_ORDER_STATUSES = (N_("RECEIVED"), N_("RELEASED"), N_("IN_PROGRESS"), N_("COMPLETED"))
SOURCES = (N_("MANUAL"), N_("ERP"), N_("MES"), N_("AUTO"))
UNIT_STATUSES = (N_("QUEUED"), N_("IN_STATION"), N_("OUT_FAILED"), N_("DONE"), N_("SCRAPPED"), N_("ON_HOLD"))
READINESS_STATUSES = (N_("PASSED"), N_("FAILED"), N_("WAIVED"))
INSPECTION_STATUSES = (N_("PENDING"), N_("INSPECTING"), N_("CANCELLED"))
ROUTING_VERSION_STATUSES = (N_("READY"), N_("INVALID"))
AUDIT_STATUSES = (N_("SUCCESS"),)
ACTOR_TYPES = (N_("USER"), N_("SYSTEM"), N_("INTEGRATION"))
INTEGRATION_WORDS = (N_("NEW"), N_("FAILED"), N_("DUPLICATE"), N_("DEGRADED"))
IMPORT_ACTIONS = (N_("CREATE"), N_("UPDATE"), N_("UNCHANGED"), N_("REFUSED"))
MASTER_DATA_CODES = (
    # station types, equipment statuses, IQC results, readiness items, stencil and paste statuses
    N_("AUTO"), N_("BATCH"), N_("TEST"), N_("NORMAL"), N_("DOWN"), N_("MAINTENANCE"), N_("ROUTE"), N_("EQUIPMENT"), N_("MATERIAL"), N_("STENCIL"), N_("SOLDER_PASTE"), N_("LOADING"),
    N_("NOT_READY"), N_("COMPLIANT"), N_("NON_COMPLIANT"), N_("EXPIRED"),
    # data-spec item and data types, limit actions
    N_("KEY"), N_("OBSERVATION"), N_("NUMBER"), N_("TEXT"), N_("BOOLEAN"), N_("ENUM"), N_("JSON"), N_("WARN"),
)

# Flask-AppBuilder's own words that its Chinese catalogue leaves untranslated (the list's buttons)
FAB_WORDS = (N_("Add"), N_("Edit"), N_("Show"), N_("Delete"))


def _words_with_a_context():  # never called: marks the codes whose word depends on where they are shown
    # the roles (Material the role is not Material the column)
    for role in (pgettext("role", "Admin"), pgettext("role", "Planner"), pgettext("role", "Engineer"),
                 pgettext("role", "Quality"), pgettext("role", "Leader"), pgettext("role", "Material"),
                 pgettext("role", "Operator"), pgettext("role", "Manager"), pgettext("role", "Integration"),
                 pgettext("role", "Board")):
        yield role
    # an audit event's outcome (a FAIL there is no failed board), an IQC result (PENDING is no slot's
    # PENDING), an integration message's direction (IN is no TrackIn)
    yield from (pgettext("audit", "FAIL"), pgettext("iqc", "PENDING"), pgettext("iqc", "ACCEPTED"),
                pgettext("iqc", "REJECTED"), pgettext("direction", "IN"), pgettext("direction", "OUT"))


def code_label(value, context: str | None = None) -> str:
    """A code's label on a screen ('' for none); a code not in the catalogue shows as it is. `context`:
    role, audit, iqc or direction, where the same code means something else than elsewhere."""
    if value is None or value == "":
        return ""
    text = str(value)
    if context:
        word = pgettext(context, text)
        if word != text:
            return word
    return gettext(text)


# where an effective routing setting comes from (services/engineering/routing.py EffectiveStep.sources)
CONFIG_SCOPES = {"STEP": N_("step"), "OPERATION": N_("operation"), "ROUTE": N_("route"), "DEFAULT": N_("default"),
                 "NONE": N_("none")}


def scope_label(value) -> str:
    """A config scope (STEP, OPERATION…) as the lower-case word the routing editor shows."""
    if not value:
        return ""
    word = CONFIG_SCOPES.get(str(value))
    return gettext(word) if word else str(value).lower()
