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
    for contract in ("Layers", "No cycles", "Headless", "Display draws"):
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
    """``import segexplore`` fills every hook of the model (display ones on demand)."""
    code = (
        "import sys, segexplore\n"
        "from segexplore.model import hooks\n"
        "eager = sorted(n for n in hooks.HOOKS if not hooks.HOOKS[n].startswith('segexplore.display'))\n"
        "missing = [n for n in eager if n not in hooks._REGISTERED]\n"
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
