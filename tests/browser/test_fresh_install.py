"""The README's quick start on a fresh machine: a wheel installed without extras into a new
virtual environment, ``segexplore dashboard`` started from it, the page in Chromium.

Regression test for issue 10: ``python -m pip install . && segexplore dashboard`` printed
a URL whose page was "500: Internal Server Error" (no Jupyter kernel: ``ipykernel`` was
only in the ``[test]`` extra), and CI never saw it because ``.ci/run`` installs ``[test]``
first. Here nothing of this checkout's environment leaks in: the venv has no system site
packages, ``PYTHONPATH`` and ``JUPYTER_*`` are cleared, ``HOME`` and the Jupyter folders
are empty temporary ones. The install downloads from the package index (pip's cache is
kept, so later runs are quick).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from segexplore.cli import dashboard as dashboard_cli

from .conftest import ROOT, CommandServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Seconds for building the wheel, the venv and installing into it (first run: downloads).
INSTALL_TIMEOUT = 1200
#: Seconds from starting the command to its URL (it renders the page once to check it).
START_TIMEOUT = 300
#: Seconds for the explorer to show in the browser, then for one chart to be drawn.
RENDER_TIMEOUT = 120


@dataclass
class FreshInstall:
    root: Path
    venv: Path
    home: Path
    seconds: dict[str, float]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self) -> dict[str, str]:
        """An activated venv for a user with an empty home: no PYTHONPATH, no Jupyter or
        IPython folders, no segexplore settings from this test run."""
        dropped = ("PYTHON", "JUPYTER", "IPYTHON", "VIRTUAL_ENV", "CONDA", "SEGEXPLORE_")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(dropped) and k != "QUERY_STRING"}
        env.update(HOME=str(self.home), VIRTUAL_ENV=str(self.venv),
                   PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                   JUPYTER_DATA_DIR=str(self.home / "jupyter-data"),
                   JUPYTER_CONFIG_DIR=str(self.home / "jupyter-config"),
                   JUPYTER_RUNTIME_DIR=str(self.home / "jupyter-runtime"),
                   IPYTHONDIR=str(self.home / "ipython"), PYTHONUNBUFFERED="1")
        return env

    def run(self, *command: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
        return _run([str(c) for c in command], env=self.env(), cwd=self.home,
                    timeout=timeout)

    def pip(self, *arguments: str) -> subprocess.CompletedProcess:
        """pip of the venv with this machine's pip settings and cache (so: the real HOME)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        result = _run([str(self.python), "-m", "pip", *arguments], env=env, cwd=self.root,
                      timeout=INSTALL_TIMEOUT)
        assert result.returncode == 0, result.stderr[-3000:]
        return result


