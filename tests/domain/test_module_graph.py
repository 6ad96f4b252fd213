"""The domain package's own imports: no cycle among its modules, nothing above the store."""

from __future__ import annotations

import ast
from pathlib import Path

import webapp.domain

PACKAGE = Path(webapp.domain.__file__).resolve().parent


def _imports() -> dict[str, set[str]]:
    """Every webapp module each domain module imports, wherever the import statement sits."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        graph[f"webapp.domain.{path.stem}"] = {n for n in names if n.startswith("webapp.")}
    return graph


def test_the_domain_imports_only_itself_and_the_store() -> None:
    allowed = ("webapp.domain", "webapp.store")
    above = {
        (module, name)
        for module, names in _imports().items()
        for name in names
        if not any(name == a or name.startswith(f"{a}.") for a in allowed)
    }
    assert above == set()


def test_no_domain_module_imports_itself_back() -> None:
    modules = {
        module: {n for n in names if n.startswith("webapp.domain.")}
        for module, names in _imports().items()
        if not module.endswith(".__init__")
    }
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError(" -> ".join(cycle))
        if module in done:
            return
        for imported in sorted(modules.get(module, ())):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(modules):
        visit(module, [])
