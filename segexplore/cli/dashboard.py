"""Sub-commands that serve the Voilà dashboards: ``dashboard`` and ``report``.

Both start ``voila`` on a notebook shipped inside the package (see
:mod:`segexplore.dashboards`), on 127.0.0.1, pass the data to the notebook through the
``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS``, ``SEGEXPLORE_ORDERS`` (and
``SEGEXPLORE_SEGMENTS``) environment variables, print the URL once the dashboard really
works and keep serving until interrupted.

"Really works" (:func:`wait_until_ready`) means three checks, each failing with its cause
(exit status 2) instead of printing a URL to a broken page:

1. before Voilà starts, the notebook's Jupyter kernel exists and its Python can import
   ``ipykernel`` and ``segexplore`` (:func:`check_kernel`);
2. the server answers (:func:`wait_until_serving`);
3. the page renders: one GET of ``/`` runs the notebook, and the HTML must hold the app's
   widget and no error (:func:`check_page`); the kernel that GET started is shut down.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from segexplore.dashboards import SHOW_TRACEBACKS
from segexplore.errors import SegexploreError

#: Voilà's own default port; the first free port from here on is used without ``--port``.
DEFAULT_PORT = 8866
#: Seconds to wait for the server to answer before giving up.
START_TIMEOUT = 60.0
#: Seconds of silence allowed while the first page renders (kernel start, data load: a
#: large base takes minutes).
RENDER_TIMEOUT = 600.0
HOST = "127.0.0.1"
#: Modules the kernel's Python must import to run a dashboard.
KERNEL_MODULES = ("ipykernel", "segexplore")


class DashboardStartError(SegexploreError, RuntimeError):
    """Voilà did not start (port taken, missing package...)."""


def free_port(start: int = DEFAULT_PORT, attempts: int = 100) -> int:
    """The first port from ``start`` on that nothing listens to on 127.0.0.1."""
    for port in range(start, start + attempts):
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise DashboardStartError(f"no free port between {start} and {start + attempts - 1}")


def voila_command(notebook: str | os.PathLike[str], port: int,
                  show_tracebacks: bool = False) -> list[str]:
    """The ``voila`` command line serving ``notebook`` on 127.0.0.1:``port``, sources hidden."""
    return [sys.executable, "-m", "voila", "--no-browser", f"--port={port}",
            f"--Voila.ip={HOST}", "--Voila.port_retries=0", "--strip_sources=True",
            f"--show_tracebacks={show_tracebacks}", str(notebook)]


def dashboard_environment(args: argparse.Namespace) -> dict[str, str]:
    """This process's environment plus the data paths (absolute: Voilà runs the kernel in
    the notebook's folder)."""
    environment = dict(os.environ)
    if getattr(args, "show_tracebacks", False):
        environment[SHOW_TRACEBACKS] = "1"
    else:
        environment.pop(SHOW_TRACEBACKS, None)
    names = {"data": "SEGEXPLORE_DATA", "events": "SEGEXPLORE_EVENTS",
             "orders": "SEGEXPLORE_ORDERS", "segments": "SEGEXPLORE_SEGMENTS"}
    for option, variable in names.items():
        value = getattr(args, option, None)
        if value:
            path = Path(value).expanduser()
            if not path.exists():
                raise DashboardStartError(f"--{option}: no such file or folder: {value!r}")
            environment[variable] = str(path.resolve())
    return environment


def wait_until_serving(process: subprocess.Popen, port: int,
                     timeout: float = START_TIMEOUT) -> None:
    """Poll Voilà's static files (which, unlike ``/``, start no kernel) until it answers."""
    url = f"http://{HOST}:{port}/voila/static/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DashboardStartError(
                f"voila stopped before serving (exit status {process.returncode}); "
                "see its messages above")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the server answers, even if with 404
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise DashboardStartError(f"voila did not answer on port {port} within {timeout:.0f} s")


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


#: What Voilà puts in a page whose notebook failed (tracebacks hidden or shown).
_FAILED_PAGE = (
    ("There was an error when executing cell", "a cell of the dashboard failed"),
    ("An exception occurred at the server", "the server failed while running the dashboard"),
    ("Cell execution timed out", "a cell of the dashboard timed out"),
    ("Traceback (most recent call last)", "a cell of the dashboard failed"),
)
_MESSAGE = re.compile(r'<pre class="segexplore-error-message"[^>]*>(.*?)</pre>', re.S)
_KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-fA-F-]{36})"')
#: Voilà 0.5 ships rich outputs as JSON in these scripts (drawn by the page's JavaScript).
_OUTPUT = re.compile(
    r'<script type="application/vnd\.voila\.cell-output\+json">(.*?)</script>', re.S)