def _run(command: list[str], env: dict[str, str], cwd: Path,
         timeout: float) -> subprocess.CompletedProcess:
    """Run to the end in its own process group, killed (whole group) on a timeout."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else
        stdout, stderr = process.communicate()
        pytest.fail(f"{' '.join(command)} still running after {timeout:.0f} s\n"
                    f"{stdout[-2000:]}\n{stderr[-3000:]}", pytrace=False)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # nothing of it may outlive the test
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def fresh() -> Iterator[FreshInstall]:
    """Wheel of this checkout, installed without extras into a new venv (removed after)."""
    root = Path(tempfile.mkdtemp(prefix="segexplore-fresh-"))
    try:
        seconds: dict[str, float] = {}
        source = root / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        shutil.copytree(ROOT / "segexplore", source / "segexplore",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        started = time.perf_counter()
        # As a plain `pip install .` builds: isolated, unless setuptools here is recent
        # enough for the SPDX licence field (then no download is needed).
        recent = int(version("setuptools").split(".")[0]) >= 77
        isolation = ["--no-build-isolation"] if recent else []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                      "-w", str(root / "dist"), str(source)], env=env, cwd=root,
                     timeout=INSTALL_TIMEOUT)
        assert built.returncode == 0, built.stderr[-3000:]
        wheel = next((root / "dist").glob("segexplore-*.whl"))
        seconds["wheel"] = time.perf_counter() - started

        started = time.perf_counter()
        venv = root / "venv"
        made = _run([sys.executable, "-m", "venv", str(venv)], env=env, cwd=root,
                    timeout=INSTALL_TIMEOUT)
        assert made.returncode == 0, made.stderr[-3000:]
        home = root / "home"
        home.mkdir()
        install = FreshInstall(root, venv, home, seconds)
        install.pip("install", "-q", str(wheel))  # no extras: what `pip install .` gets
        seconds["venv + install"] = time.perf_counter() - started
        yield install
    finally:
        shutil.rmtree(root, ignore_errors=True)  # ~1 GB


# ------------------------------------------------------------------ tests
def test_the_fresh_install_has_its_own_segexplore_and_no_test_extras(fresh):
    probe = ("import importlib.util as u, segexplore; print(segexplore.__file__); "
             "print(*[m for m in ('ipykernel', 'voila', 'ipywidgets', 'anywidget', "
             "'plotly', 'pytest', 'hypothesis', 'playwright') if u.find_spec(m)])")
    result = fresh.run(fresh.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    location, modules = result.stdout.splitlines()
    assert Path(location).is_relative_to(fresh.venv / "lib"), location  # not this checkout
    assert modules.split() == ["ipykernel", "voila", "ipywidgets", "anywidget", "plotly"]
    kernels = fresh.run(fresh.venv / "bin" / "jupyter", "kernelspec", "list")
    assert kernels.returncode == 0, kernels.stderr
    assert str(fresh.venv / "share" / "jupyter" / "kernels" / "python3") in kernels.stdout


def _kernel_interpreters(ancestor: int) -> list[str]:
    """Interpreters of the ipykernel processes descending from ``ancestor`` (from /proc;
    jupyter_client starts kernels in their own session, so not in the command's group)."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = (entry / "status").read_text()
            parents[int(entry.name)] = int(status.split("PPid:", 1)[1].split()[0])
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == ancestor:
                return True
        return False

    return [arguments[0].decode() for pid, arguments in commands.items()
            if b"ipykernel_launcher" in arguments and descends(pid)]


def test_segexplore_dashboard_from_the_fresh_install_renders_in_chromium(fresh, browser):
    port = dashboard_cli.free_port(19100)
    started = time.perf_counter()
    server = CommandServer([str(fresh.venv / "bin" / "segexplore"), "dashboard", "--port",
                            str(port), "--no-browser"], env=fresh.env(), cwd=fresh.home,
                           log_name="fresh-install-dashboard")
    try:
        url = server.wait_url(START_TIMEOUT)
        fresh.seconds["command to URL"] = time.perf_counter() - started
        assert url == f"http://127.0.0.1:{port}/"
        started = time.perf_counter()
        page, log = browser.open(server, ".se-app .se-tabs", timeout=RENDER_TIMEOUT)
        try:
            titles = [t.strip() for t in page.locator(
                ".se-tabs > .lm-TabBar .lm-TabBar-tabLabel").all_inner_texts()]
            assert titles == ["Profile", "Build", "Compare", "Export", "Plan"], log
            # The profile is computed in the kernel, its chart drawn by plotly.js: both
            # halves of the installed app work.
            page.locator(".se-profile-summary table").wait_for(
                state="attached", timeout=RENDER_TIMEOUT * 1000)
            page.wait_for_function(
                "() => document.querySelectorAll("
                "'.se-profile-chart .js-plotly-plot .main-svg').length >= 1",
                timeout=RENDER_TIMEOUT * 1000)
            fresh.seconds["page to chart"] = time.perf_counter() - started
            browser.screenshot(page, "fresh-install-explorer")
            body = page.inner_text("body")
            # The kernel behind the page runs the venv's Python, not this checkout's.
            interpreters = _kernel_interpreters(server.process.pid)
        finally:
            page.close()
    finally:
        status = server.stop()
    for text in ("Internal Server Error", "There was an error when executing cell",
                 "Traceback", "could not start"):
        assert text not in body, body[-3000:]
    assert interpreters and all(Path(i).is_relative_to(fresh.venv) for i in interpreters), (
        interpreters)
    assert status == 0, server.log()  # SIGTERM: a clean stop
    print(f"fresh install timings (s): {fresh.seconds}")


def test_without_ipykernel_the_command_exits_2_naming_the_fix(fresh):
    """The fresh machine before this fix: no kernel anywhere (JUPYTER_* point at empty
    folders). The command must refuse before printing a URL to a 500 page."""
    probe = fresh.run(fresh.python, "-c",
                      "import importlib.metadata as m; print(m.version('ipykernel'))")
    installed = probe.stdout.strip()  # reinstalled below, from pip's cache
    assert probe.returncode == 0 and installed, probe.stderr
    fresh.pip("uninstall", "-q", "-y", "ipykernel")
    try:
        port = dashboard_cli.free_port(19200)
        result = fresh.run(fresh.venv / "bin" / "segexplore", "dashboard", "--port",
                           str(port), "--no-browser")
    finally:
        fresh.pip("install", "-q", "--no-deps", f"ipykernel=={installed}")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "http://" not in result.stdout, result.stdout
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("segexplore dashboard: no Jupyter kernel 'python3'"), message
    assert f"{fresh.python} -m pip install ipykernel" in message, message
    assert "[Voila]" not in result.stderr  # refused before Voilà started
