"""Pins of the one adapter over Flask-AppBuilder's private form handling (app/views/fab_forms.py).

The adapter copies FAB 5.3's `_add`/`_edit` and calls FAB internals. If an upgrade of Flask-AppBuilder
changes any of them, these tests fail: review app/views/fab_forms.py against the new FAB code (the
behaviour it must keep is pinned by tests/api/test_console.py), then update the pins below."""
import hashlib
import inspect

import flask_appbuilder
import pytest
from flask_appbuilder.baseviews import BaseCRUDView

from app.views.fab_forms import RuleFormsModelView

FAB_VERSION = "5.3.0"
# sha256 (first 16 hex digits) of the source of each FAB method the adapter copies or calls
PINNED_SOURCES = {
    "_add": "a025a0c68594773e",
    "_edit": "d761e7bd3d3ff992",
    "_init_forms": "2073f5423803e18b",
    "_fill_form_exclude_cols": "e5a8c992ab77784e",
    "_get_add_widget": "01bd7ad6a5d6c473",
    "_get_edit_widget": "0fe735e06cbf3c36",
}


def test_flask_appbuilder_is_the_pinned_version():
    assert flask_appbuilder.__version__ == FAB_VERSION


@pytest.mark.parametrize("name,digest", sorted(PINNED_SOURCES.items()))
def test_the_fab_internals_the_adapter_relies_on_are_unchanged(name, digest):
    source = inspect.getsource(getattr(BaseCRUDView, name))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, (
        f"Flask-AppBuilder's BaseCRUDView.{name} changed: review app/views/fab_forms.py, then update the pin")


def test_the_adapter_overrides_only_what_it_documents():
    own = {name for name, value in vars(RuleFormsModelView).items() if callable(value)}
    assert own == {"show_refusal", "refusal", "_init_forms", "_add", "_edit"}
