"""Does the dashboard have a kernel that can run it? Checked before Voilà starts.

Voilà starts the kernel a notebook names only when the page is opened: without one, or
with one whose Python cannot import segexplore, the page is "500: Internal Server Error".
:func:`check_kernel` finds that out first and says what to install.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from segexplore.errors import DashboardStartError

__all__ = ["KERNEL_MODULES", "check_kernel", "notebook_kernel"]

#: Modules the kernel's Python must import to run a dashboard.
KERNEL_MODULES = ("ipykernel", "segexplore")


def notebook_kernel(notebook: str | os.PathLike[str]) -> tuple[str, str]:
    """The kernel name and language a notebook asks for (``python3``, ``python``)."""
    try:
        metadata = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError) as error:
        raise DashboardStartError(f"cannot read the dashboard {str(notebook)!r}: {error}") \
            from None
    spec = metadata.get("kernelspec") or {}
    return spec.get("name") or "python3", spec.get("language") or "python"


def check_kernel(notebook: str | os.PathLike[str]) -> str:
    """Fail fast when Voilà would have no working kernel for ``notebook``.

    Voilà starts the kernel named in the notebook (or, failing that, any kernel of its
    language) only when the page is opened; without one the page is "500: Internal Server
    Error" (ipykernel missing), or a kernel that cannot import segexplore.

    Returns
    -------
    str
        The Python the kernel runs.

    Raises
    ------
    DashboardStartError
        Naming the kernel, its Python, what it lacks and the command that fixes it.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name, language = notebook_kernel(notebook)
    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(name)
    except NoSuchKernel:
        # Voilà falls back to any kernel of the notebook's language; so do we.
        specs = manager.get_all_specs()
        others = [n for n, s in sorted(specs.items())
                  if s.get("spec", {}).get("language", "").lower() == language.lower()]
        if not others:
            raise DashboardStartError(
                f"no Jupyter kernel {name!r} (language {language!r}) to run the dashboard "
                f"in: install ipykernel into this Python: {sys.executable} -m pip install "
                "ipykernel") from None
        name, spec = others[0], manager.get_kernel_spec(others[0])
    command = list(spec.argv or [""])
    interpreter = command[0]
    if interpreter in {"python", f"python{sys.version_info[0]}",
                       "python{}.{}".format(*sys.version_info[:2])}:
        interpreter = sys.executable  # what jupyter_client starts for these names
    # The kernel runs in the notebook's folder, and so does the probe (not in this
    # folder, which may hold a source checkout of segexplore).
    missing = _missing_modules(interpreter, KERNEL_MODULES, cwd=Path(notebook).parent)
    if missing:
        if interpreter == sys.executable:
            fix = f"{sys.executable} -m pip install {' '.join(missing)}"
        else:  # a kernel spec for another Python: point it back at this one
            fix = (f"install {', '.join(missing)} there, or make {name!r} run this Python: "
                   f"{sys.executable} -m ipykernel install --user --name {name}")
        raise DashboardStartError(
            f"the Jupyter kernel {name!r} ({spec.resource_dir}) runs {interpreter}, which "
            f"cannot import {', '.join(missing)}: {fix}")
    return interpreter


def _missing_modules(interpreter: str, modules: tuple[str, ...],
                     cwd: Path | None = None) -> list[str]:
    """Which of ``modules`` ``interpreter`` cannot import (all of them if it cannot run),
    started in ``cwd``."""
    if interpreter == sys.executable:
        return [m for m in modules if importlib.util.find_spec(m) is None]
    probe = ("import importlib.util, sys; "
             "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))")
    try:
        result = subprocess.run([interpreter, "-c", probe, *modules], capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return list(modules)
    if result.returncode != 0:
        return list(modules)
    return result.stdout.split()
