"""The SOP error catalogue is generated from the code and kept in sync."""
from pathlib import Path

from app.services.platform.errors import CATALOGUE, catalogue_markdown

DOC = Path(__file__).resolve().parents[2] / "sop" / "error-catalogue.md"


def test_sop_error_catalogue_is_in_sync_with_the_code():
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), \
        "run `flask mes error-catalogue --write` and commit sop/error-catalogue.md"


def test_every_code_is_documented():
    text = DOC.read_text(encoding="utf-8")
    assert all(f"`{code}`" in text for code in CATALOGUE)
