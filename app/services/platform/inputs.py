"""The one input discipline for what people and machines type or send (issue 15), defined once and
applied by the API's marshmallow schemas (`Key`, `Text`, `Number`, `EventTime` fields) and by the
master-data rules of the console, the model API and the import (`master_data.validate_save`).

- **Business keys** (SN, WO and run numbers, codes of products, materials, lines, stations, slots,
  equipment and defect codes, lot numbers, stencil ids, event ids): surrounding whitespace is removed
  (scanners add it), then the key must be 1..N characters (N = the database column's length, per kind
  in `KEY_LENGTHS`) of letters, digits and `- _ . : + #` only. No spaces, no `/` (an SN `A/B` could
  never be traced by URL), no control characters or NUL. The demo data uses letters, digits, `-`, `_`
  and `.` only.
- **Free text** (descriptions, comments, reasons, remarks): at most `TEXT_MAX` (2,000) characters
  (names: the column's 200), no control characters except newline, carriage return and tab.
- **Numbers**: finite and within a range per field (`RANGES`): quantities are whole numbers up to
  1,000,000 boards, stencil tension 0..1,000 N/cm² (real stencils: 25–50), a BOM line's quantity per
  board above 0 and at most 100,000.
- **Event times** from integrations and manual entries (stencil, solder paste, equipment, SPI/AOI):
  not more than `MES_EVENT_MAX_AGE_DAYS` (default 30) before now and not more than
  `MES_EVENT_MAX_FUTURE_MINUTES` (default 10, clock skew between machines) after it. The latest status
  by event time counts (01_domain_model §4): a time far in the future would stay "the latest" for ever.

A refusal is VALIDATION_ERROR (422) naming each field (`details.fields`), with the input code of each
field in `details.codes` (INPUT_INVALID_KEY, INPUT_TOO_LONG, INPUT_INVALID_TEXT, INPUT_OUT_OF_RANGE,
EVENT_TIME_OUT_OF_WINDOW; catalogued with what to do) and at the start of its message.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any, Optional

from marshmallow import ValidationError, fields

from .clock import now
from .messages import M, join

KEY_CHARS = "-_.:+#"
_KEY = re.compile(r"^[^\W_]*$")  # letters and digits (any script), checked after removing KEY_CHARS
KEY_LENGTHS: dict[str, int] = {
    "code": 64, "wo_no": 64, "lot_no": 64, "stencil_id": 64, "equipment_code": 64, "defect_code": 64,
    "run_no": 80, "sn": 80, "slot_code": 32, "event_id": 128, "shift_code": 16, "date_code": 32,
    "sn_prefix": 60,
}
KEY_LABELS = {"sn": M("An SN"), "wo_no": M("A work order number"), "run_no": M("A run number"),
              "lot_no": M("A lot number"), "slot_code": M("A slot code"), "event_id": M("An event id"),
              "stencil_id": M("A stencil id")}
TEXT_MAX = 2000
NAME_MAX = 200
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# (lowest, highest, whole numbers only) per kind of number
RANGES: dict[str, tuple[float, float, bool]] = {
    "quantity": (1, 1_000_000, True),         # planned / run / sample quantities, units to create
    "count": (0, 1_000_000, True),            # counts that may be zero
    "step_no": (1, 100_000, True),
    "priority": (1, 10_000, True),
    "tension": (0, 1_000, False),             # N/cm²; stencils run at 25–50
    "qty_per": (0, 100_000, False),           # a BOM line's quantity per board (> 0 checked by its rule)
    "measurement": (-1e12, 1e12, False),      # a measured value or a spec limit
    "percentage": (0, 100, False),
}

DEFAULT_EVENT_MAX_AGE_DAYS = 30
DEFAULT_EVENT_MAX_FUTURE_MINUTES = 10


def key_problem(value: Any, kind: str = "code") -> Optional[tuple[str, str]]:
    """(code, message) of what is wrong with a business key (already stripped), or None."""
    label = KEY_LABELS.get(kind) or M("A code")
    if not isinstance(value, str) or not value:
        return "INPUT_INVALID_KEY", M("{label} is required.", label=label)
    limit = KEY_LENGTHS.get(kind, 64)
    if len(value) > limit:
        return "INPUT_TOO_LONG", M("{label} has at most {limit} characters ({given} given).", label=label,
                                     limit=limit, given=len(value))
    rest = value
    for char in KEY_CHARS:
        rest = rest.replace(char, "")
    if not _KEY.match(rest):
        return "INPUT_INVALID_KEY", M("{label} uses letters, digits and {chars} only (no spaces, no /, no control "
                                    "characters).", label=label, chars=join(KEY_CHARS, " "))
    return None


def text_problem(value: Any, limit: int = TEXT_MAX, *, single_line: bool = False) -> Optional[tuple[str, str]]:
    """(code, message) of what is wrong with a free text, or None (None and "" are fine)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "INPUT_INVALID_TEXT", M("Must be text.")
    if len(value) > limit:
        return "INPUT_TOO_LONG", M("At most {limit} characters ({given} given): shorten the text.", limit=limit,
                                     given=len(value))
    if (_NAME_CONTROL if single_line else _TEXT_CONTROL).search(value):
        return "INPUT_INVALID_TEXT", (M("Contains control characters: type plain text on one line.") if single_line
                                      else M("Contains control characters: type plain text (line breaks and tabs are fine)."))
    return None


