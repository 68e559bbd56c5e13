"""The dashboard notebooks have one source: the ones shipped in ``segexplore/dashboards/``.

The repository's top-level ``dashboards/`` folder holds only symbolic links to them (so
``voila dashboards/explorer.ipynb`` and the README's commands keep working), never a copy
that could drift from what ``pip install`` ships. A checkout made with
``core.symlinks=false`` (Windows without developer mode) turns the links into small text
files: this test then says so instead of letting a stale copy be served.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from segexplore.dashboards import DASHBOARDS, dashboard_path

ROOT = Path(__file__).resolve().parents[1]
LINKS = ROOT / "dashboards"
SHIPPED = ROOT / "segexplore" / "dashboards"


def test_the_shipped_folder_holds_one_notebook_per_dashboard() -> None:
    assert sorted(p.stem for p in SHIPPED.glob("*.ipynb")) == sorted(DASHBOARDS)
    for name in DASHBOARDS:
        assert not (SHIPPED / f"{name}.ipynb").is_symlink(), "the source is a real file"


def test_top_level_dashboards_are_links_to_the_shipped_notebooks() -> None:
    entries = sorted(p.name for p in LINKS.iterdir())
    assert entries == sorted(f"{name}.ipynb" for name in DASHBOARDS), (
        "dashboards/ holds exactly one link per shipped notebook")
    for name in entries:
        link = LINKS / name
        assert link.is_symlink(), (
            f"dashboards/{name} must be a symbolic link to segexplore/dashboards/{name}, not "
            f"a copy: ln -sf ../segexplore/dashboards/{name} dashboards/{name}")
        target = os.readlink(link)
        assert not os.path.isabs(target), f"dashboards/{name} -> {target}: use a relative link"
        assert link.resolve() == (SHIPPED / name).resolve(), (
            f"dashboards/{name} -> {target}, not segexplore/dashboards/{name}")


def test_the_links_open_what_the_package_ships() -> None:
    for name in DASHBOARDS:
        assert (LINKS / f"{name}.ipynb").read_bytes() == dashboard_path(name).read_bytes()


def test_git_records_the_top_level_notebooks_as_links() -> None:
    """A copy committed over a link would pass the checks above in no other checkout."""
    listed = subprocess.run(["git", "ls-files", "--stage", "--", "dashboards"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    modes = {line.split("\t")[1]: line.split()[0] for line in listed}
    assert modes == {f"dashboards/{name}.ipynb": "120000" for name in DASHBOARDS}, (
        "git must store dashboards/*.ipynb as symbolic links (mode 120000)")
