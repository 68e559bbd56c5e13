"""Every notebook in ``notebooks/`` and ``dashboards/`` runs top to bottom without error.

Also: dashboards hold imports, one configuration cell and one app call. (The top-level
``dashboards/*.ipynb`` are links to the notebooks shipped in ``segexplore/dashboards/``:
``tests/test_dashboard_source.py`` checks that they stay links.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.ipynb"))
CELL_TIMEOUT = 600


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS + DASHBOARDS, ids=_id)
def test_notebook_runs_without_error(path: Path, monkeypatch) -> None:
    for variable in ("SEGEXPLORE_DATA", "SEGEXPLORE_EVENTS", "SEGEXPLORE_ORDERS",
                     "SEGEXPLORE_SEGMENTS", "QUERY_STRING"):
        monkeypatch.delenv(variable, raising=False)  # the kernel inherits this environment
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{_id(path)}: a cell failed\n{error}", pytrace=False)
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors, errors


def test_there_are_five_tutorials_and_two_dashboards() -> None:
    assert [p.name for p in TUTORIALS] == [
        "01_getting_started.ipynb", "02_building_segments.ipynb",
        "03_comparing_segments.ipynb", "04_personalisation.ipynb",
        "05_customer_value.ipynb"]
    assert [p.name for p in DASHBOARDS] == ["explorer.ipynb", "segment_report.ipynb"]


@pytest.mark.parametrize("path", TUTORIALS + DASHBOARDS, ids=_id)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.parametrize("path", DASHBOARDS, ids=_id)
def test_dashboards_hold_imports_one_config_cell_and_one_app_call(path: Path) -> None:
    code = [ast.parse(c.source) for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "code"]
    assert len(code) == 3, "imports, configuration, app call"
    imports, config, app = code
    assert all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in imports.body)
    assert all(isinstance(s, ast.Assign) for s in config.body), "configuration: assignments"
    assert len(app.body) == 1 and isinstance(app.body[0], ast.Expr)
    assert isinstance(app.body[0].value, ast.Call)
    for tree in code:  # no logic: no loops, branches, functions or classes
        assert not any(isinstance(node, (ast.For, ast.While, ast.If, ast.FunctionDef,
                                         ast.ClassDef, ast.Lambda, ast.Try))
                       for node in ast.walk(tree))


def test_dashboard_path_finds_the_shipped_notebooks() -> None:
    from segexplore.dashboards import dashboard_path
    from segexplore.errors import DashboardError

    for source in DASHBOARDS:
        assert dashboard_path(source.stem).read_bytes() == source.read_bytes()
    with pytest.raises(DashboardError, match="did you mean 'explorer'"):
        dashboard_path("explorr")
