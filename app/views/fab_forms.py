"""The one adapter over Flask-AppBuilder's private form handling (FAB 5.3).

Two behaviours of FAB's CRUD screens would hurt a plant user, and FAB has no public hook for them:

1. A record refused by a rule in `pre_add` / `pre_update` is answered with a flash and a redirect:
   everything the engineer typed is lost. Here the form is shown again, with the rule's message on the
   field it names (`show_refusal`, implemented by MesModelView). The refusal reaches this adapter as a
   `RuleRefused` raised by `pre_add` / `pre_update`; any other exception keeps FAB's behaviour.
2. A non-nullable boolean column becomes an InputRequired checkbox, so an unticked box ("inactive")
   could never be saved: booleans get a plain checkbox.

`_add` / `_edit` below are FAB 5.3's `BaseCRUDView._add` / `_edit` with exactly that change (and a
database error rolled back before its flash; a write the database refused, turned into a DomainError by
app/web/interface.py, shown on the form like a rule's refusal). They use FAB internals: `_filters`, `_fill_form_exclude_cols`,
`_get_add_widget`, `_get_edit_widget`, `datamodel.add/edit`, `update_redirect`, `_init_forms`.
tests/unit/test_fab_adapter.py pins FAB's version and the source of the methods copied or called here,
and tests/api/test_console.py the behaviour: an upgrade of Flask-AppBuilder that changes them fails the
suite, and this module is reviewed against the new code before the pins are updated.
"""
from __future__ import annotations

from flask import abort, flash, request
from flask_appbuilder import ModelView
from flask_appbuilder.urltools import get_filter_args
from sqlalchemy import Boolean
from wtforms import BooleanField

from ..extensions import db
from ..services.platform.errors import DomainError


class RuleRefused(ValueError):
    """A service rule refused a record in pre_add / pre_update (`error` is the rule's DomainError;
    str() is what FAB would flash if it caught it)."""

    def __init__(self, error, message: str) -> None:
        self.error = error
        super().__init__(message)


class RuleFormsModelView(ModelView):
    """A ModelView whose add/edit forms survive a rule refusal, and whose booleans are plain checkboxes."""

    def show_refusal(self, form, refused: RuleRefused) -> None:
        """Put the refusal on the form (and flash it); subclasses decide how."""
        flash(str(refused), "danger")

    def refusal(self, item, action: str, error: DomainError) -> RuleRefused:
        """The database refused to write `item` although the rules let it through (`action`: CREATE or
        UPDATE); subclasses may audit it."""
        return RuleRefused(error, error.message)

    def _init_forms(self):
        columns = self.datamodel.obj.__table__.columns
        booleans = {c.name: BooleanField(self.label_columns.get(c.name, c.name.replace("_", " ").capitalize()),
                                         description=self.description_columns.get(c.name, ""),
                                         default=bool(c.default.arg) if c.default is not None else False)
                    for c in columns if isinstance(c.type, Boolean)}
        self.add_form_extra_fields = {**booleans, **(self.add_form_extra_fields or {})}
        self.edit_form_extra_fields = {**booleans, **(self.edit_form_extra_fields or {})}
        super()._init_forms()

    def _add(self):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                item = self.datamodel.obj()
                try:
                    form.populate_obj(item)
                    self.pre_add(item)
                except RuleRefused as refused:
                    self.show_refusal(form, refused)
                    return self._get_add_widget(form=form, exclude_cols=exclude_cols)
                except Exception as exc:
                    flash(str(exc), "danger")
                    return None
                try:
                    self.datamodel.add(item)
                    self.post_add(item)
                    flash(self.add_row_message, "success")
                except DomainError as error:  # the database refused it (web/interface.py)
                    self.show_refusal(form, self.refusal(item, "CREATE", error))
                    return self._get_add_widget(form=form, exclude_cols=exclude_cols)
                except Exception:
                    db.session.rollback()
                    flash(self.database_error_message, "danger")
                return None
            return self._get_add_widget(form=form, exclude_cols=exclude_cols)
        self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        if request.method != "POST":
            return super()._edit(pk)
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        form = self.edit_form.refresh(request.form)
        self._fill_form_exclude_cols(exclude_cols, form)
        form._id = pk  # FAB's way past its own unique validators for the record itself
        if not form.validate():
            return self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        self.process_form(form, False)
        try:
            form.populate_obj(item)
            self.pre_update(item)
        except RuleRefused as refused:
            self.show_refusal(form, refused)
            return self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        except Exception as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return None
        try:
            self.datamodel.edit(item)
            self.post_update(item)
            flash(self.edit_row_message, "success")
        except DomainError as error:  # the database refused it (web/interface.py)
            self.show_refusal(form, self.refusal(item, "UPDATE", error))
            return self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        except Exception:
            db.session.rollback()
            flash(self.database_error_message, "danger")
        return None
