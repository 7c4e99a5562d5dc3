"""The shape of the code (ARCHITECTURE.md "Layering"): the import contract of the service contexts,
no imports between service modules hidden inside functions, one wiring module, and the services
package's docstring naming every context."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

import app.services
from app.services import wiring
from app.services.production import extension_points

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVICES = PROJECT_ROOT / "app" / "services"
CONTEXTS = ("platform", "integration", "engineering", "production", "preparation", "quality")


def test_import_contract(monkeypatch, capsys):
    """`.importlinter`: contexts depend one way (imports inside functions count), no cycle between the
    modules of a context, services never import the web layer, the API never imports the console."""
    monkeypatch.chdir(PROJECT_ROOT)
    exit_code = lint_imports(config_filename=str(PROJECT_ROOT / ".importlinter"), no_cache=True, no_logo=True)
    output = capsys.readouterr().out
    assert exit_code == 0, output
    assert "0 broken" in output and "BROKEN" not in output, output


def _module_name(path: Path, project_root: Path) -> str:
    parts = list(path.relative_to(project_root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def function_level_service_imports(project_root: Path = PROJECT_ROOT) -> list[str]:
    """`file:line imported` for every import of a service module made inside a function (the wiring
    module aside): such an import hides a dependency from the reader and from a cycle check."""
    services = project_root / "app" / "services"
    found = []
    for path in sorted(services.rglob("*.py")):
        if path == services / "wiring.py":
            continue
        module, is_package = _module_name(path, project_root), path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    targets = [_resolve(module, is_package, node)]
                elif isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                else:
                    continue
                for target in targets:
                    if target == "app.services" or target.startswith("app.services."):
                        found.append(f"{path.relative_to(project_root)}:{node.lineno} {target}")
    return found


def test_no_service_module_is_imported_inside_a_function():
    assert function_level_service_imports() == []


def test_the_scan_finds_an_import_inside_a_function(tmp_path):
    """The check above can fail: a deferred import of another context (relative or absolute) is
    reported, one of a library is not."""
    module = tmp_path / "app" / "services" / "production" / "probe.py"
    module.parent.mkdir(parents=True)
    module.write_text("import json\n\n\ndef f():\n    from ..quality import oqc\n    import app.services.wiring\n"
                      "    import sqlalchemy\n    return oqc, json, sqlalchemy\n")
    assert function_level_service_imports(tmp_path) == [
        "app/services/production/probe.py:5 app.services.quality",
        "app/services/production/probe.py:6 app.services.wiring"]


def test_every_extension_point_is_filled_by_the_wiring_module(app):
    """The wiring table names every list of production's extension points, and create_app() filled
    each list with exactly the table's functions, in the table's order."""
    points = {name: value for name, value in vars(extension_points).items()
              if name.isupper() and isinstance(value, list)}
    wired = {id(point): functions for point, functions in wiring.EXTENSIONS}
    assert set(wired) == {id(point) for point in points.values()}, sorted(points)
    for name, point in points.items():
        assert point == list(wired[id(point)]), name
        assert point, f"{name} is empty"


@pytest.mark.parametrize("context", CONTEXTS)
def test_services_docstring_names_every_context(context):
    doc = app.services.__doc__ or ""
    assert f"{context}/" in doc, f"the services package docstring does not describe {context}/"
    assert (SERVICES / context / "__init__.py").read_text().startswith('"""'), context