_WIDGET = "application/vnd.jupyter.widget-view+json"


def page_outputs(page: str) -> list[dict]:
    """The cell outputs Voilà embedded in a rendered page as JSON.

    Examples
    --------
    >>> page_outputs('<script type="application/vnd.voila.cell-output+json">'
    ...              '{"data": {"text/plain": "1"}, "output_type": "execute_result"}'
    ...              '</script>')
    [{'data': {'text/plain': '1'}, 'output_type': 'execute_result'}]
    """
    outputs = []
    for found in _OUTPUT.finditer(page):
        with contextlib.suppress(ValueError):
            output = json.loads(found.group(1))
            if isinstance(output, dict):
                outputs.append(output)
    return outputs


def page_problem(page: str) -> str | None:
    """Why a rendered dashboard page is not the app, or None when it is.

    The dashboard's own message (see :func:`segexplore.dashboards.error_html`) comes
    first; then Voilà's signs of a failed cell; then a page without the app's widget.

    Examples
    --------
    >>> page_problem('<pre class="segexplore-error-message">no file &#x27;a&#x27;</pre>')
    "no file 'a'"
    >>> page_problem("<pre>There was an error when executing cell [2]. Please...</pre>")
    "a cell of the dashboard failed: see voila's messages above, or run with --show-tracebacks to see it in the page"
    >>> page_problem(f'<script>{_WIDGET}</script>') is None
    True
    """
    outputs = page_outputs(page)
    html_parts = [str(o.get("data", {}).get("text/html", "")) for o in outputs]
    for part in (*html_parts, page):
        found = _MESSAGE.search(part)
        if found:
            return html.unescape(found.group(1)).strip()
    if any(o.get("output_type") == "error" for o in outputs):
        return ("a cell of the dashboard failed: see voila's messages above, or run with "
                "--show-tracebacks to see it in the page")
    for marker, problem in _FAILED_PAGE:
        if marker in page:
            return (f"{problem}: see voila's messages above, or run with --show-tracebacks "
                    "to see it in the page")
    if not any(_WIDGET in o.get("data", {}) for o in outputs) and _WIDGET not in page:
        return "the page shows no app (the notebook displayed no widget)"
    return None


