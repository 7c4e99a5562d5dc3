"""What a console CRUD screen says after a save or a delete: "Product P-1001 saved.", "User jdoe
deleted." instead of Flask-AppBuilder's "Added Row" / "Changed Row" / "Deleted Row"."""
from __future__ import annotations

from flask import g
from flask_babel import gettext


class NamedRowMessages:
    """A ModelView mixin (before ModelView in the bases). FAB flashes `add_row_message` /
    `edit_row_message` right after `post_add` / `post_update`, and `delete_row_message` after the
    delete: the hooks remember the record's name (`row_name`) for the message. A `pre_delete` of the
    view calls `remember_row(item)` (the record is gone when the message is flashed)."""

    add_row_message = edit_row_message = property(
        lambda self: gettext("%(record)s saved.", record=g.get("mes_saved") or gettext("Record")))
    delete_row_message = property(
        lambda self: gettext("%(record)s deleted.", record=g.get("mes_saved") or gettext("Record")))

    def row_name(self, item) -> str:
        raise NotImplementedError

    def remember_row(self, item) -> None:
        g.mes_saved = self.row_name(item)

    def post_add(self, item):
        self.remember_row(item)

    def post_update(self, item):
        self.remember_row(item)
