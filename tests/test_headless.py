"""The core (loading, cleaning, features, rules, segments, statistics, export) stays headless."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import segexplore

PACKAGE = pathlib.Path(segexplore.__file__).parent
#: The headless layers (everything below display, widgets, cli and dashboards).
HEADLESS = ("model", "io", "features", "rules", "analysis", "delivery", "ml", "datasets")


def test_core_modules_import_neither_plotly_nor_ipywidgets():
    code = (
        "import importlib, pkgutil, sys, segexplore\n"
        f"for layer in {HEADLESS!r}:\n"
        "    package = importlib.import_module(f'segexplore.{layer}')\n"
        "    for m in pkgutil.walk_packages(package.__path__, f'segexplore.{layer}.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('plotly', 'ipywidgets'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_no_eval_exec_or_query_in_the_package():
    pattern = re.compile(r"\b(eval|exec)\(|\.query\(|pd\.eval\(|literal_eval")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []
