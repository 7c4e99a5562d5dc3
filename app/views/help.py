"""Help: the SOP library (Markdown files under sop/, rendered in the console; no internet needed)."""
from __future__ import annotations


import markdown
from flask import abort, send_from_directory
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

import config as config_module

SOP_DIR = config_module.PROJECT_ROOT / "sop"


def list_docs() -> list[dict]:
    docs = []
    for path in sorted(SOP_DIR.rglob("*.md")):
        rel = path.relative_to(SOP_DIR).with_suffix("").as_posix()
        first = path.read_text(encoding="utf-8").splitlines()[:1]
        title = first[0].lstrip("# ").strip() if first else rel
        docs.append({"slug": rel, "title": title, "section": rel.split("/")[0] if "/" in rel else "guides"})
    return docs


def render_doc(slug: str) -> tuple[str, Markup]:
    path = (SOP_DIR / f"{slug}.md").resolve()
    if SOP_DIR.resolve() not in path.parents or not path.is_file():
        abort(404)
    text = path.read_text(encoding="utf-8")
    html = markdown.markdown(text, extensions=["tables", "toc", "fenced_code", "sane_lists"])
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
