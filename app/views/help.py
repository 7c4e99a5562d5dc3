"""Help: the SOP library (Markdown files under sop/, rendered in the console; no internet needed).

Translations of a guide live under sop/<language>/ with the same file name and the same section ids
(e.g. sop/zh_CN/operator.md): the console shows the translation when the user's language has one,
else the English guide; the same Help links (slug#anchor) work in every language."""
from __future__ import annotations

from pathlib import Path

import markdown
from flask import abort, send_from_directory
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

import config as config_module

from ..web.i18n import guides_folder

SOP_DIR = config_module.PROJECT_ROOT / "sop"
TRANSLATED_DIRS = ("zh_CN",)  # sop/<folder>/ (LANGUAGES "guides"): translations, not guides of their own


def localized_path(slug: str) -> Path:
    """The guide's file in the user's language when it exists, else the English one."""
    folder = guides_folder()
    if folder in TRANSLATED_DIRS and "/" not in slug:
        translated = SOP_DIR / folder / f"{slug}.md"
        if translated.is_file():
            return translated
    return SOP_DIR / f"{slug}.md"


def list_docs() -> list[dict]:
    docs = []
    for path in sorted(SOP_DIR.rglob("*.md")):
        rel = path.relative_to(SOP_DIR).with_suffix("").as_posix()
        if rel.split("/")[0] in TRANSLATED_DIRS:
            continue
        first = localized_path(rel).read_text(encoding="utf-8").splitlines()[:1]
        title = first[0].lstrip("# ").strip() if first else rel
        docs.append({"slug": rel, "title": title, "section": rel.split("/")[0] if "/" in rel else "guides"})
    return docs


def render_doc(slug: str) -> tuple[str, Markup]:
    path = (SOP_DIR / f"{slug}.md").resolve()
    if SOP_DIR.resolve() not in path.parents or not path.is_file():
        abort(404)
    path = localized_path(slug)
    text = path.read_text(encoding="utf-8")
    html = markdown.markdown(text, extensions=["tables", "attr_list", "toc", "fenced_code", "sane_lists"])
    title = text.splitlines()[0].lstrip("# ").strip() if text else slug
    return title, Markup(html)


class HelpView(BaseView):
    route_base = "/help"
    default_view = "index"
    class_permission_name = "SopLibrary"
    method_permission_name = {"index": "read", "doc": "read", "image": "read"}

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("mes/help_index.html", docs=list_docs())

    @expose("/img/<name>")
    @has_access
    def image(self, name: str):
        """The screenshots of the guides (sop/img/*.png), linked from their Markdown as `img/<name>`."""
        if not name.endswith(".png"):
            abort(404)
        return send_from_directory(SOP_DIR / "img", name, mimetype="image/png")

    @expose("/<path:slug>")
    @has_access
    def doc(self, slug: str):
        title, html = render_doc(slug)
        return self.render_template("mes/help_doc.html", title=title, body=html, docs=list_docs())