def _page_text(page: str, limit: int = 300) -> str:
    """The visible text of an HTML error page, shortened."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()
    text = text.replace("Voilà requires JavaScript. Please enable it to proceed.", "").strip()
    return text[-limit:]


def check_page(process: subprocess.Popen, port: int,
               timeout: float = RENDER_TIMEOUT) -> None:
    """GET the dashboard once, as a browser would, and fail unless it shows the app.

    The GET makes Voilà start a kernel and run the notebook; the page must hold the app's
    widget and no error (see :func:`page_problem`). That kernel, which no browser will
    connect to, is then shut down as the page itself does when closed.

    Raises
    ------
    DashboardStartError
        With the dashboard's own message (a missing contacts file...), the HTTP error
        (500 when Voilà finds no kernel), or the failed cell.
    """
    url = f"http://{HOST}:{port}/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            page = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", errors="replace")
        raise DashboardStartError(
            f"the dashboard page answers {error.code} {error.reason} "
            f"({_page_text(body)}); see voila's messages above") from None
    except (urllib.error.URLError, OSError) as error:
        if process.poll() is not None:
            raise DashboardStartError(
                f"voila stopped while rendering the dashboard (exit status "
                f"{process.returncode}); see its messages above") from None
        raise DashboardStartError(
            f"the dashboard page did not render ({error}; nothing for {timeout:.0f} s)") \
            from None
    kernel = _KERNEL_ID.search(page)
    if kernel:
        shutdown_kernel(port, kernel.group(1))
    problem = page_problem(page)
    if problem:
        raise DashboardStartError(f"the dashboard does not render: {problem}")


def shutdown_kernel(port: int, kernel_id: str) -> bool:
    """Shut a page's kernel down through Voilà's own endpoint (the one the page calls when
    it is closed); True when Voilà confirmed."""
    # Voilà checks a double-submit XSRF token: the same random value as cookie and header.
    token = secrets.token_hex(16)
    request = urllib.request.Request(
        f"http://{HOST}:{port}/voila/api/shutdown/{kernel_id}", data=b"", method="POST",
        headers={"Cookie": f"_xsrf={token}", "X-XSRFToken": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status < 300
    except (urllib.error.URLError, OSError):
        return False  # the kernel then ends with the server


def wait_until_ready(process: subprocess.Popen, port: int,
                     timeout: float = START_TIMEOUT,
                     render_timeout: float = RENDER_TIMEOUT) -> None:
    """Wait until Voilà serves, then check that the dashboard page really renders."""
    wait_until_serving(process, port, timeout=timeout)
    check_page(process, port, timeout=render_timeout)


def start(notebook_name: str, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """Start Voilà on a shipped dashboard; return the process and the URL once the page
    renders (see :func:`wait_until_ready`)."""
    from segexplore.dashboards import dashboard_path

    notebook = dashboard_path(notebook_name)
    environment = dashboard_environment(args)
    check_kernel(notebook)
    port = args.port if args.port else free_port()
    show_tracebacks = bool(getattr(args, "show_tracebacks", False))
    process = subprocess.Popen(voila_command(notebook, port, show_tracebacks), env=environment,
                               stdin=subprocess.DEVNULL)
    try:
        wait_until_serving(process, port)
        print(f"segexplore {notebook_name.replace('_', ' ')}: loading the data once to "
              "check that the page renders...", file=sys.stderr, flush=True)
        check_page(process, port)
    except BaseException:
        stop(process)
        raise
    return process, f"http://{HOST}:{port}/"


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate Voilà (and so its kernels); kill it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def serve(process: subprocess.Popen) -> int:
    """Wait for the server until it stops, Ctrl+C or SIGTERM; return the exit status.

    Voilà (and its kernels) are stopped on the way out, whatever ends the wait.
    """
    with _sigterm_interrupts():
        try:
            return process.wait() or 0
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises KeyboardInterrupt meanwhile, so ``finally`` blocks stop Voilà (the
    default action would end this process and leave Voilà running)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _run(notebook_name: str, what: str, args: argparse.Namespace) -> int:
    try:
        with _sigterm_interrupts():
            process, url = start(notebook_name, args)  # stops Voilà itself on failure
    except KeyboardInterrupt:
        return 130
    try:
        print(f"segexplore {what}: {url}", flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        if not args.no_browser:
            import webbrowser

            with contextlib.suppress(Exception):
                webbrowser.open(url)
        return serve(process)
    finally:
        stop(process)  # also when printing fails (output pipe closed): no orphan Voilà


def _dashboard(args: argparse.Namespace) -> int:
    return _run("explorer", "explorer", args)


def _report(args: argparse.Namespace) -> int:
    return _run("segment_report", "segment report", args)


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PATH",
                        help="contacts file, or a folder holding contacts/events/orders "
                             "files; default: the bundled sample")
    parser.add_argument("--events", metavar="PATH", help="events file")
    parser.add_argument("--orders", metavar="PATH", help="orders file")
    parser.add_argument("--port", type=int, metavar="N",
                        help=f"port on 127.0.0.1; default: the first free one from "
                             f"{DEFAULT_PORT}")
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the URL, do not open a browser")
    parser.add_argument("--show-tracebacks", action="store_true",
                        help="show Python tracebacks of failed cells in the page "
                             "(for debugging; off by default)")


def register(commands) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="serve the explorer (Voilà) on a base; print its URL",
        description="Start Voilà on the explorer dashboard (Profile, Build, Compare, Export) "
                    "and print its URL. Stop with Ctrl+C.")
    _add_server_arguments(dashboard)
    dashboard.set_defaults(run=_dashboard)

    report = commands.add_parser(
        "report", help="serve the read-only segment report (Voilà); print its URL",
        description="Start Voilà on the segment report (sizes, overlap, differences of "
                    "saved segments, no code shown) and print its URL. Stop with Ctrl+C.")
    _add_server_arguments(report)
    report.add_argument("--segments", metavar="FILE",
                        help="segment catalog (.yaml, see 'segexplore refresh') or JSON "
                             "list of {name, rule, description, parent}; default: example "
                             "segments")
    report.set_defaults(run=_report)
