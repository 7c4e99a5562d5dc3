"""`python -m app.web.i18n_extract <messages.pot>`: add the error catalogue's messages and hints
(app/services/platform/errors.py) to the extracted template, as msgids with the code as a comment
(`make translations-extract`). They are built at import time (some in a loop), so pybabel cannot
find them in the source."""
from __future__ import annotations

import sys

from babel.messages.pofile import read_po, write_po

from app.services.platform.errors import CATALOGUE


def add_error_catalogue(pot_path: str) -> int:
    with open(pot_path, "rb") as handle:
        catalog = read_po(handle)
    added = 0
    for code in sorted(CATALOGUE):
        entry = CATALOGUE[code]
        for kind, text in (("message", entry.message), ("hint", entry.hint)):
            if not text:
                continue
            comment = f"error {code} {kind}"
            existing = catalog.get(text)
            if existing is None:
                catalog.add(text, auto_comments=[comment])
                added += 1
            elif comment not in existing.auto_comments:
                existing.auto_comments.append(comment)
    with open(pot_path, "wb") as handle:
        write_po(handle, catalog, omit_header=False, no_location=True, sort_output=True, width=100)
    return added


if __name__ == "__main__":
    print(f"{add_error_catalogue(sys.argv[1])} error catalogue texts added to {sys.argv[1]}")
