"""Help: the SOP library (Markdown files under sop/, rendered in the console; no internet needed)."""
from __future__ import annotations


import markdown
from flask import abort, has_request_context, request, send_from_directory
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

import config as config_module

SOP_DIR = config_module.PROJECT_ROOT / "sop"

# The Help link of the screens whose views set none themselves: Flask-AppBuilder's security screens
# (app/security), by view class. Views of our own pass help_doc/help_anchor to render_template, which
# wins over this context processor.
SCREEN_HELP: dict[str, tuple[str, str]] = {
    "MesUserDBModelView": ("admin", "key-operations"),
    "RoleModelView": ("admin", "preset-roles-and-data-scope"),
    "RoleScopeModelView": ("admin", "preset-roles-and-data-scope"),
    "ApiKeyModelView": ("admin", "api-key-for-the-integration-account"),
    "UserGroupModelView": ("admin", "other-security-screens"),
    "UserStatsChartView": ("admin", "other-security-screens"),
    "PermissionModelView": ("admin", "other-security-screens"),
    "ViewMenuModelView": ("admin", "other-security-screens"),
    "PermissionViewModelView": ("admin", "other-security-screens"),
}

# Run Detail's Help opens the viewer's own guide, at its Run Detail section: the first of the viewer's
# roles in this order (Admin and anyone else: the planner's guide, which describes the whole screen).
RUN_DETAIL_HELP: tuple[tuple[str, str, str], ...] = (
    ("Planner", "planner", "runs-and-run-detail"),
    ("Quality", "quality", "run-detail"),
    ("Leader", "leader", "getting-a-run-ready"),
    ("Material", "material", "run-detail"),
    ("Engineer", "engineer", "run-detail"),
    ("Manager", "manager", "run-detail"),
    ("Operator", "operator", "run-detail"),
)


def run_detail_help(roles) -> dict[str, str]:
    """`help_doc`/`help_anchor` of Run Detail for a viewer with these role names."""
    for role, doc, anchor in RUN_DETAIL_HELP:
        if role in roles:
            return {"help_doc": doc, "help_anchor": anchor}
    return {"help_doc": "planner", "help_anchor": "runs-and-run-detail"}


def screen_help() -> dict[str, str]:
    """Context processor: the Help link of a security screen (SCREEN_HELP)."""
    if not has_request_context() or not request.endpoint:
        return {}
    found = SCREEN_HELP.get(request.endpoint.split(".", 1)[0])
    return {"help_doc": found[0], "help_anchor": found[1]} if found else {}


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
