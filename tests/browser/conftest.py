"""Browser tests: a real ``voila`` server on 127.0.0.1 and headless Chromium (Playwright).

Chromium is Debian's (``/usr/bin/chromium``, or ``$SEGEXPLORE_CHROMIUM``); Playwright comes
from PyPI and never downloads a browser. Every test here is marked ``browser``; deselect
them with ``-m "not browser"``. Screenshots and server logs go to ``test-artifacts/``.

The DOM contract the tests rely on (CSS classes the widget app puts on its widgets) is
described in ``tests/browser/test_explorer.py``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from segexplore.cli.dashboard import free_port, voila_command, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Seconds from navigation to the app on screen (kernel start, notebook run, widget render).
RENDER_TIMEOUT = 60.0
#: Seconds for one UI change to show up (debounce + evaluation + round trip, with margin).
UPDATE_TIMEOUT = 20.0


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    """Debian's Chromium; fail loudly (not skip) when it is missing, so CI cannot pass
    without running the browser tests."""
    path = os.environ.get("SEGEXPLORE_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).exists():
        path = shutil.which("chromium") or path
    if not Path(path).exists():
        pytest.fail(f"Chromium not found at {path}: install Debian's 'chromium' package "
                    "(bash .ci/run does) or set SEGEXPLORE_CHROMIUM", pytrace=False)
    return path


# ------------------------------------------------------------------ the Voila server
class VoilaServer:
    """A ``voila`` process serving one notebook; ``url`` is its page."""

    def __init__(self, notebook: Path, env: dict[str, str] | None = None,
                 log_name: str | None = None, extra_args: tuple[str, ...] = (),
                 show_tracebacks: bool = True) -> None:
        self.notebook = notebook
        self.port = free_port(18866)
        self.url = f"http://127.0.0.1:{self.port}/"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"voila-{log_name or notebook.stem}.log"
        environment = dict(os.environ)
        environment.update(env or {})
        environment.setdefault("PYTHONUNBUFFERED", "1")
        self.started = time.perf_counter()
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            # Tracebacks in the page help debug a failing test; show_tracebacks=False serves
            # what users see by default (Voila hides error outputs).
            voila_command(notebook, self.port, show_tracebacks=show_tracebacks)
            + list(extra_args),
            env=environment, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)  # own group: kernels too

    def wait_ready(self, timeout: float = RENDER_TIMEOUT) -> float:
        """Seconds from start until the server answered (the page itself is not loaded)."""
        try:
            wait_until_serving(self.process, self.port, timeout=timeout)
        except Exception as error:
            raise RuntimeError(f"{error}\n--- voila log ---\n{self.log()}") from None
        return time.perf_counter() - self.started

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]
        return ""

    def stop(self) -> None:
        """SIGTERM (Voila shuts its kernels down), then SIGKILL this server's process group."""
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def voila_server(notebook: Path, env: dict[str, str] | None = None,
                 log_name: str | None = None,
                 show_tracebacks: bool = True) -> Iterator[VoilaServer]:
    server = VoilaServer(notebook, env, log_name, show_tracebacks=show_tracebacks)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def explorer_server() -> Iterator[VoilaServer]:
    """``dashboards/explorer.ipynb`` on the bundled sample."""
    env = {"SEGEXPLORE_DATA": "", "SEGEXPLORE_EVENTS": "", "SEGEXPLORE_ORDERS": ""}
    with voila_server(DASHBOARDS / "explorer.ipynb", env) as server:
        yield server


@pytest.fixture(scope="module")
def report_server() -> Iterator[VoilaServer]:
    """``dashboards/segment_report.ipynb`` on the bundled sample with its example segments."""
    env = {"SEGEXPLORE_DATA": "", "SEGEXPLORE_SEGMENTS": ""}
    with voila_server(DASHBOARDS / "segment_report.ipynb", env) as server:
        yield server


