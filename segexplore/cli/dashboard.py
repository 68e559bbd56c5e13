"""Sub-commands that serve the Voilà dashboards: ``dashboard`` and ``report``.

Both start ``voila`` on a notebook shipped inside the package (see
:mod:`segexplore.dashboards`), on 127.0.0.1, pass the data to the notebook through the
``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS``, ``SEGEXPLORE_ORDERS`` (and
``SEGEXPLORE_SEGMENTS``) environment variables, wait until the server answers, print the
URL and keep serving until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import SegexploreError

#: Voilà's own default port; the first free port from here on is used without ``--port``.
DEFAULT_PORT = 8866
#: Seconds to wait for the server to answer before giving up.
START_TIMEOUT = 60.0
HOST = "127.0.0.1"


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


def voila_command(notebook: str | os.PathLike[str], port: int) -> list[str]:
    """The ``voila`` command line serving ``notebook`` on 127.0.0.1:``port``, sources hidden."""
    return [sys.executable, "-m", "voila", "--no-browser", f"--port={port}",
            f"--Voila.ip={HOST}", "--Voila.port_retries=0", "--strip_sources=True",
            str(notebook)]


def dashboard_environment(args: argparse.Namespace) -> dict[str, str]:
    """This process's environment plus the data paths (absolute: Voilà runs the kernel in
    the notebook's folder)."""
    environment = dict(os.environ)
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


def wait_until_ready(process: subprocess.Popen, port: int,
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


def start(notebook_name: str, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """Start Voilà on a shipped dashboard; return the process and the URL once it answers."""
    from ..dashboards import dashboard_path

    notebook = dashboard_path(notebook_name)
    environment = dashboard_environment(args)
    port = args.port if args.port else free_port()
    process = subprocess.Popen(voila_command(notebook, port), env=environment,
                               stdin=subprocess.DEVNULL)
    try:
        wait_until_ready(process, port)
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
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return process.wait() or 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _run(notebook_name: str, what: str, args: argparse.Namespace) -> int:
    process, url = start(notebook_name, args)
    print(f"segexplore {what}: {url}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    if not args.no_browser:
        import webbrowser

        with contextlib.suppress(Exception):
            webbrowser.open(url)
    return serve(process)


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
