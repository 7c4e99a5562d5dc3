"""Engineering → Import: master data for go-live from XLSX or CSV files (services/engineering/master_import.py).

Upload a file (up to 5,000 rows; larger ones with the CLI) and "Check" it (a dry run: every row with what would be created, updated or refused and
why — row, column, code), then "Import" it: one transaction, all or nothing, audited. A check that found
nothing to refuse offers to import that very file (its content travels with the form, checked by its
SHA-256), so nobody has to pick it again. Templates per list (XLSX: the header row, with a note on each
column) come from the same column definitions as the lists' exports. Open to master-data writers (the
page with `product:write`); each sheet needs its own list's write permission."""
from __future__ import annotations

import base64
import binascii
import hashlib

from flask import abort, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.engineering import master_import
from ..services.platform.errors import DomainError
from ..web.export import xlsx_template
from .base import flash_domain_error

SHOWN_ROWS = 2000  # rows listed on the page (the counts cover all)
# Rows per console upload: on SQLite every write waits while an import holds the lock (~0.3 ms a row);
# 5,000 rows keep that under two seconds, well inside the writers' busy timeout.
CONSOLE_MAX_ROWS = 5000


class MasterImportView(BaseView):
    route_base = "/master-import"
    default_view = "page"
    class_permission_name = "Product"
    method_permission_name = {"page": "write", "run": "write", "template": "write"}
    base_permissions = resource_permissions("product")

    def _render(self, report=None, *, content_b64: str = ""):
        rows = []
        if report is not None:
            rows = sorted((r for r in report.rows if r.action != "UNCHANGED"),
                          key=lambda r: (r.action != "REFUSED", master_import.SHEET_ORDER[r.sheet], r.row))
        return self.render_template("mes/master_import.html", sheets=master_import.SHEETS, report=report,
                                    rows=rows[:SHOWN_ROWS], hidden_rows=max(0, len(rows) - SHOWN_ROWS),
                                    content_b64=content_b64, help_doc="engineer", help_anchor="master-data-import")

    @expose("/")
    @has_access
    def page(self):
        return self._render()

    @expose("/", methods=["POST"])
    @has_access
    def run(self):
        dry_run = request.form.get("action") != "import"
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            filename, content = upload.filename, upload.read()
        elif request.form.get("content"):
            filename = request.form.get("filename") or "import"
            try:
                content = base64.b64decode(request.form["content"], validate=True)
            except (binascii.Error, ValueError):
                abort(400)
            if hashlib.sha256(content).hexdigest() != request.form.get("sha256"):
                abort(400)
        else:
            flash_domain_error(DomainError("IMPORT_EMPTY", "Choose a file (.xlsx or .csv) first."))
            return self._render()
        try:
            # the file is read before the request takes the database's write lock (authenticate)
            upload = master_import.read_files([(filename, content)])
            if upload.rows > CONSOLE_MAX_ROWS:
                raise DomainError("IMPORT_FILE_TOO_LARGE", f"{upload.name}: {upload.rows:,} rows. The console takes "
                                  f"up to {CONSOLE_MAX_ROWS:,} rows per file (the database is locked while they are "
                                  "written): split the file, or have IT import it with `flask mes import`.")
            report = master_import.import_upload(actor=authenticate(), upload=upload, dry_run=dry_run)
        except DomainError as error:
            flash_domain_error(error)
            return self._render()
        keep = dry_run and not report.refused
        return self._render(report, content_b64=base64.b64encode(content).decode() if keep else "")

    @expose("/template/<name>")
    @has_access
    def template(self, name):
        if name != "all" and name not in master_import.BY_NAME:
            abort(404)
        sheets = master_import.SHEETS if name == "all" else [master_import.BY_NAME[name]]
        return xlsx_template(f"linemes-import-{name}", [(s.title, [(c.header, c.note) for c in s.columns])
                                                        for s in sheets])