def number_problem(value: Any, kind: str) -> Optional[tuple[str, str]]:
    """(code, message) of what is wrong with a number (None is fine: required-ness is the field's)."""
    if value is None:
        return None
    low, high, whole = RANGES[kind]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "INPUT_OUT_OF_RANGE", M("Must be a finite number.")
    if whole and value != int(value):
        return "INPUT_OUT_OF_RANGE", M("Must be a whole number.")
    if not low <= value <= high:
        return "INPUT_OUT_OF_RANGE", M("Must be from {low} to {high}.", low=f"{low:g}", high=f"{high:g}")
    return None


def event_window() -> tuple[timedelta, timedelta]:
    """(how far back, how far ahead of now) an event time may be: MES_EVENT_MAX_AGE_DAYS,
    MES_EVENT_MAX_FUTURE_MINUTES (config.py)."""
    try:
        from flask import current_app
        config = current_app.config
    except RuntimeError:  # outside an app (a unit test of a helper)
        config = {}
    return (timedelta(days=float(config.get("MES_EVENT_MAX_AGE_DAYS", DEFAULT_EVENT_MAX_AGE_DAYS))),
            timedelta(minutes=float(config.get("MES_EVENT_MAX_FUTURE_MINUTES", DEFAULT_EVENT_MAX_FUTURE_MINUTES))))


def latest_credible_time() -> datetime:
    """The latest event time that counts: a stored event beyond it (recorded before the window was
    enforced) never becomes "the latest status"."""
    return now() + event_window()[1]


def event_time_problem(value: Any) -> Optional[tuple[str, str]]:
    if value is None:
        return None
    back, ahead = event_window()
    current = now()
    if value > current + ahead:
        return "EVENT_TIME_OUT_OF_WINDOW", M("The event time is in the future (more than {span} after the server's time): "
                                           "send when the status really changed, and check the sending machine's "
                                           "clock.", span=_span(ahead))
    if value < current - back:
        return "EVENT_TIME_OUT_OF_WINDOW", M("The event time is more than {span} in the past: send current statuses only, "
                                           "and check the sending machine's clock.", span=_span(back))
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return M("{n} days", n=seconds // 86400)
    return M("{n} minutes", n=seconds // 60)


def message(problem: tuple[str, str]) -> str:
    """A field's message: its input code first, then what to do."""
    return M("{code}: {problem}", code=problem[0], problem=problem[1])


_CODED = re.compile(r"^(INPUT_[A-Z_]+|EVENT_TIME_OUT_OF_WINDOW): ")


def codes_of(messages: Any) -> dict[str, str]:
    """The input codes of marshmallow's field messages (`{field: [message]}`, nested for lists)."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            for v in value:
                walk(prefix, v)
        elif isinstance(value, str):
            match = _CODED.match(value)
            if match and prefix not in out:
                out[prefix] = match.group(1)
    walk("", messages)
    return out


def field_details(messages: Any) -> dict[str, Any]:
    """The envelope's details of refused fields: `fields` (marshmallow's messages) and, where a field
    broke the input discipline, `codes` (field → INPUT_… / EVENT_TIME_OUT_OF_WINDOW)."""
    details: dict[str, Any] = {"fields": messages}
    codes = codes_of(messages)
    if codes:
        details["codes"] = codes
    return details


# ---------------------------------------------------------------------------------------------
# marshmallow fields
# ---------------------------------------------------------------------------------------------

class Key(fields.String):
    """A business key of `kind` (see KEY_LENGTHS): stripped, then checked."""

    def __init__(self, kind: str = "code", **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        problem = key_problem(text, self.kind)
        if problem:
            raise ValidationError(message(problem))
        return text


class Text(fields.String):
    """A free text (at most `limit` characters, no control characters but line breaks and tabs)."""

    def __init__(self, limit: int = TEXT_MAX, *, single_line: bool = False, **kwargs: Any) -> None:
        self.limit, self.single_line = limit, single_line
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text, self.limit, single_line=self.single_line)
        if problem:
            raise ValidationError(message(problem))
        return text


class _Ranged:
    kind: str

    def _check(self, number):
        problem = number_problem(number, self.kind)
        if problem:
            raise ValidationError(message(problem))
        return number


class Number(_Ranged, fields.Float):
    """A finite number within the range of `kind` (RANGES)."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            number = super()._deserialize(value, attr, data, **kwargs)
        except (OverflowError, ValueError):
            raise ValidationError(message(("INPUT_OUT_OF_RANGE", M("Must be a finite number.")))) from None
        return self._check(number)


class Whole(_Ranged, fields.Integer):
    """A whole number within the range of `kind` (RANGES): huge values are refused, never overflow."""

    def __init__(self, kind: str = "quantity", **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(message(("INPUT_OUT_OF_RANGE", M("Must be a finite number."))))
        try:
            number = super()._deserialize(value, attr, data, **kwargs)
        except OverflowError:
            raise ValidationError(message(("INPUT_OUT_OF_RANGE", M("Must be a whole number.")))) from None
        return self._check(number)


class EventTime(fields.AwareDateTime):
    """An ISO-8601 time with offset, within the event window around now."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            moment = super()._deserialize(value, attr, data, **kwargs)
        except OverflowError:
            raise ValidationError(message(("EVENT_TIME_OUT_OF_WINDOW", M("Not a usable time.")))) from None
        problem = event_time_problem(moment)
        if problem:
            raise ValidationError(message(problem))
        return moment