class CommandServer:
    """A ``segexplore dashboard``/``report`` command line run as users run it.

    Its output goes to ``test-artifacts/<log_name>.log``; :meth:`wait_url` returns the URL
    the command prints once its readiness check passed. Duck-types :class:`VoilaServer`
    for :meth:`Browser.open` (``url``, ``notebook``, ``log()``).
    """

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None, log_name: str = "segexplore-dashboard",
                 notebook: str = "explorer") -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.command = list(command)
        self.notebook = Path(f"{notebook}.ipynb")
        self.url = ""
        self.log_path = ARTIFACTS / f"{log_name}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self._lines: queue.Queue = queue.Queue()
        environment = dict(os.environ) if env is None else dict(env)
        environment.setdefault("PYTHONUNBUFFERED", "1")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, env=environment, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)  # own group: Voila and its kernels too
        self._reader = threading.Thread(target=self._copy_output, daemon=True)
        self._reader.start()

    def _copy_output(self) -> None:
        for line in self.process.stdout:
            self._log.write(line)
            self._log.flush()
            self._lines.put(line)
        self._lines.put(None)  # the command ended

    def wait_url(self, timeout: float) -> str:
        """The ``http://`` URL the command prints; fail with its output if it does not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            if ": http://" in line:
                self.url = line.split(": ", 1)[1].strip()
                return self.url
        raise AssertionError(
            f"{' '.join(self.command)} printed no URL within {timeout:.0f} s "
            f"(exit status {self.process.poll()})\n--- its output ---\n{self.log()}")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]
        return ""

    def wait_output(self, text: str, timeout: float) -> None:
        """Wait until the command has printed ``text`` (lines after the URL come later)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{' '.join(self.command)} never printed {text!r}\n"
                                     f"--- its output ---\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> int | None:
        """SIGTERM (the command stops Voila and its kernels), then SIGKILL the group."""
        process = self.process
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
        status = process.poll()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        self._reader.join(timeout=10)  # the pipe closes with the group: the copy ends
        self._log.close()
        return status


# ------------------------------------------------------------------ the browser
class PageLog:
    """Console errors and uncaught page exceptions, for failure messages."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if message.type == "error" and "Failed to load resource" not in text:
            self.errors.append(f"console: {text}")  # offline CDN fonts are expected

    def __str__(self) -> str:
        return "\n".join(self.errors[-20:]) or "(no browser errors)"


class Browser:
    """Headless Chromium on a fresh profile, opening dashboards and saving screenshots."""

    def __init__(self, context) -> None:
        self.context = context

    def open(self, server: VoilaServer, selector: str, query: str = "",
             timeout: float = RENDER_TIMEOUT):
        """A new page on the dashboard once ``selector`` is visible: ``(page, log)``."""
        page = self.context.new_page()
        log = PageLog(page)
        page.goto(server.url + query, timeout=timeout * 1000, wait_until="commit")
        try:
            page.wait_for_selector(selector, state="visible", timeout=timeout * 1000)
        except Exception:
            self.screenshot(page, f"failed-render-{server.notebook.stem}")
            text = ""
            with contextlib.suppress(Exception):
                text = page.inner_text("body")[-3000:]
            raise AssertionError(
                f"{selector} not visible within {timeout:.0f} s on {server.url}\n"
                f"page text: {text}\nbrowser: {log}\n--- voila log ---\n{server.log()}"
            ) from None
        return page, log

    @staticmethod
    def screenshot(page, name: str) -> Path:
        """Save a full-page PNG under ``test-artifacts/screenshots/``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A persistent Chromium context on a fresh user-data dir (downloads accepted)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    profile = tempfile.mkdtemp(prefix="segexplore-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                accept_downloads=True, viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(UPDATE_TIMEOUT * 1000)
            try:
                yield Browser(context)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def dashboard_page(browser: Browser, arguments: Sequence[str], *, first_port: int,
                   log_name: str, env: dict[str, str] | None = None) -> Iterator[Any]:
    """``segexplore dashboard ARGUMENTS`` run as users run it (its kernel importing this
    checkout), opened in ``browser`` once it prints its URL: yields ``(page, log)`` and
    stops the server afterwards (a module fixture's body: ``yield from``)."""
    port = free_port(first_port)
    environment = dict(os.environ if env is None else env)
    # The kernel imports this checkout's segexplore, whatever is installed.
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])])
    server = CommandServer([sys.executable, "-m", "segexplore", "dashboard", *arguments,
                            "--port", str(port), "--no-browser"], env=environment, cwd=ROOT,
                           log_name=log_name)
    try:
        server.wait_url(RENDER_TIMEOUT * 2)
        page, log = browser.open(server, ".se-app .se-tabs")
        yield page, log
        page.close()
    finally:
        server.stop()

