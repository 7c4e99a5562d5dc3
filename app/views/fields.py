"""Small WTForms fields the console needs beyond Flask-AppBuilder's."""
from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from wtforms import Field


class OptionListField(Field):
    """A list of options edited as text, one per line (or comma-separated)."""

    widget = BS3TextAreaFieldWidget()

    def _value(self) -> str:
        if isinstance(self.data, (list, tuple)):
            return "\n".join(str(v) for v in self.data)
        return self.data or ""

    def process_formdata(self, valuelist):
        text = valuelist[0] if valuelist else ""
        options = [part.strip() for line in text.splitlines() for part in line.split(",")]
        self.data = [o for o in options if o] or None
