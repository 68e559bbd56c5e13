"""The package's structure holds: one-way layers, no cycles, a headless core, no re-exports.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are drawn in
``docs/architecture.md``; import-linter checks them on the package under test, counting
imports inside functions as well as at the top of modules.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import segexplore

PACKAGE = pathlib.Path(segexplore.__file__).parent
ROOT = PACKAGE.parent
CONFIG = ROOT / "pyproject.toml"


def _lint_imports() -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-c", code, "--config", str(CONFIG), "--no-cache"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_import_contracts_are_kept():
    result = _lint_imports()
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in ("Layers", "No cycles", "Headless", "Display draws", "Rule engines"):
        assert any(line.startswith(contract) and line.endswith("KEPT")
                   for line in result.stdout.splitlines()), contract


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _all_of(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def test_modules_export_only_what_they_define():
    """No module re-exports names "for old import paths": ``__all__`` lists what the module
    itself defines. Package ``__init__`` files are the exception: they hold a public API."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        foreign = [n for n in _all_of(tree) if n not in _top_level_names(tree)]
        if foreign:
            offenders.append(f"{path.relative_to(PACKAGE)}: {foreign}")
    assert offenders == []


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _bound_names(tree: ast.Module) -> set[str]:
    """The names a module binds itself at its top level (inside ``if``/``try`` too), imports
    left out."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def test_names_are_imported_from_the_module_that_defines_them():
    """``from segexplore.a.b import name`` inside the package names something ``a.b``
    defines (or a submodule of it): no module passes on a name it imported. A package's
    ``__init__`` may be imported from (the top package and ``widgets`` hold a public API)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    bound = {}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module in modules):
                continue
            source = modules[node.module]
            if source.name == "__init__.py":
                continue
            if node.module not in bound:
                bound[node.module] = _bound_names(ast.parse(source.read_text(encoding="utf-8")))
            for alias in node.names:
                if (alias.name not in bound[node.module]
                        and f"{node.module}.{alias.name}" not in modules):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: "
                                     f"{alias.name} from {node.module}")
    assert offenders == []


def test_imports_inside_the_package_are_absolute():
    """``from segexplore.io.load import read_base``, never ``from ..io.load import ...``: a
    file says which layer it reaches into."""
    offenders = [f"{path.relative_to(PACKAGE)}:{node.lineno}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert offenders == []


def test_package_inits_hold_no_code():
    """Below the top package, an ``__init__.py`` is a docstring, or (``widgets``) the public
    names of its package: imports and ``__all__``, nothing else."""
    offenders = []
    for path in sorted(PACKAGE.rglob("__init__.py")):
        if path.parent == PACKAGE or path.parent.name in ("cli", "dashboards"):
            continue  # the top package's API; the CLI entry point; the dashboards' launcher
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            allowed = (ast.Import, ast.ImportFrom)
            is_all = isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in
                                                       node.targets] == ["__all__"]
            if not (docstring or isinstance(node, allowed) or is_all):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_every_hook_is_filled_by_the_module_that_owns_it():
    """``import segexplore`` fills every hook of the model, the display ones included
    (``display.html`` and ``display.report`` import no plotly), and imports no plotly."""
    code = (
        "import sys, segexplore\n"
        "from segexplore.model import hooks\n"
        "missing = [n for n in hooks.HOOKS if n not in hooks._REGISTERED]\n"
        "assert not missing, missing\n"
        "assert 'plotly' not in sys.modules\n"
        "for name, module in hooks.HOOKS.items():\n"
        "    got = hooks.get(name)\n"
        "    owner = getattr(got, '__module__', None) or module\n"
        "    assert owner == module, (name, owner, module)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
